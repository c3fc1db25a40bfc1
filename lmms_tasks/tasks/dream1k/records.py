"""One clip's row, shared by lmms-eval's per-sample metric list and its ``--log_samples`` row.

``process_results`` returns a :class:`ClipRecord` (clip id, source, prediction); lmms-eval keeps it both in the
metric's item list, which the aggregation scores, and in the logged sample, which it writes after the aggregation.
Scoring adds the clip's extracted events and judgments to the record, so the logged row carries them.

In a single process both places hold the same object. Under ``accelerate launch`` lmms-eval sends the two lists to
rank 0 separately (pickled), which would give two copies; unpickling a record therefore returns the one record
this process already holds for that annotation file, clip and prediction (:func:`_intern`), so the copies become
one object again. (Two tasks that share all three share the record too, which is harmless: its scores are a
function of exactly those and of the judge, which is configured per process.)

The other metrics' items are :class:`ClipRef` handles to the same record, written as the bare clip id in the
logged row instead of repeating the whole record.
"""

from __future__ import annotations

import hashlib
import threading

_RECORDS: dict[tuple[str, str, str], ClipRecord] = {}
_LOCK = threading.Lock()


class ClipRecord(dict):
    """``{"clip_id", "source", "prediction"}`` (plus ``generation_error`` for a clip the model could not answer)
    and, once scored, the scorer's per-clip fields."""

    @classmethod
    def create(
        cls, annotations: str, clip_id: str, source: str, prediction: str, generation_error: str | None = None
    ) -> ClipRecord:
        """``generation_error``: why the model gave no description (the clip is then failed, not scored)."""
        data = {"clip_id": clip_id, "source": source, "prediction": prediction}
        if generation_error is not None:
            data.update(prediction=None, generation_error=generation_error)
        return _intern((annotations, clip_id, _digest(prediction)), data)

    @property
    def annotations(self) -> str:
        """The annotation file this clip was read from."""
        return self.key[0]

    def __init__(self, key: tuple[str, str, str], data: dict):
        super().__init__(data)
        self.key = key

    def __reduce__(self):
        return _intern, (self.key, dict(self))


class ClipRef:
    """A metric item that points at a :class:`ClipRecord`; JSON-serialised (via ``str``) as its clip id."""

    __slots__ = ("record",)

    def __init__(self, record: ClipRecord):
        self.record = record

    def __str__(self) -> str:
        return self.record["clip_id"]

    def __repr__(self) -> str:
        return f"ClipRef({self.record['clip_id']!r})"

    def __reduce__(self):
        return ClipRef, (self.record,)


def as_record(item) -> ClipRecord:
    if isinstance(item, ClipRecord):
        return item
    if isinstance(item, ClipRef):
        return item.record
    raise TypeError(f"dream1k metric item must be a ClipRecord or ClipRef, got {type(item).__name__}: {item!r}")


def _intern(key: tuple[str, str, str], data: dict) -> ClipRecord:
    with _LOCK:
        record = _RECORDS.get(key)
        if record is None:
            record = _RECORDS[key] = ClipRecord(key, data)
        else:
            for name, value in data.items():
                record.setdefault(name, value)
        return record


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
