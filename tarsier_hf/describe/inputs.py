"""The inputs of ``tarsier describe``: media files, folders, globs and list files, in a stable order.

Positional arguments are files, folders (their media files, sorted, not recursive) or glob patterns
(``clips/**/*.mp4``, sorted). ``--input-list FILE`` adds a list: a text file with one path per line (blank lines and
lines starting with ``#`` ignored) or, for ``.jsonl`` files, one object per line with ``"path"`` (or ``"video"``)
and an optional per-input ``"prompt"``. Relative paths in a list are relative to the list file's folder.

A problem with the command line itself — a named file that does not exist or is not a media file, a folder without
media, a glob matching nothing, an unreadable or malformed list — raises :class:`InputError` before any model is
loaded. Entries of a list are not checked here: a missing or broken file in a 100k-line list is skipped and
reported at describe time, like a file that fails to decode.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..video_io import MediaError, find_media_files, media_kind

__all__ = [
    "DEFAULT_IMAGE_PROMPT",
    "DEFAULT_VIDEO_PROMPT",
    "DescribeInput",
    "InputError",
    "collect_inputs",
    "input_key",
    "instruction_for",
]

# The official quick start's instructions (tasks/inference_quick_start.py).
DEFAULT_VIDEO_PROMPT = "Describe the video in detail."
DEFAULT_IMAGE_PROMPT = "Describe the image in detail."

_GLOB_CHARACTERS = frozenset("*?[")


class InputError(ValueError):
    """The command line names inputs that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class DescribeInput:
    """One thing to describe: a media file and, optionally, its own instruction (from a JSON-lines list)."""

    path: str
    prompt: str | None = None


def input_key(path: str, prompt: str) -> tuple[str, str]:
    """What makes two descriptions the same job: the file (resolved from the current folder) and the instruction."""
    return os.path.realpath(path), prompt


def instruction_for(item: DescribeInput, prompt: str | None = None) -> str:
    """The instruction for ``item``: its own (from a list), else ``prompt``, else the official default for its kind
    (images: "Describe the image in detail."). Placeholders typed by the user are dropped: the frames are placed by
    the chat template."""
    instruction = item.prompt if item.prompt is not None else prompt
    if instruction is None:
        instruction = DEFAULT_IMAGE_PROMPT if _kind(item.path) == "image" else DEFAULT_VIDEO_PROMPT
    return instruction.replace("<image>", "").replace("<video>", "").strip()


def _kind(path: str) -> str | None:
    try:
        return media_kind(path)
    except MediaError:
        return None  # reported when the file is decoded


def collect_inputs(paths=(), lists=()) -> list[DescribeInput]:
    """The inputs in command-line order (positional arguments first, then each list), duplicates removed.

    Raises:
        InputError: a named file is missing or not a supported media file, a folder holds no media, a glob matches
            no media file, a list cannot be read or has a malformed line, or there is nothing to describe.
    """
    inputs: list[DescribeInput] = []
    for raw in paths:
        inputs.extend(DescribeInput(str(path)) for path in _expand_argument(str(raw)))
    for list_file in lists:
        inputs.extend(_read_list(Path(list_file)))
    if not inputs:
        raise InputError("no inputs: give media files, folders, glob patterns or --input-list FILE")
    unique, seen = [], set()
    for item in inputs:
        key = (os.path.realpath(item.path), item.prompt)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _expand_argument(raw: str) -> list[Path]:
    path = Path(raw)
    try:
        if path.is_dir():
            return find_media_files(path)
        if path.exists():
            media_kind(path)
            return [path]
    except MediaError as error:
        raise InputError(str(error)) from None
    if _GLOB_CHARACTERS & set(raw):
        matches = [Path(m) for m in sorted(glob.glob(raw, recursive=True))]
        media = [m for m in matches if m.is_file() and _is_media(m)]
        if not media:
            raise InputError(f"{raw}: the pattern matches no media files ({len(matches)} other paths)")
        return media
    raise InputError(f"{raw}: file not found")


def _is_media(path: Path) -> bool:
    try:
        media_kind(path)
    except MediaError:
        return False
    return True


def _read_list(list_file: Path) -> list[DescribeInput]:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{list_file}: input list not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{list_file}: cannot read the input list ({error})") from None
    json_lines = list_file.suffix.lower() in (".jsonl", ".ndjson")
    base = list_file.parent
    items = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or (not json_lines and line.startswith("#")):
            continue
        path, prompt = _parse_json_line(line, list_file, number) if json_lines else (line, None)
        resolved = Path(os.path.expanduser(path))
        items.append(DescribeInput(str(resolved if resolved.is_absolute() else base / resolved), prompt))
    if not items:
        raise InputError(f"{list_file}: the input list is empty")
    return items


def _parse_json_line(line: str, list_file: Path, number: int) -> tuple[str, str | None]:
    where = f"{list_file}:{number}"
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"{where}: not a JSON object ({error.msg})") from None
    if not isinstance(entry, dict):
        raise InputError(f'{where}: expected a JSON object with "path", got {type(entry).__name__}')
    path = entry.get("path", entry.get("video"))
    if not isinstance(path, str) or not path:
        raise InputError(f'{where}: the object has no "path" (or "video") string')
    prompt = entry.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise InputError(f'{where}: "prompt" must be a string')
    return path, prompt
