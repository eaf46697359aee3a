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


def test_user_reads_are_one_query_each(accounts: tuple[Accounts, object]) -> None:
    """The guard reads the session's user on every request, the Users page lists them all:
    each is one query (row and role joined), however many users there are."""
    acc, _ = accounts
    acc.create("a@example.com", GOOD, "admin")
    ids = [acc.create(f"u{i}@example.com", GOOD, "viewer") for i in range(12)]
    acc.set_disabled(ids[3], True)
    acc.set_role(ids[5], "admin")
    acc.roles.add(ids[7], "unrelated-tag")  # a tag that is not a role grants nothing
    db = acc.db
    db._timings.clear()  # pydal keeps the last 100 statements
    listed = acc.users()
    one = acc.get(ids[5])
    gone = acc.get(99_999)
    found = acc.find(" U3@example.com ")
    selects = [sql for sql, _ in db._timings if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 4, selects
    assert [u.email for u in listed] == sorted(u.email for u in listed) and len(listed) == 13
    roles = {u.email: u.role for u in listed}
    assert roles["u5@example.com"] == "admin" and roles["u7@example.com"] == "viewer"
    assert [u.email for u in listed if u.disabled] == ["u3@example.com"]
    assert one is not None and one.email == "u5@example.com"
    assert one.role == "admin" and not one.disabled
    assert gone is None and found is not None and found.disabled and found.id == ids[3]
    assert not acc.is_active(ids[3]) and acc.is_active(ids[4]) and not acc.is_active(99_999)
