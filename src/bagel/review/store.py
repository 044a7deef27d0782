"""The review store: every read and write of review state (reviewers, verdicts, guides,
resolutions, settings) goes through `ReviewStore`, so the web app, the CLI and the tests share one
tested implementation and the database behind it can change (SQLite today, PostgreSQL later) by
changing the URL only.

Verdicts are an append-only history (`review_verdicts`): every save, undo and import is one row
holding the full judgement after that action, numbered per (reviewer, model, key) by ``seq``
(unique together), so the latest row wins and nothing is ever overwritten. `review_state` mirrors
the latest row of each (reviewer, model, key), written in the same transaction, so queues and
consensus read one small row per item instead of scanning the history. Each write carries an
idempotency key (``idem``, unique): a client that retries after a lost reply or a server crash
gets the row it already has, never a second one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import (Boolean, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, bindparam, create_engine, event, func, select, text)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bagel.errors import BagelError
from bagel.mistakes.taxonomy import Judgement

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
IMPORTED = "imported"

metadata = MetaData()

reviewers = Table(
    "review_reviewers", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("token_hash", String(64)),  # sha256 hex of the token; the token itself is never stored
    Column("created", Float, nullable=False),
)

verdicts = Table(
    "review_verdicts", metadata,
    Column("id", Integer, primary_key=True),
    Column("reviewer_id", Integer, ForeignKey("review_reviewers.id"), nullable=False),
    Column("model", String(200), nullable=False),
    Column("key", String(500), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("idem", String(100), nullable=False, unique=True),
    Column("action", String(10), nullable=False),  # judge | undo | import
    Column("undoes", Integer),  # id of the row an undo reverts
    Column("prediction", Integer),  # the top-1 class judged (exports need it; tables may change)
    Column("verdict", String(10)),  # NULL after undoing a first judgement: unreviewed again
    Column("problematic", Boolean, nullable=False, default=False),
    Column("severity", String(12)),
    Column("category", String(20)),
    Column("note", Text, nullable=False, default=""),
    Column("created", Float, nullable=False),
    UniqueConstraint("reviewer_id", "model", "key", "seq", name="uq_review_verdict_seq"),
    Index("ix_review_verdicts_reviewer", "reviewer_id", "model", "id"),
)

state = Table(
    "review_state", metadata,
    Column("reviewer_id", Integer, ForeignKey("review_reviewers.id"), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("key", String(500), primary_key=True),
    Column("verdict_id", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("prediction", Integer),
    Column("verdict", String(10)),
    Column("problematic", Boolean, nullable=False, default=False),
    Column("severity", String(12)),
    Column("category", String(20)),
    Column("note", Text, nullable=False, default=""),
    Column("updated", Float, nullable=False),
    Index("ix_review_state_model_key", "model", "key"),
    Index("ix_review_state_progress", "reviewer_id", "model", "verdict"),
)

resolutions = Table(
    "review_resolutions", metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(200), nullable=False),
    Column("key", String(500), nullable=False),
    Column("resolver_id", Integer, ForeignKey("review_reviewers.id"), nullable=False),
    Column("idem", String(100), nullable=False, unique=True),
    Column("prediction", Integer),
    Column("verdict", String(10), nullable=False),
    Column("problematic", Boolean, nullable=False, default=False),
    Column("severity", String(12)),
    Column("category", String(20)),
    Column("note", Text, nullable=False, default=""),
    Column("created", Float, nullable=False),
    Index("ix_review_resolutions_key", "model", "key", "id"),
)

guides = Table(
    "review_guides", metadata,
    Column("id", Integer, primary_key=True),
    Column("class_id", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("author", String(40), nullable=False),
    Column("created", Float, nullable=False),
    UniqueConstraint("class_id", "version", name="uq_review_guide_version"),
)

settings = Table(
    "review_settings", metadata,
    Column("name", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)

JUDGEMENT_FIELDS = ("verdict", "problematic", "severity", "category", "note")

# The hot paths (every 'next item' and 'save verdict') use these prepared textual statements:
# building an equivalent Core select per call costs 3-6x more CPU in SQLAlchemy than the query
# itself. Plain SQL with named binds, valid for SQLite and PostgreSQL alike.
_CURRENT = ("SELECT r.name AS reviewer, s.key, s.prediction, s.verdict, s.problematic, s.severity, s.category, s.note, s.seq, s.updated"
            " FROM review_state s JOIN review_reviewers r ON r.id = s.reviewer_id WHERE s.model = :model AND s.verdict IS NOT NULL")
SQL_CURRENT_KEYS = text(_CURRENT + " AND s.key IN :keys").bindparams(bindparam("keys", expanding=True))
SQL_CURRENT_ALL = text(_CURRENT)
SQL_CURRENT_REVIEWER = text(_CURRENT + " AND s.reviewer_id = :rid")
SQL_PROGRESS = text("SELECT count(*) FROM review_state WHERE reviewer_id = :rid AND model = :model AND verdict IS NOT NULL")
SQL_BY_IDEM = text("SELECT id, seq, reviewer_id, model, key FROM review_verdicts WHERE idem = :idem")
SQL_STATE_OF = text("SELECT seq, prediction FROM review_state WHERE reviewer_id = :rid AND model = :model AND key = :key")
SQL_INSERT_VERDICT = text(
    "INSERT INTO review_verdicts (reviewer_id, model, key, seq, idem, action, undoes, prediction, verdict, problematic, severity,"
    " category, note, created) VALUES (:rid, :model, :key, :seq, :idem, :action, :undoes, :prediction, :verdict, :problematic,"
    " :severity, :category, :note, :created) RETURNING id")
SQL_INSERT_STATE = text(
    "INSERT INTO review_state (reviewer_id, model, key, verdict_id, seq, prediction, verdict, problematic, severity, category, note,"
    " updated) VALUES (:rid, :model, :key, :vid, :seq, :prediction, :verdict, :problematic, :severity, :category, :note, :created)")
SQL_UPDATE_STATE = text(
    "UPDATE review_state SET verdict_id = :vid, seq = :seq, prediction = :prediction, verdict = :verdict, problematic = :problematic,"
    " severity = :severity, category = :category, note = :note, updated = :created"
    " WHERE reviewer_id = :rid AND model = :model AND key = :key")
SQL_REVIEWER_ID = text("SELECT id FROM review_reviewers WHERE name = :name")


class Conflict(BagelError):
    """A write based on stale data (a guide edited meanwhile) or an idempotency key reused for
    different content; the web app answers 409."""


@dataclass
class Recorded:
    """The outcome of one verdict write: the history row's id and seq, and whether it already
    existed (a retried request)."""

    id: int
    seq: int
    key: str
    duplicate: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise BagelError(f"reviewer name {name!r}: expected 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


def _judged(r) -> dict:
    d = dict(r._mapping)
    d["problematic"] = bool(d["problematic"])  # textual SQL returns SQLite's 0/1
    return d


def _judgement_row(j: Judgement) -> dict:
    return {"verdict": j.verdict, "problematic": bool(j.problematic), "severity": j.severity, "category": j.category,
            "note": j.note or ""}


class ReviewStore:
    """Review state in one SQL database (``url``: an SQLAlchemy URL; ``sqlite:///WS/bagel.sqlite``
    for a workspace). Thread-safe: one instance serves every request of a server."""

    def __init__(self, url: str):
        self.url = url
        self.sqlite = url.startswith("sqlite")
        # Writers queue on this lock inside one process instead of in SQLite's busy handler, whose
        # sleeps (up to 100 ms) would dominate latency under concurrent reviewers. Other processes
        # are still serialized by BEGIN IMMEDIATE and the busy timeout.
        self._write_lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self.engine = self._make_engine(url)
        metadata.create_all(self.engine)

    @classmethod
    def for_workspace(cls, ws) -> "ReviewStore":
        return cls(f"sqlite:///{ws.db_path}")

    def _make_engine(self, url: str) -> Engine:
        if not self.sqlite:
            return create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)
        engine = create_engine(url, pool_size=16, max_overflow=16, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_con, _record):
            # Let SQLAlchemy's events issue BEGIN (pysqlite's implicit transactions would defer the
            # write lock to the first INSERT and could fail with SQLITE_BUSY on lock upgrade).
            dbapi_con.isolation_level = None
            cur = dbapi_con.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives a killed process (it is in the WAL file); only
            # an OS crash or power loss may lose the last transactions. FULL would fsync each verdict.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

        return engine

    def close(self) -> None:
        self.engine.dispose()

    # ---- transactions ---------------------------------------------------------------------------
    def _read(self):
        return self.engine.connect()

    class _Writer:
        def __init__(self, store: "ReviewStore"):
            self.store = store

        def __enter__(self) -> Connection:
            self.store._write_lock.acquire()
            try:
                self.conn = self.store.engine.connect()
                self.conn.info["write"] = True
                self.tx = self.conn.begin()
            except BaseException:
                self.store._write_lock.release()
                raise
            return self.conn

        def __exit__(self, exc_type, exc, tb):
            try:
                if exc_type is None:
                    self.tx.commit()
                else:
                    self.tx.rollback()
            finally:
                self.conn.info.pop("write", None)
                self.conn.close()
                self.store._write_lock.release()

    def _write(self) -> "_Writer":
        return ReviewStore._Writer(self)

    # ---- settings -------------------------------------------------------------------------------
    def secret(self) -> bytes:
        """A random server secret, kept in the database so sessions and CSRF tokens survive a
        restart (and are shared by several server processes on one database)."""
        with self._read() as c:
            v = c.execute(select(settings.c.value).where(settings.c.name == "secret")).scalar()
        if v is None:
            try:
                with self._write() as c:
                    c.execute(settings.insert().values(name="secret", value=secrets.token_hex(32)))
            except IntegrityError:
                pass  # another process created it first
            with self._read() as c:
                v = c.execute(select(settings.c.value).where(settings.c.name == "secret")).scalar()
        return bytes.fromhex(v)

    # ---- reviewers ------------------------------------------------------------------------------
    def add_reviewer(self, name: str, with_token: bool = False) -> str | None:
        """Create reviewer ``name`` (no-op when it exists); with ``with_token`` give it a new token,
        returned once (only its hash is stored)."""
        check_name(name)
        token = secrets.token_urlsafe(24) if with_token else None
        with self._write() as c:
            rid = c.execute(select(reviewers.c.id).where(reviewers.c.name == name)).scalar()
            if rid is None:
                c.execute(reviewers.insert().values(name=name, token_hash=hash_token(token) if token else None, created=time.time()))
            elif token:
                c.execute(reviewers.update().where(reviewers.c.id == rid).values(token_hash=hash_token(token)))
        return token

    def reviewer_id(self, name: str, create: bool = False) -> int:
        rid = self._ids.get(name)  # ids never change once given, so they can be cached
        if rid is not None:
            return rid
        with self._read() as c:
            rid = c.execute(SQL_REVIEWER_ID, {"name": name}).scalar()
        if rid is None:
            if not create:
                raise BagelError(f"unknown reviewer {name!r}")
            self.add_reviewer(name)
            return self.reviewer_id(name)
        self._ids[name] = int(rid)
        return int(rid)

    def reviewers(self) -> list[dict]:
        with self._read() as c:
            rows = c.execute(select(reviewers.c.id, reviewers.c.name, reviewers.c.token_hash, reviewers.c.created)
                             .order_by(reviewers.c.name)).all()
        return [{"id": r.id, "name": r.name, "has_token": r.token_hash is not None, "created": r.created} for r in rows]

    def has_tokens(self) -> bool:
        with self._read() as c:
            return bool(c.execute(select(func.count()).select_from(reviewers).where(reviewers.c.token_hash.is_not(None))).scalar())

    def reviewer_for_token(self, token: str) -> str | None:
        """The reviewer whose token this is, else None (compared as hashes, in constant time)."""
        if not token:
            return None
        h = hash_token(token)
        with self._read() as c:
            rows = c.execute(select(reviewers.c.name, reviewers.c.token_hash).where(reviewers.c.token_hash.is_not(None))).all()
        found = None
        for r in rows:
            if hmac.compare_digest(r.token_hash, h):
                found = r.name
        return found

    # ---- verdicts -------------------------------------------------------------------------------
    def record(self, reviewer: str, model: str, key: str, judgement: Judgement, *, prediction: int | None = None,
               idem: str | None = None, action: str = "judge", create_reviewer: bool = False) -> Recorded:
        """Append one judgement of ``key`` by ``reviewer`` and make it the current one.

        idem: the client's idempotency key; a second call with the same key returns the first
        row (``duplicate=True``) and writes nothing. Without one a fresh key is drawn.
        """
        rid = self.reviewer_id(reviewer, create=create_reviewer)
        idem = idem or secrets.token_hex(16)
        if len(idem) > 100:
            raise BagelError("idempotency key: expected at most 100 characters")
        done = self._existing(idem, rid, model, key)
        if done:
            return done
        values = _judgement_row(judgement)
        try:
            with self._write() as c:
                return self._append(c, rid, model, key, values, prediction, idem, action, None)
        except IntegrityError:
            done = self._existing(idem, rid, model, key)  # the same request raced in from a retry
            if done:
                return done
            raise

    def _existing(self, idem: str, rid: int, model: str, key: str) -> Recorded | None:
        with self._read() as c:
            r = c.execute(SQL_BY_IDEM, {"idem": idem}).first()
        if r is None:
            return None
        if (r.reviewer_id, r.model, r.key) != (rid, model, key):
            raise Conflict(f"idempotency key {idem!r} was already used for another verdict")
        return Recorded(r.id, r.seq, r.key, True)

    def _append(self, c: Connection, rid: int, model: str, key: str, values: dict, prediction, idem: str,
                action: str, undoes: int | None) -> Recorded:
        p = {"rid": rid, "model": model, "key": key, "created": time.time(), **values}
        cur = c.execute(SQL_STATE_OF, p).first()
        p["seq"] = (cur.seq if cur else 0) + 1
        p["prediction"] = cur.prediction if prediction is None and cur is not None else prediction
        p["vid"] = c.execute(SQL_INSERT_VERDICT, {**p, "idem": idem, "action": action, "undoes": undoes}).scalar_one()
        c.execute(SQL_INSERT_STATE if cur is None else SQL_UPDATE_STATE, p)
        return Recorded(int(p["vid"]), p["seq"], key, False)

    def undo(self, reviewer: str, model: str, idem: str | None = None) -> Recorded | None:
        """Revert ``reviewer``'s latest judgement in ``model`` not yet undone (repeatable: each call
        goes one step further back). The revert is itself a history row restoring the judgement
        the item had before; None when there is nothing to undo."""
        rid = self.reviewer_id(reviewer)
        idem = idem or secrets.token_hex(16)
        with self._read() as c:
            r = c.execute(select(verdicts.c.id, verdicts.c.seq, verdicts.c.key).where(verdicts.c.idem == idem)).first()
        if r is not None:
            return Recorded(r.id, r.seq, r.key, True)
        try:
            with self._write() as c:
                undone = select(verdicts.c.undoes).where((verdicts.c.reviewer_id == rid) & (verdicts.c.model == model)
                                                         & verdicts.c.undoes.is_not(None))
                target = c.execute(select(verdicts.c.id, verdicts.c.key, verdicts.c.seq).where(
                    (verdicts.c.reviewer_id == rid) & (verdicts.c.model == model) & (verdicts.c.action == "judge")
                    & verdicts.c.id.not_in(undone)).order_by(verdicts.c.id.desc()).limit(1)).first()
                if target is None:
                    return None
                before = c.execute(select(*[verdicts.c[f] for f in JUDGEMENT_FIELDS]).where(
                    (verdicts.c.reviewer_id == rid) & (verdicts.c.model == model) & (verdicts.c.key == target.key)
                    & (verdicts.c.seq == target.seq - 1))).first()
                values = dict(before._mapping) if before else {"verdict": None, "problematic": False, "severity": None,
                                                                "category": None, "note": ""}
                return self._append(c, rid, model, target.key, values, None, idem, "undo", target.id)
        except IntegrityError:
            with self._read() as c:
                r = c.execute(select(verdicts.c.id, verdicts.c.seq, verdicts.c.key).where(verdicts.c.idem == idem)).first()
            if r is not None:
                return Recorded(r.id, r.seq, r.key, True)
            raise

    def current(self, model: str, keys: Iterable[str] | None = None, reviewer: str | None = None) -> list[dict]:
        """Current judgements (latest row per reviewer and key) of ``model``, optionally only for
        ``keys`` or only ``reviewer``'s; items whose last action undid a first judgement (verdict
        NULL) are left out."""
        with self._read() as c:
            if reviewer is not None:
                rows = c.execute(SQL_CURRENT_REVIEWER, {"model": model, "rid": self.reviewer_id(reviewer)}).all()
                keys = None if keys is None else set(keys)
                return [_judged(r) for r in rows if keys is None or r.key in keys]
            if keys is None:
                return [_judged(r) for r in c.execute(SQL_CURRENT_ALL, {"model": model})]
            keys, out = list(keys), []
            for i in range(0, len(keys), 500):  # stay below SQLite's bound-parameter limit
                out += [_judged(r) for r in c.execute(SQL_CURRENT_KEYS, {"model": model, "keys": keys[i:i + 500]})]
            return out

    def progress(self, reviewer: str, model: str) -> int:
        """How many items of ``model`` ``reviewer`` has judged (current judgements only)."""
        try:
            rid = self.reviewer_id(reviewer)
        except BagelError:
            return 0
        with self._read() as c:
            return int(c.execute(SQL_PROGRESS, {"rid": rid, "model": model}).scalar())

    def history(self, model: str, key: str | None = None, reviewer: str | None = None) -> list[dict]:
        """Every history row (oldest first), optionally of one key and/or reviewer."""
        q = (select(verdicts, reviewers.c.name.label("reviewer")).join(reviewers, reviewers.c.id == verdicts.c.reviewer_id)
             .where(verdicts.c.model == model).order_by(verdicts.c.id))
        if key is not None:
            q = q.where(verdicts.c.key == key)
        if reviewer is not None:
            q = q.where(reviewers.c.name == reviewer)
        with self._read() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def models(self) -> list[str]:
        with self._read() as c:
            return [r[0] for r in c.execute(select(state.c.model).distinct().order_by(state.c.model))]

    # ---- resolutions of disagreements -----------------------------------------------------------
    def resolve(self, model: str, key: str, resolver: str, judgement: Judgement, prediction: int | None = None,
                idem: str | None = None) -> int:
        """Settle ``key``'s consensus by hand (latest resolution wins; all are kept)."""
        if judgement.verdict is None:
            raise BagelError("a resolution needs a verdict")
        rid = self.reviewer_id(resolver)
        idem = idem or secrets.token_hex(16)
        with self._read() as c:
            r = c.execute(select(resolutions.c.id).where(resolutions.c.idem == idem)).scalar()
        if r is not None:
            return int(r)
        with self._write() as c:
            return int(c.execute(resolutions.insert().values(model=model, key=key, resolver_id=rid, idem=idem, prediction=prediction,
                                                             created=time.time(), **_judgement_row(judgement))).inserted_primary_key[0])

    def resolutions(self, model: str) -> dict[str, dict]:
        """key -> its latest resolution."""
        q = (select(resolutions, reviewers.c.name.label("resolver")).join(reviewers, reviewers.c.id == resolutions.c.resolver_id)
             .where(resolutions.c.model == model).order_by(resolutions.c.id))
        with self._read() as c:
            return {r.key: dict(r._mapping) for r in c.execute(q)}

    # ---- labeling guides ------------------------------------------------------------------------
    def save_guide(self, class_id: str, body: str, author: str, base_version: int | None) -> int:
        """Store a new version of ``class_id``'s guide; ``base_version`` is the version the editor
        started from (0 or None for none), so two people editing at once cannot silently overwrite
        each other: the second save raises `Conflict`. Saving the current text again is a no-op."""
        if not isinstance(body, str) or len(body) > 100_000:
            raise BagelError("guide: expected markdown text of at most 100,000 characters")
        check_name(author)
        with self._write() as c:
            cur = c.execute(select(guides.c.version, guides.c.body).where(guides.c.class_id == class_id)
                            .order_by(guides.c.version.desc()).limit(1)).first()
            latest = cur.version if cur else 0
            if cur is not None and cur.body == body:
                return latest
            if (base_version or 0) != latest:
                raise Conflict(f"guide of {class_id} changed meanwhile (now version {latest}, edited from {base_version or 0}); reload and merge")
            c.execute(guides.insert().values(class_id=class_id, version=latest + 1, body=body, author=author, created=time.time()))
            return latest + 1

    def guide(self, class_id: str) -> dict | None:
        with self._read() as c:
            r = c.execute(select(guides).where(guides.c.class_id == class_id).order_by(guides.c.version.desc()).limit(1)).first()
        return dict(r._mapping) if r else None

    def guide_history(self, class_id: str) -> list[dict]:
        with self._read() as c:
            return [dict(r._mapping) for r in c.execute(select(guides).where(guides.c.class_id == class_id).order_by(guides.c.version.desc()))]

    def guided_classes(self) -> list[str]:
        with self._read() as c:
            return [r[0] for r in c.execute(select(guides.c.class_id).distinct())]
