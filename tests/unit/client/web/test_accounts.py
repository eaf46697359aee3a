"""Users and roles on SQLite (the MariaDB run is in tests/integration/web)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from waddleperf.web.accounts import AccountError, Accounts, make_auth, open_db
from waddleperf.web.settings import UiConfig

GOOD = "Correct-Horse-Battery-9!"


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[tuple[Accounts, object]]:
    db = open_db(UiConfig(data_dir=tmp_path))
    auth = make_auth(None, db)
    try:
        yield Accounts(db), auth
    finally:
        db.close()


def test_create_roles_and_login(accounts: tuple[Accounts, object]) -> None:
    acc, auth = accounts
    admin = acc.create(" Admin@Example.com ", GOOD, "admin")
    viewer = acc.create("v@example.com", GOOD, "viewer", name="Vera")
    assert [(u.email, u.role, u.name) for u in acc.users()] == [
        ("admin@example.com", "admin", "admin"),
        ("v@example.com", "viewer", "Vera"),
    ]
    assert auth.login("admin@example.com", GOOD)[1] is None  # type: ignore[attr-defined]
    assert auth.login("admin@example.com", "nope")[0] is None  # type: ignore[attr-defined]
    acc.set_role(viewer, "admin")
    assert acc.role(viewer) == "admin"
    acc.set_role(viewer, "viewer")
    assert acc.role(viewer) == "viewer" and acc.role(admin) == "admin"


def test_refusals(accounts: tuple[Accounts, object]) -> None:
    acc, _ = accounts
    with pytest.raises(AccountError, match="too simple"):
        acc.create("a@example.com", "password1", "admin")
    with pytest.raises(AccountError, match="role"):
        acc.create("a@example.com", GOOD, "root")
    with pytest.raises(AccountError, match="email"):
        acc.create("not-an-email", GOOD, "viewer")
    admin = acc.create("a@example.com", GOOD, "admin")
    with pytest.raises(AccountError, match="already has an account"):
        acc.create("A@example.com", GOOD, "viewer")
    with pytest.raises(AccountError, match="last active admin"):
        acc.set_disabled(admin, True)
    with pytest.raises(AccountError, match="last active admin"):
        acc.set_role(admin, "viewer")
    with pytest.raises(AccountError, match="no user"):
        acc.reset_password(999, GOOD)
    with pytest.raises(AccountError, match="too simple"):
        acc.reset_password(admin, "abc")


def test_disable_blocks_login(accounts: tuple[Accounts, object]) -> None:
    acc, auth = accounts
    acc.create("a@example.com", GOOD, "admin")
    viewer = acc.create("v@example.com", GOOD, "viewer")
    acc.set_disabled(viewer, True)
    assert not acc.is_active(viewer)
    assert auth.login("v@example.com", GOOD)[1] == "Account is blocked"  # type: ignore[attr-defined]
    acc.set_disabled(viewer, False)
    assert acc.is_active(viewer) and auth.login("v@example.com", GOOD)[1] is None  # type: ignore[attr-defined]
    acc.reset_password(viewer, "Another-Horse-Staple-7?")
    assert auth.login("v@example.com", GOOD)[0] is None  # type: ignore[attr-defined]
