"""The ``--output`` file of ``tarsier describe``: one JSON object per line and per described input.

A record::

    {"path": "clips/a.mp4", "description": "...", "prompt": "Describe the video in detail.", "frames": 8,
     "model": "omni-research/Tarsier-7b", "new_tokens": 87, "decode_s": 0.41, "generate_s": 3.2, "batch_size": 8}

``frames`` is the number of frames given to the model (1 for a still image), ``decode_s`` the seconds spent
decoding and preprocessing that input (in a background worker), ``generate_s`` the seconds of the ``generate`` call
of its batch (shared by the ``batch_size`` inputs of that batch).

Records are appended and flushed as they are produced, so a killed run loses at most the batch in flight; a torn
last line (the process died mid-write) is cut off when the file is opened again. Inputs whose ``(path, prompt)`` is
already in the file are skipped on a re-run. With several processes each rank appends to its own shard file
(``<output>.shard<rank>.jsonl``) and the main process merges the shards into the output, in input order.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from .inputs import input_key

__all__ = [
    "RecordWriter",
    "check_output",
    "load_records",
    "merge_into_output",
    "record_key",
    "shard_files",
    "shard_path",
]


def shard_path(output: str | os.PathLike, rank: int) -> Path:
    output = Path(output)
    return output.with_name(f"{output.name}.shard{rank}.jsonl")


def shard_files(output: str | os.PathLike) -> list[Path]:
    """Shard files left next to ``output`` (by this run or a killed earlier one, whatever its process count)."""
    output = Path(output)
    return sorted(output.parent.glob(f"{glob_escape(output.name)}.shard*.jsonl"))


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def check_output(path: str | os.PathLike) -> list[dict]:
    """Check, before any model loads, that ``path`` can be the ``--output`` file; return its records (``[]`` when new).

    Missing folders are created (the run would create them anyway) and a new file is created and removed again, so
    every reason the run could not write it shows now: a parent that is a file, a read-only or virtual file system
    (``/proc``), missing permission. Safe when several processes (torchrun ranks) check the same path at once.

    Raises:
        ValueError: ``path`` is a folder, cannot be created or written (message naming the path and the reason), or
            holds something that is not a describe output (see :func:`load_records`).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give a file name, e.g. {path / 'descriptions.jsonl'}")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{path}: cannot create it: {ancestor} is a file, not a folder")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):  # appending nothing changes nothing; it proves the run can write here
            pass
    except OSError as error:
        verb = "write to" if existed else "create"
        raise ValueError(f"{path}: cannot {verb} it ({error.strerror or error})") from None
    if not existed and path.stat().st_size == 0:
        with contextlib.suppress(FileNotFoundError):  # another process may have removed its own probe already
            path.unlink()
    return load_records(path, repair=False)


def load_records(path: str | os.PathLike, repair: bool = True) -> list[dict]:
    """The complete records of a JSON-lines file (``[]`` when it does not exist).

    A last line without its newline was torn by a killed writer: it is ignored and, with ``repair``, cut from the
    file so that appending continues on a clean line. A malformed complete line is an error (``ValueError`` naming
    the file and line): it means the file is not ours, and resuming into it would be guesswork."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) < len(data) and repair:
        print(f"tarsier describe: {path}: dropping a torn last line (an interrupted write)", file=sys.stderr)
        with open(path, "r+b") as handle:
            handle.truncate(len(complete))
    records = []
    for number, line in enumerate(complete.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path}:{number}: not a JSON line ({error.msg}); is this a tarsier describe output?"
            ) from None
        if not isinstance(record, dict) or "path" not in record or "description" not in record:
            raise ValueError(f'{path}:{number}: not a tarsier describe record (needs "path" and "description")')
        records.append(record)
    return records


def record_key(record: dict) -> tuple[str, str]:
    return input_key(record["path"], record.get("prompt", ""))


class RecordWriter:
    """Appends records to a JSON-lines file, one flushed line each (never a partial record in the page cache)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the writer's lifetime

    def write(self, record: dict) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def merge_into_output(output: str | os.PathLike, order: list[tuple[str, str]] | None = None) -> int:
    """Fold every shard file into ``output`` and delete the shards; return the number of records moved.

    With ``order`` (the input keys of this run), the output is rewritten with records of other inputs first (as they
    were), then this run's inputs in input order; duplicates keep their first record. Atomic: a temporary file
    replaces ``output``."""
    output = Path(output)
    shards = shard_files(output)
    records = load_records(output)
    moved = []
    for shard in shards:
        moved.extend(load_records(shard))
    if not moved and order is None:
        return 0
    unique, seen = [], set()
    for record in records + moved:
        key = record_key(record)
        if key not in seen:
            seen.add(key)
            unique.append(record)
    if order is not None:
        position = {key: index for index, key in enumerate(order)}
        others = [r for r in unique if record_key(r) not in position]
        ours = sorted((r for r in unique if record_key(r) in position), key=lambda r: position[record_key(r)])
        unique = others + ours
    if unique != records:
        temporary = output.with_name(output.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in unique)
        os.replace(temporary, output)
    for shard in shards:
        shard.unlink()
    return len(moved)
