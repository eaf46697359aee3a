"""Serve a target with gunicorn (never a reloading dev server), or run its Celery worker.

    python -m targets.serve flask --bind 127.0.0.1:8001 --workers 2
    python -m targets.serve django --bind 127.0.0.1:8002
    python -m targets.serve celery-flask        # needs CELERY_BROKER_URL

The database schema is prepared here, once, before gunicorn forks its workers, so workers never
race to create it. Run from the repository root (or pass --root).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = {"flask": "targets.flask_app.wsgi:app", "django": "targets.django_app.wsgi:application"}


def prepare_database(framework: str) -> None:
    """Create the TestData table: Django migrations, or the Flask app's DDL."""
    if framework == "django":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "targets.django_app.settings")
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
    else:
        from targets.flask_app import db

        db.ensure_schema()


def gunicorn_argv(framework: str, bind: str, workers: int, threads: int, root: Path) -> list[str]:
    """gunicorn's command line for ``framework`` (gthread workers: keep-alive, no reloader)."""
    exe = Path(sys.executable).with_name("gunicorn")
    return [
        str(exe),
        APPS[framework],
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--pythonpath",
        str(root),
        "--access-logfile",
        "-" if os.environ.get("TARGET_ACCESS_LOG") else "/dev/null",
        "--error-logfile",
        "-",
        "--graceful-timeout",
        "5",
        "--backlog",
        "2048",
        # one control socket per user by default: parallel targets would fight over it
        "--no-control-socket",
    ]


def celery_argv(framework: str, root: Path) -> list[str]:
    """The Celery worker's command line (solo pool: one process, predictable CPU)."""
    exe = Path(sys.executable).with_name("celery")
    return [
        str(exe),
        "--workdir",
        str(root),
        "-A",
        f"targets.{framework}_app.tasks",
        "worker",
        "--pool",
        "solo",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m targets.serve", description=__doc__)
    parser.add_argument("what", choices=[*APPS, "celery-flask", "celery-django"])
    parser.add_argument("--bind", default="127.0.0.1:8000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.root))
    if args.what.startswith("celery-"):
        framework = args.what.removeprefix("celery-")
        if not os.environ.get("CELERY_BROKER_URL"):
            parser.error("CELERY_BROKER_URL is not set")
        prepare_database(framework)
        cmd = celery_argv(framework, args.root)
    else:
        prepare_database(args.what)
        cmd = gunicorn_argv(args.what, args.bind, args.workers, args.threads, args.root)
    # exec: the pid the caller holds becomes gunicorn's master, so signals reach it directly
    os.execv(cmd[0], cmd)  # noqa: S606  (an argument list, no shell)


if __name__ == "__main__":
    main()
