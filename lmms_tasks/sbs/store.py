"""A side-by-side study on disk: one SQLite file, ``STUDY_DIR/study.sqlite3``.

Tables:

- ``meta``: ``key`` -> JSON ``value``: ``names`` (``{"a": ..., "b": ...}``, the two models, never sent to a browser),
  ``guide`` and ``guide_source``, ``seed``, ``annotators`` (target annotators per clip), ``num_frames`` (the frames
  strip), ``inputs`` (where the predictions came from), ``secret`` (signs the web app's session cookie).
- ``pairs``: one row per sampled clip, in the order annotators see them (``position`` 0, 1, ...): ``clip_id``,
  ``source`` (DREAM-1K's source, ``"all"`` when unknown), ``reference`` (the annotation's description, or NULL),
  ``video`` (absolute path, or NULL), ``text_a`` / ``text_b`` (the two models' descriptions) and ``a_on_left``
  (1 when model A's description is shown on the left as "Description A"; drawn once, at creation).
- ``answers``: the human labels, at most one per (annotator, clip): ``choice`` is ``"a"``, ``"b"`` or ``"same"``
  in *model* terms (the web app maps the clicked side through ``a_on_left``), ``side`` what was clicked
  (``"left"``, ``"right"``, ``"same"``), an optional ``comment`` and the time. Answering again replaces the answer.
- ``llm_judgments``: the LLM annotator's labels, one per (judge model, clip, order): ``first`` is the model whose
  description was shown first (``"a"`` or ``"b"``), ``verdict`` the judge's ``"first"`` / ``"second"`` / ``"same"``
  and ``choice`` the same in model terms.

Every write is its own transaction (autocommit, write-ahead log), so a server killed at any moment (SIGKILL
included) keeps every answer it acknowledged and nothing half-written; ``UNIQUE(annotator, clip_id)`` makes a
resubmitted answer replace the stored one instead of counting twice.
"""

import json
import sqlite3
import time
from pathlib import Path

