"""Where a workspace's files and database live.

A workspace is one folder: an embedded SQLite database (``bagel.sqlite``: runs, reviews, guides,
small tables) plus array and table files that stages write next to it. Every command takes
``-w/--workspace DIR``; the default is ``$BAGEL_WORKSPACE``, else ``./bagel-workspace``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from bagel.errors import BagelError

DEFAULT_DIR = "bagel-workspace"
DB_NAME = "bagel.sqlite"


def default_workspace_dir() -> Path:
    return Path(os.environ.get("BAGEL_WORKSPACE") or DEFAULT_DIR)


def connect_sqlite(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode, so readers never block the one writer and a crash loses nothing
    that was committed."""
    con = sqlite3.connect(path, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    return con


class Workspace:
    """A folder holding everything the stages produce.

    ``Workspace(root)`` creates the folder when ``create`` is true; otherwise a missing folder is
    an error. Files are addressed with ``ws.path("imagesets", "val.parquet")``, which creates the
    parent folders.
    """

    def __init__(self, root: str | os.PathLike, create: bool = True):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise BagelError(f"workspace {self.root}: expected a folder, found a file")
        if not self.root.exists():
            if not create:
                raise BagelError(f"workspace {self.root}: no such folder (create it with a command that writes one, e.g. `bagel demo -w {self.root}`)")
            self.root.mkdir(parents=True)
        self.db_path = self.root / DB_NAME
        with self.connect() as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, command TEXT NOT NULL,"
                " params TEXT NOT NULL, results TEXT NOT NULL, started REAL NOT NULL, seconds REAL NOT NULL)"
            )

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def path(self, *parts: str) -> Path:
        p = self.root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def connect(self) -> sqlite3.Connection:
        return connect_sqlite(self.db_path)

    def record_run(self, command: str, params: dict, results: dict, started: float | None = None) -> int:
        """Store one command's parameters and results (JSON) so a workspace tells what made it."""
        now = time.time()
        started = now if started is None else started
        with self.connect() as con:
            cur = con.execute(
                "INSERT INTO runs (command, params, results, started, seconds) VALUES (?, ?, ?, ?, ?)",
                (command, json.dumps(params, default=str), json.dumps(results, default=str), started, now - started),
            )
            return int(cur.lastrowid)

    def runs(self, command: str | None = None) -> list[dict]:
        with self.connect() as con:
            q = "SELECT id, command, params, results, started, seconds FROM runs"
            rows = con.execute(q + (" WHERE command = ?" if command else "") + " ORDER BY id", (command,) if command else ()).fetchall()
        return [
            {"id": r[0], "command": r[1], "params": json.loads(r[2]), "results": json.loads(r[3]), "started": r[4], "seconds": r[5]}
            for r in rows
        ]
