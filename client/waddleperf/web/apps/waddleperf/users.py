"""The Users page (admin): add a user, disable or enable one, change a role, reset a password.
Every form carries py4web's form key; the rules (complexity, the last admin) are
:class:`waddleperf.web.accounts.Accounts`'."""

from __future__ import annotations

from typing import Any

from py4web import URL, action, redirect, response
from py4web.utils.form import Form, FormStyleDefault
from pydal import Field
from pydal.validators import IS_EMAIL, IS_IN_SET, IS_INT_IN_RANGE, IS_NOT_EMPTY

from waddleperf.web.accounts import AccountError
from waddleperf.web.settings import ROLES

from .common import accounts, session
from .guards import me, page_admin
from .login import logout_form

OPERATIONS = ("disable", "enable", "admin", "viewer")


def _forms() -> tuple[Form, Form, Form]:
    add = Form([Field("email", label="E-mail", requires=[IS_NOT_EMPTY(), IS_EMAIL()]),
                Field("name", label="Name"),
                Field("password", "password", label="Password", requires=IS_NOT_EMPTY()),
                Field("role", label="Role", default="viewer", requires=IS_IN_SET(ROLES))],
               form_name="add_user", csrf_session=session, formstyle=FormStyleDefault,
               submit_value="Add user", dbio=False)  # fmt: skip
    change = Form([Field("user_id", "integer", requires=IS_INT_IN_RANGE(1, None)),
                   Field("op", requires=IS_IN_SET(OPERATIONS))],
                  form_name="user_action", csrf_session=session, dbio=False)  # fmt: skip
    reset = Form([Field("user_id", "integer", requires=IS_INT_IN_RANGE(1, None)),
                  Field("password", "password", label="New password", requires=IS_NOT_EMPTY())],
                 form_name="reset_password", csrf_session=session, dbio=False)  # fmt: skip
    return add, change, reset


def _apply(add: Form, change: Form, reset: Form) -> str | None:
    if add.accepted:
        v = add.vars
        accounts.create(
            str(v["email"]), str(v["password"]), str(v["role"]), str(v.get("name") or "")
        )
        return f"Added {str(v['email']).strip().lower()}."
    if change.accepted:
        user_id, op = int(change.vars["user_id"]), str(change.vars["op"])
        user = me()
        if user is not None and user_id == user["id"] and op in ("disable", "viewer"):
            raise AccountError("you cannot disable yourself or drop your own admin role")
        if op in ("disable", "enable"):
            accounts.set_disabled(user_id, op == "disable")
        else:
            accounts.set_role(user_id, op)
        return f"User {user_id}: {op} done."
    if reset.accepted:
        accounts.reset_password(int(reset.vars["user_id"]), str(reset.vars["password"]))
        return f"User {reset.vars['user_id']}: password reset."
    return None


@action("users", method=["GET", "POST"])
@action.uses("users.html", page_admin)
def users() -> dict[str, Any]:
    """The users and the forms that change them."""
    add, change, reset = _forms()
    error = None
    try:
        done = _apply(add, change, reset)
    except AccountError as exc:
        error, done = str(exc), None
        response.status = 400
    if done is not None:
        session["flash_note"] = done
        redirect(URL("users"))
    submitted = any(f.submitted for f in (add, change, reset))
    if error is None and submitted and not any(f.accepted for f in (add, change, reset)):
        response.status = 400
        errors = {**add.errors, **change.errors, **reset.errors}
        error = ("; ".join(f"{k}: {v}" for k, v in errors.items()) if errors
                 else "The form expired or came from another site: reload the page.")  # fmt: skip
    note = session.get("flash_note")
    if note:
        del session["flash_note"]
    return {"page": "users", "logout": logout_form(), "users": accounts.users(), "add": add,
            "change_key": change.formkey, "reset_key": reset.formkey, "error": error,
            "note": note, "operations": OPERATIONS}  # fmt: skip