STUDY_FILE = "study.sqlite3"
CHOICES = ("a", "b", "same")
SIDES = ("left", "right", "same")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pairs (
    position INTEGER PRIMARY KEY,
    clip_id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    reference TEXT,
    video TEXT,
    text_a TEXT NOT NULL,
    text_b TEXT NOT NULL,
    a_on_left INTEGER NOT NULL CHECK (a_on_left IN (0, 1))
);
CREATE TABLE IF NOT EXISTS answers (
    annotator TEXT NOT NULL,
    clip_id TEXT NOT NULL REFERENCES pairs (clip_id),
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'same')),
    side TEXT NOT NULL CHECK (side IN ('left', 'right', 'same')),
    comment TEXT NOT NULL DEFAULT '',
    answered_at REAL NOT NULL,
    PRIMARY KEY (annotator, clip_id)
);
CREATE TABLE IF NOT EXISTS llm_judgments (
    judge_model TEXT NOT NULL,
    clip_id TEXT NOT NULL REFERENCES pairs (clip_id),
    first TEXT NOT NULL CHECK (first IN ('a', 'b')),
    verdict TEXT NOT NULL CHECK (verdict IN ('first', 'second', 'same')),
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'same')),
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (judge_model, clip_id, first)
);
"""


class StudyError(ValueError):
    """A study folder that cannot be created or opened, or a request it cannot take; the message says why."""


def side_to_choice(side: str, a_on_left: bool) -> str:
    """The clicked side (``left`` / ``right`` / ``same``) as a choice between the models (``a`` / ``b`` / ``same``)."""
    if side not in SIDES:
        raise StudyError(f"unknown answer {side!r}; expected one of {', '.join(SIDES)}")
    if side == "same":
        return "same"
    return "a" if (side == "left") == bool(a_on_left) else "b"


class Study:
    """Read and write one study. ``Study.create`` makes a new one; ``Study(path)`` opens an existing one."""

    def __init__(self, directory: str | Path, *, _create: bool = False):
        self.directory = Path(directory).expanduser()
        self.path = self.directory / STUDY_FILE
        if not _create and not self.path.is_file():
            raise StudyError(f"{self.directory}: not a side-by-side study (no {STUDY_FILE}); make one with 'create'")
        try:
            # Autocommit: every statement outside an explicit transaction is committed at once.
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise StudyError(f"cannot open the study database {self.path}: {error}") from error
        self._db.row_factory = sqlite3.Row

    @classmethod
    def create(cls, directory: str | Path, pairs: list[dict], meta: dict) -> "Study":
        """Write a new study; ``pairs`` in display order, each with the ``pairs`` columns except ``position``."""
        directory = Path(directory).expanduser()
        if (directory / STUDY_FILE).exists():
            raise StudyError(f"{directory} already holds a study ({STUDY_FILE}); choose another folder")
        if not pairs:
            raise StudyError("a study needs at least one pair")
        directory.mkdir(parents=True, exist_ok=True)
        study = cls(directory, _create=True)
        with study._db:
            study._db.execute("BEGIN")
            study._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()]
            )
            study._db.executemany(
                "INSERT INTO pairs (position, clip_id, source, reference, video, text_a, text_b, a_on_left) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        i,
                        p["clip_id"],
                        p["source"],
                        p.get("reference"),
                        p.get("video"),
                        p["text_a"],
                        p["text_b"],
                        int(p["a_on_left"]),
                    )
                    for i, p in enumerate(pairs)
                ],
            )
        return study

    # ------------------------------------------------------------------------------------------------ reading

    def meta(self, key: str, default=None):
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def set_meta(self, key: str, value) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def pairs(self) -> list[dict]:
        return [dict(row) for row in self._db.execute("SELECT * FROM pairs ORDER BY position")]

    def pair(self, position: int) -> dict:
        row = self._db.execute("SELECT * FROM pairs WHERE position = ?", (position,)).fetchone()
        if row is None:
            raise StudyError(f"no pair at position {position}")
        return dict(row)

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM pairs").fetchone()[0]

    def answers(self) -> list[dict]:
        """Every human answer, by clip order then annotator."""
        return [
            dict(row)
            for row in self._db.execute(
                "SELECT answers.* FROM answers JOIN pairs USING (clip_id) ORDER BY pairs.position, annotator"
            )
        ]

    def answer_of(self, annotator: str, clip_id: str) -> dict | None:
        row = self._db.execute(
            "SELECT * FROM answers WHERE annotator = ? AND clip_id = ?", (annotator, clip_id)
        ).fetchone()
        return None if row is None else dict(row)

    def last_answered_position(self, annotator: str) -> int | None:
        """The position of the pair this annotator answered most recently, or ``None``."""
        row = self._db.execute(
            "SELECT pairs.position FROM answers JOIN pairs USING (clip_id) WHERE annotator = ? "
            "ORDER BY answered_at DESC LIMIT 1",
            (annotator,),
        ).fetchone()
        return None if row is None else row[0]

    def next_position(self, annotator: str) -> int | None:
        """The first pair (in study order) this annotator has not answered and that still needs annotators.

        A pair needs annotators while it has fewer answers than the study's ``annotators`` target; ``None`` when
        there is nothing left for this annotator.
        """
        target = int(self.meta("annotators", 1))
        row = self._db.execute(
            """
            SELECT position FROM pairs
            WHERE clip_id NOT IN (SELECT clip_id FROM answers WHERE annotator = ?)
              AND (SELECT COUNT(*) FROM answers WHERE answers.clip_id = pairs.clip_id) < ?
            ORDER BY position LIMIT 1
            """,
            (annotator, target),
        ).fetchone()
        return None if row is None else row["position"]

    def progress(self) -> dict:
        """``{"pairs", "annotators_target", "complete" (pairs with enough answers), "per_annotator": {name: n}}``."""
        target = int(self.meta("annotators", 1))
        per_annotator = {
            row["annotator"]: row["n"]
            for row in self._db.execute(
                "SELECT annotator, COUNT(*) AS n FROM answers GROUP BY annotator ORDER BY annotator"
            )
        }
        complete = self._db.execute(
            "SELECT COUNT(*) FROM (SELECT clip_id FROM answers GROUP BY clip_id HAVING COUNT(*) >= ?)", (target,)
        ).fetchone()[0]
        return {"pairs": len(self), "annotators_target": target, "complete": complete, "per_annotator": per_annotator}

    def llm_judgments(self, judge_model: str | None = None) -> list[dict]:
        query = "SELECT llm_judgments.* FROM llm_judgments JOIN pairs USING (clip_id)"
        args: tuple = ()
        if judge_model is not None:
            query += " WHERE judge_model = ?"
            args = (judge_model,)
        return [dict(row) for row in self._db.execute(query + " ORDER BY pairs.position, first", args)]

    def llm_judge_models(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT DISTINCT judge_model FROM llm_judgments ORDER BY 1")]

    # ------------------------------------------------------------------------------------------------ writing

    def record_answer(self, annotator: str, position: int, side: str, comment: str = "") -> dict:
        """Store (or replace) this annotator's answer for the pair at ``position``; returns the stored row."""
        annotator = annotator.strip()
        if not annotator:
            raise StudyError("an answer needs an annotator name")
        pair = self.pair(position)
        choice = side_to_choice(side, pair["a_on_left"])
        self._db.execute(
            """
            INSERT INTO answers (annotator, clip_id, choice, side, comment, answered_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (annotator, clip_id) DO UPDATE SET
                choice = excluded.choice, side = excluded.side, comment = excluded.comment,
                answered_at = excluded.answered_at
            """,
            (annotator, pair["clip_id"], choice, side, comment.strip(), time.time()),
        )
        return self.answer_of(annotator, pair["clip_id"])

    def record_llm_judgment(self, judge_model: str, clip_id: str, first: str, verdict: str, reason: str) -> None:
        if verdict == "same":
            choice = "same"
        else:
            second = "b" if first == "a" else "a"
            choice = first if verdict == "first" else second
        self._db.execute(
            "INSERT OR REPLACE INTO llm_judgments (judge_model, clip_id, first, verdict, choice, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (judge_model, clip_id, first, verdict, choice, reason),
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
