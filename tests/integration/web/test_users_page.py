"""The Users page (admin): add, role, disable/enable, reset password — py4web forms with form
keys; py4web's password rule; the last admin stays."""

from __future__ import annotations

from tests.integration.web.conftest import PASSWORD, Ui
from tests.support.wsgi_client import Reply, WsgiClient

USERS = "/waddleperf/users"


def _post(client: WsgiClient, form: str, **fields: str) -> Reply:
    page = client.get(USERS)
    return client.post_form(USERS, {"_formname": form, "_formkey": page.formkey(form), **fields})


def test_add_change_disable_and_reset(ui: Ui) -> None:
    client, _ = ui.logged_in(ui.admin, "127.0.8.1")
    weak = _post(client, "add_user", email="new@example.com", password="password", role="viewer")
    assert weak.status == 400 and "too simple" in weak.text.lower()
    added = _post(client, "add_user", email="New@Example.com", name="New One",
                  password=PASSWORD, role="viewer")  # fmt: skip
    assert added.status == 303
    page = client.get(USERS)
    assert "Added new@example.com." in page.text and 'data-email="new@example.com"' in page.text
    twice = _post(client, "add_user", email="new@example.com", password=PASSWORD, role="viewer")
    assert twice.status == 400 and "already has an account" in twice.text
    user = ui.accounts.find("new@example.com")
    assert user is not None and user.role == "viewer"
    assert _post(client, "user_action", user_id=str(user.id), op="admin").status == 303
    assert ui.accounts.role(user.id) == "admin"
    assert _post(client, "user_action", user_id=str(user.id), op="disable").status == 303
    assert not ui.accounts.is_active(user.id)
    assert ui.client("127.0.8.2").login("new@example.com", PASSWORD).status == 401
    assert _post(client, "user_action", user_id=str(user.id), op="enable").status == 303
    new_password = "Another-Horse-Staple-7?"
    assert (
        _post(client, "reset_password", user_id=str(user.id), password=new_password).status == 303
    )
    assert ui.client("127.0.8.3").login("new@example.com", PASSWORD).status == 401
    assert ui.client("127.0.8.3").login("new@example.com", new_password).status == 303


def test_forms_need_their_key_and_an_admin_keeps_their_role(ui: Ui) -> None:
    client, _ = ui.logged_in(ui.admin, "127.0.8.4")
    forged = client.post_form(USERS, {"_formname": "add_user", "_formkey": "x",
                                      "email": "forged@example.com", "password": PASSWORD,
                                      "role": "admin"})  # fmt: skip
    assert forged.status == 400 and ui.accounts.find("forged@example.com") is None
    me = ui.accounts.find(ui.admin)
    assert me is not None
    selfish = _post(client, "user_action", user_id=str(me.id), op="disable")
    assert selfish.status == 400 and "cannot disable yourself" in selfish.text
    bad = _post(client, "user_action", user_id=str(me.id), op="delete-everything")
    assert bad.status == 400 and ui.accounts.is_active(me.id)
