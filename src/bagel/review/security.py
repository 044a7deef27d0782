"""Who is asking, and may they change anything: sessions, reviewer tokens, CSRF.

- A session is a signed cookie (HMAC-SHA256 with the store's secret) holding a random session id
  and, after login, the reviewer's name; it is HttpOnly and SameSite=Lax (Strict would drop the
  session when a reviewer follows a link to an item from another site; writes are guarded by the
  CSRF checks below, not by SameSite).
- Loopback mode (the default, server on 127.0.0.1): reviewers log in by name; requests must carry
  a loopback Host header, so a web page on another site cannot reach the server through DNS
  rebinding.
- Token mode (any other address): a reviewer logs in with their token, or sends it as
  ``Authorization: Bearer <token>``; nothing but the login page answers without one.
- Every state-changing request is a JSON POST (a cross-site HTML form cannot send one without a
  CORS preflight, which this server never grants), its Origin / Sec-Fetch-Site headers when
  present must name this server, and a cookie session must also echo its CSRF token in the
  ``X-CSRF-Token`` header (bearer-token requests carry no ambient credential, so they need none).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass

from bagel.review.store import IMPORTED, ReviewStore, hash_token

COOKIE = "bagel_session"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    """Whether a server bound to ``host`` can only be reached from this machine."""
    h = host.strip("[]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


class Refused(Exception):
    """A request refused for security reasons: ``status`` (401, 403, 415, 400) and a reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Session:
    sid: str
    reviewer: str | None = None
    token_tag: str | None = None  # first characters of the token hash the login used
    fresh: bool = False  # set a cookie on the response


@dataclass
class Caller:
    reviewer: str | None
    session: Session
    bearer: bool = False


class Guard:
    """Session signing and the checks of every request, for one server."""

    def __init__(self, store: ReviewStore, require_tokens: bool):
        self.store = store
        self.require_tokens = require_tokens
        self.secret = store.secret()
        self._tags: tuple[float, dict[str, str]] = (0.0, {})

    # ---- cookies --------------------------------------------------------------------------------
    def _sign(self, payload: bytes) -> str:
        return hmac.new(self.secret, payload, hashlib.sha256).hexdigest()

    def encode(self, s: Session) -> str:
        payload = base64.urlsafe_b64encode(json.dumps({"sid": s.sid, "r": s.reviewer, "t": s.token_tag}).encode())
        return payload.decode() + "." + self._sign(payload)

    def decode(self, value: str | None) -> Session | None:
        if not value or "." not in value:
            return None
        payload, sig = value.rsplit(".", 1)
        if not hmac.compare_digest(self._sign(payload.encode()), sig):
            return None
        try:
            d = json.loads(base64.urlsafe_b64decode(payload.encode()))
            return Session(str(d["sid"]), d.get("r"), d.get("t"))
        except (ValueError, KeyError, TypeError):
            return None

    def new_session(self, reviewer: str | None = None, token_tag: str | None = None) -> Session:
        return Session(secrets.token_hex(16), reviewer, token_tag, fresh=True)

    def csrf_token(self, s: Session) -> str:
        return self._sign(b"csrf|" + s.sid.encode())[:40]

    # ---- tokens ---------------------------------------------------------------------------------
    def _token_tags(self) -> dict[str, str]:
        """reviewer -> tag of their current token hash (cached 2 s: a new token ends old sessions)."""
        at, tags = self._tags
        if time.monotonic() - at > 2:
            tags = {}
            from sqlalchemy import select
            from bagel.review.store import reviewers
            with self.store.engine.connect() as c:
                for r in c.execute(select(reviewers.c.name, reviewers.c.token_hash).where(reviewers.c.token_hash.is_not(None))):
                    tags[r.name] = r.token_hash[:16]
            self._tags = (time.monotonic(), tags)
        return tags

    def login(self, name: str, token: str | None) -> Session:
        """A logged-in session for ``name``, or Refused. Token mode checks the token; loopback mode
        takes the name (creating the reviewer)."""
        if name == IMPORTED:
            raise Refused(403, f"{IMPORTED!r} holds imported expert verdicts; log in under your own name")
        if self.require_tokens:
            who = self.store.reviewer_for_token(token or "")
            if who is None or who != name:
                raise Refused(401, "unknown reviewer or wrong token")
            return self.new_session(name, hash_token(token)[:16])
        self.store.add_reviewer(name)
        return self.new_session(name)

    # ---- per-request checks ---------------------------------------------------------------------
    def caller(self, headers: dict[str, str], cookie: str | None) -> Caller:
        """Who sent a request (headers lower-cased). Never refuses by itself; `require_reviewer`
        and `check_write` do."""
        session = self.decode(cookie) or self.new_session()
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            who = self.store.reviewer_for_token(auth[7:].strip())
            if who is None:
                raise Refused(401, "invalid token")
            return Caller(who, session, bearer=True)
        reviewer = session.reviewer
        if reviewer and self.require_tokens and self._token_tags().get(reviewer) != session.token_tag:
            reviewer = None  # token changed or removed since this session logged in
        return Caller(reviewer, session)

    def check_host(self, headers: dict[str, str]) -> None:
        if self.require_tokens:
            return
        host = headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:host.find("]")]
        if name not in LOOPBACK_NAMES:
            raise Refused(400, f"Host {host!r} is not a loopback name (this server only answers on loopback)")

    def check_write(self, method: str, headers: dict[str, str], scheme: str, caller: Caller) -> None:
        """The CSRF defences of a state-changing request."""
        if method != "POST":
            raise Refused(405, "state changes use POST")
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise Refused(415, "expected a JSON body (Content-Type: application/json)")
        origin = headers.get("origin")
        if origin is not None and origin != f"{scheme}://{headers.get('host', '')}":
            raise Refused(403, f"cross-origin request from {origin!r} refused")
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise Refused(403, f"cross-site request ({site}) refused")
        if caller.bearer:
            return
        sent = headers.get("x-csrf-token", "")
        if not sent or not hmac.compare_digest(sent, self.csrf_token(caller.session)):
            raise Refused(403, "missing or wrong CSRF token (reload the page)")

    def require_reviewer(self, caller: Caller) -> str:
        if not caller.reviewer:
            raise Refused(401, "log in first")
        return caller.reviewer
