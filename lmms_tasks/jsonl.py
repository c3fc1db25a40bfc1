"""Reading JSON Lines files: one reader for every JSONL input of the evaluation commands.

Each problem names the file and the 1-based line (``path:line: ...``), so a bad line in a long file is found at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def iter_jsonl(path: str | Path, error: type[ValueError] = ValueError) -> Iterator[tuple[str, dict]]:
    """``(where, row)`` per non-empty line of ``path``, read lazily; ``where`` is ``"path:line"``.

    Raises ``error`` (``ValueError`` or a subclass, e.g. a module's own format error) when a line is not valid JSON
    or not a JSON object, and ``OSError`` when the file cannot be read.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except ValueError as problem:
                raise error(f"{where}: not valid JSON ({problem})") from None
            if not isinstance(row, dict):
                raise error(f"{where}: expected a JSON object, got {type(row).__name__}")
            yield where, row
