"""Persistent on-disk cache of the judge's replies.

One SQLite file (``judge_cache.sqlite3``) in write-ahead-log mode; every reply is written in its own transaction
the moment it arrives, so a process killed at any point (SIGKILL included) leaves every finished call on disk and
nothing half-written (SQLite discards an incomplete WAL frame when the database is next opened). A restarted run
reads the finished calls back and asks only for the rest. ``synchronous=NORMAL`` keeps this durable against the
process dying; a power cut can lose the last few replies, which are then simply asked again.

The key of a reply is the SHA-256 of: judge model name, prompt hash (the templates' SHA-256), sampling
temperature, the full rendered prompt (which holds the inputs) and the attempt number (0 for the first ask, then
one per re-ask). What is stored is the judge's *raw* reply: validation runs again on every read, so re-scoring
replays exactly the same replies through exactly the same checks and gives bit-identical numbers.

Several processes may share one cache file (SQLite locks it); if two of them store the same key, the first reply
wins and both use it.
"""

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

CACHE_FILE_NAME = "judge_cache.sqlite3"
CACHE_DIR_ENV = "TARSIER_AUTODQ_CACHE"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    prompt TEXT NOT NULL,
    reply TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""


def default_cache_dir() -> Path:
    """``$TARSIER_AUTODQ_CACHE``, else ``$HF_HOME/tarsier_hf/autodq``, else ``~/.cache/tarsier_hf/autodq``."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "tarsier_hf" / "autodq"
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home).expanduser() / "tarsier_hf" / "autodq"


def reply_key(*, model: str, prompt_hash: str, temperature: float | None, prompt: str, attempt: int) -> str:
    """The cache key of one request attempt."""
    fields = {
        "model": model,
        "prompt_hash": prompt_hash,
        "temperature": None if temperature is None else float(temperature),
        "prompt": prompt,
        "attempt": attempt,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class JudgeCache:
    """Raw judge replies by request key, in ``directory/judge_cache.sqlite3`` (or in memory when ``directory`` is None)."""

    def __init__(self, directory: str | Path | None):
        if directory is None:
            self.path = None
            target = ":memory:"
        else:
            self.path = Path(directory).expanduser() / CACHE_FILE_NAME
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target = str(self.path)
        try:
            # Autocommit (isolation_level=None): each INSERT is its own durable transaction.
            # The connection is used by one thread at a time: the event loop's, which may not be the creating thread.
            self._connection = sqlite3.connect(target, timeout=60, isolation_level=None, check_same_thread=False)
            if self.path is not None:
                self._connection.execute("PRAGMA journal_mode=WAL")
                self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute(_SCHEMA)
        except sqlite3.Error as error:
            raise OSError(f"cannot open the AutoDQ judge cache {target}: {error}") from error

    def get(self, key: str) -> str | None:
        row = self._connection.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def put(self, key: str, *, model: str, kind: str, prompt: str, reply: str) -> str:
        """Store a reply; returns the reply stored under ``key`` (another process's, if it stored one first)."""
        self._connection.execute(
            "INSERT OR IGNORE INTO replies (key, model, kind, prompt, reply, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (key, model, kind, prompt, reply, time.time()),
        )
        return self.get(key)

    def __len__(self) -> int:
        return self._connection.execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        self._connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
