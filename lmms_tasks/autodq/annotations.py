"""Reading DREAM-1K annotations into the records the scorer needs.

Two layouts are read, as JSON Lines or as one JSON list:

- Tarsier's evaluation format (the ``DREAM-1k.jsonl`` of the official repository): ``idx``, ``dataset`` (the
  source, e.g. ``DREAM/movie_animation``), the reference description in the assistant message's ``reference``,
  and ``extra_info`` with ``events``, ``n_subjects``, ``n_shots``, ``n_events``, ``duration``.
- The Hub dataset's ``json/metadata.json`` (``omni-research/DREAM-1K``): ``idx``, ``source``, ``description``,
  ``events``, ``n_subjects``, ``n_shots``, ``n_events``, ``duration``, ``video_file`` (numbers may be strings and
  ``events`` may be a JSON/Python list written as a string).

``events`` stays ``None`` when the annotation has none, and then the scorer extracts them from the reference
description, as the released scorer does; an empty list is kept as an empty list (4 DREAM-1K clips have no events).
"""

import ast
import json
import os
from pathlib import Path

ANNOTATIONS_ENV = "TARSIER_DREAM1K_ANNOTATIONS"


class AnnotationError(ValueError):
    """An annotation file or record that cannot be read; the message names the file and line."""


def load_dream1k_annotations(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """Annotations by clip id (``str(idx)``), in file order. ``path`` defaults to ``$TARSIER_DREAM1K_ANNOTATIONS``."""
    if path is None:
        path = os.environ.get(ANNOTATIONS_ENV)
        if not path:
            raise AnnotationError(
                f"no DREAM-1K annotation file given: pass --annotations FILE or set {ANNOTATIONS_ENV}"
            )
    path = Path(path).expanduser()
    if not path.is_file():
        raise AnnotationError(f"DREAM-1K annotation file not found: {path}")
    annotations: dict[str, dict] = {}
    for where, raw in _read_records(path):
        record = _normalise(raw, where)
        if record["idx"] in annotations:
            raise AnnotationError(f"{where}: duplicate clip id {record['idx']!r}")
        annotations[record["idx"]] = record
    if not annotations:
        raise AnnotationError(f"{path}: no annotations")
    return annotations


def _read_records(path: Path):
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except ValueError as error:
            raise AnnotationError(f"{path}: not valid JSON ({error})") from None
        for number, record in enumerate(records):
            yield f"{path} record {number}", record
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", json.loads(line)
        except ValueError as error:
            raise AnnotationError(f"{path}:{number}: not valid JSON ({error})") from None


def _normalise(raw, where: str) -> dict:
    if not isinstance(raw, dict):
        raise AnnotationError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    if "messages" in raw:
        info = raw.get("extra_info") or {}
        source, reference = raw.get("dataset"), _tarsier_reference(raw["messages"], where)
    else:
        info = raw
        source, reference = raw.get("source"), raw.get("description")
    if raw.get("idx") is None:
        raise AnnotationError(f"{where}: no 'idx'")
    if not isinstance(source, str) or not source:
        raise AnnotationError(f"{where}: no source ('dataset' or 'source')")
    if not isinstance(reference, str):
        raise AnnotationError(f"{where}: no reference description")
    events = _events(info.get("events"), where)
    n_events = _integer(info.get("n_events"), "n_events", where)
    if n_events is None and events is not None:
        n_events = len(events)
    return {
        "idx": str(raw["idx"]),
        "source": source,
        "reference": reference,
        "events": events,
        "n_subjects": _integer(info.get("n_subjects"), "n_subjects", where),
        "n_shots": _integer(info.get("n_shots"), "n_shots", where),
        "n_events": n_events,
        "duration": _number(info.get("duration"), "duration", where),
        "video_file": raw.get("video_file"),
    }


def _tarsier_reference(messages, where: str) -> str | None:
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "assistant":
            for item in message.get("content") or []:
                if isinstance(item, dict) and isinstance(item.get("reference"), str):
                    return item["reference"]
    raise AnnotationError(f"{where}: no assistant message with a 'reference' description")


def _events(value, where: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                raise AnnotationError(f"{where}: 'events' is a string that is not a list: {value[:100]!r}") from None
    if not isinstance(value, list) or not all(isinstance(event, str) for event in value):
        raise AnnotationError(f"{where}: 'events' must be a list of strings")
    return value


def _integer(value, name: str, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnnotationError(f"{where}: {name}={value!r} is not a number") from None
    if not number.is_integer():
        raise AnnotationError(f"{where}: {name}={value!r} is not an integer")
    return int(number)


def _number(value, name: str, where: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AnnotationError(f"{where}: {name}={value!r} is not a number") from None
