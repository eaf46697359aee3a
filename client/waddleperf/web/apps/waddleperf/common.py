"""What every controller of the app shares: the runtime, the database, session and Auth."""

from __future__ import annotations

from py4web import Session

from waddleperf.web import accounts as _accounts
from waddleperf.web.runtime import current
from waddleperf.web.secret import session_secret

runtime = current()
#: One connection per request thread from a pool (MySQL, PostgreSQL); SQLite opens its own.
db = _accounts.open_db(runtime.ui, pool_size=0 if runtime.ui.db_uri.startswith("sqlite") else 8)
session = Session(secret=session_secret(runtime.ui.data_dir), expiration=runtime.ui.session_idle_s,
                  same_site="Strict", name="waddleperf_session")  # fmt: skip
auth = _accounts.make_auth(session, db, runtime.ui.session_idle_s)
accounts = _accounts.Accounts(db)
db.commit()
