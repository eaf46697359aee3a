"""The UI's users: the database, py4web's Auth tables, roles, and what an admin does to them.

One schema for every database the UI runs on (SQLite by default, MariaDB/MySQL or
PostgreSQL by URI), following the Galera rules: every table has a primary key (pydal's
``id``), InnoDB on MySQL (pydal's default engine), no table locks, one short transaction
per request (py4web's DAL fixture commits at the end of it) or per command here.

Roles are tags of ``auth_user`` (pydal's ``Tags``: table ``auth_user_tag_roles``), one of
:data:`~waddleperf.web.settings.ROLES` per user. A disabled user keeps its row with
py4web's ``action_token = "account-blocked"``: Auth refuses its login, and the UI's guard ends
a session it still holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from py4web import DAL
from py4web.utils.auth import Auth
from pydal.tools.tags import Tags

from waddleperf.web.settings import ROLES, UiConfig

BLOCKED = "account-blocked"
#: py4web's own password rule (Auth's default: IS_STRONG by entropy).
PASSWORD_COMPLEXITY: dict[str, Any] = {"entropy": 50}


class AccountError(ValueError):
    """What an admin asked cannot be done; one line."""


@dataclass(frozen=True)
class User:
    """A user as the Users page shows it."""

    id: int
    email: str
    name: str
    role: str
    disabled: bool


def open_db(cfg: UiConfig, pool_size: int = 0) -> DAL:
    """The users' database of ``cfg`` (its folder created first: pydal needs it)."""
    folder = cfg.data_dir / "databases"
    folder.mkdir(parents=True, exist_ok=True)
    uri = cfg.db_uri
    if uri.startswith("sqlite://") and not uri.startswith("sqlite:///"):
        uri = "sqlite://" + str(Path(uri.removeprefix("sqlite://")).name)
    return DAL(uri, folder=str(folder), pool_size=pool_size, migrate=True, lazy_tables=False)


def make_auth(session: Any, db: DAL, idle_s: int = 3600) -> Auth:
    """py4web's Auth over ``db``: email logins, no self-registration, py4web's complexity."""
    auth = Auth(session, db, define_tables=True, use_username=False,
                registration_requires_confirmation=False, password_complexity=PASSWORD_COMPLEXITY,
                login_expiration_time=idle_s, inject=False)  # fmt: skip
    auth.param.allowed_actions = ["login", "logout"]
    return auth


class Accounts:
    """Users and roles in ``db`` (tables defined by :func:`make_auth`)."""

    def __init__(self, db: DAL) -> None:
        self.db = db
        self.roles = Tags(db.auth_user, "roles")

    def _password(self, password: str) -> Any:
        value, error = self.db.auth_user.password.validate(password)
        if error:
            raise AccountError(f"password: {error}")
        return value

    def _row(self, user_id: int) -> Any:
        row = self.db.auth_user(user_id)
        if row is None:
            raise AccountError(f"no user with id {user_id}")
        return row

    def create(self, email: str, password: str, role: str, name: str = "") -> int:
        """A new user; AccountError for a taken or malformed e-mail, a weak password, a
        role that is not admin or viewer."""
        email = email.strip().lower()
        if role not in ROLES:
            raise AccountError(f"role: {role!r} is not one of {', '.join(ROLES)}")
        table = self.db.auth_user
        if self.db(table.email == email).count():
            raise AccountError(f"email: {email} already has an account")
        first = name.strip() or email.partition("@")[0] or email
        crypted = self._password(password)
        result = table.validate_and_insert(email=email, first_name=first, last_name="-")
        if result.get("errors"):
            field, why = next(iter(result["errors"].items()))
            raise AccountError(f"{field}: {why}")
        user_id = int(result["id"])
        self.db(table.id == user_id).update(password=crypted)
        self.roles.add(user_id, role)
        self.db.commit()
        return user_id

    def role(self, user_id: int) -> str | None:
        """The user's role (None: none, which grants nothing)."""
        return _role_of(self.roles.get(user_id))

    def set_role(self, user_id: int, role: str) -> None:
        """Give ``user_id`` exactly ``role``."""
        if role not in ROLES:
            raise AccountError(f"role: {role!r} is not one of {', '.join(ROLES)}")
        self._row(user_id)
        if role != "admin" and self.role(user_id) == "admin":
            self._keep_an_admin(user_id)
        self.roles.remove(user_id, [r for r in ROLES if r != role])
        self.roles.add(user_id, role)
        self.db.commit()

    def _keep_an_admin(self, leaving: int) -> None:
        others = [
            u for u in self.users() if u.role == "admin" and not u.disabled and u.id != leaving
        ]
        if not others:
            raise AccountError("the last active admin cannot be disabled or made a viewer")

    def set_disabled(self, user_id: int, disabled: bool) -> None:
        """Disable (no login, its session ends) or enable a user."""
        self._row(user_id)
        if disabled and self.role(user_id) == "admin":
            self._keep_an_admin(user_id)
        self.db(self.db.auth_user.id == user_id).update(action_token=BLOCKED if disabled else None)
        self.db.commit()

    def reset_password(self, user_id: int, password: str) -> None:
        """Set a new password (py4web's complexity rules)."""
        self._row(user_id)
        crypted = self._password(password)
        self.db(self.db.auth_user.id == user_id).update(password=crypted)
        self.db.commit()

    def is_active(self, user_id: int) -> bool:
        """Whether the user exists and is not disabled."""
        user = self.get(user_id)
        return user is not None and not user.disabled

    def _select(self, query: Any) -> list[User]:
        """The users matching ``query`` with their roles: one query (a left join on the
        role tags), by e-mail."""
        table, tags = self.db.auth_user, self.roles.tag_table
        rows = self.db(query).select(
            table.id, table.email, table.first_name, table.action_token, tags.tagpath,
            left=tags.on((tags.record_id == table.id) & tags.tagpath.belongs(
                [f"/{r}/" for r in ROLES])),
            orderby=table.email | table.id)  # fmt: skip
        found: dict[int, tuple[Any, set[str]]] = {}
        for row in rows:
            user_id = int(row.auth_user.id)
            entry = found.setdefault(user_id, (row.auth_user, set()))
            path = row[tags._tablename].tagpath
            if path:
                entry[1].add(path.strip("/"))
        return [User(uid, r.email, r.first_name or "", _role_of(roles) or "none",
                     r.action_token == BLOCKED) for uid, (r, roles) in found.items()]  # fmt: skip

    def get(self, user_id: int) -> User | None:
        """The user ``user_id`` with its role (one query), or None."""
        found = self._select(self.db.auth_user.id == int(user_id))
        return found[0] if found else None

    def users(self) -> list[User]:
        """Every user, by e-mail."""
        return self._select(self.db.auth_user.id > 0)

    def find(self, email: str) -> User | None:
        """The user with ``email``."""
        found = self._select(self.db.auth_user.email == email.strip().lower())
        return found[0] if found else None


def _role_of(tags: set[str] | list[str]) -> str | None:
    """The role a user's tags grant: admin over viewer; None for none."""
    found = [r for r in tags if r in ROLES]
    return "admin" if "admin" in found else (found[0] if found else None)
