"""Rows in the released Tarsier format: annotation lines, prediction lines, and lmms-eval ``--log_samples`` rows.

An annotation line (``data/annotations/*.jsonl`` of bytedance/tarsier)::

    {"idx": 0, "dataset": "Next-QA-val-multi_choice", "vid": "4010069381", "video_file": "<placeholder>",
     "text": {"prompt": "USER: <video> ...ASSISTANT: Answer: (", "question": "...", "response": "A"}}

optionally with ``start_time`` / ``end_time`` (seconds). A prediction line is the same with ``text.prediction``
(the released ``tasks/inference_benchmark.py`` writes ``"<error>"`` when generation failed). ``response`` is a
string (QA) or a list of reference captions (captioning).

:func:`select_rows` reads them as the released ``evaluation/evaluate.py`` (``read_dataset``) does: every ``.jsonl``
of a folder (in sorted order here; the released code uses ``os.listdir`` order), rows whose ``dataset`` up to the
first ``/`` is the benchmark's, the first row of each ``f"{dataset}_{idx}"`` kept and later duplicates dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

from lmms_tasks import failed_generation
from lmms_tasks.jsonl import iter_jsonl

from .benchmarks import Benchmark

GENERATION_ERROR = "<error>"
_VICUNA_TURN = re.compile(r"USER:(.*)ASSISTANT:(.*)", re.DOTALL)


class FormatError(ValueError):
    """A line that is not a released-format row; the message names the file and line."""


def released_prompt(prompt: str) -> str:
    """The text the released processor tokenizes (``dataset/processor.py``, ``process_prompt``) before ``<video>``
    is expanded: a prompt that is not a ``USER: ... ASSISTANT:`` turn is wrapped as ``USER: {prompt} ASSISTANT: ``."""
    return prompt if _VICUNA_TURN.search(prompt) else f"USER: {prompt} ASSISTANT: "


def generation_error(prediction, reason: str | None = None) -> str | None:
    """Why a prediction is a failed generation, else ``None``: the released ``"<error>"``, or the ``tarsier`` lmms-eval
    plugin's ``failed_generation`` marker (then scored as ``"<error>"``, which the released pipeline writes)."""
    if reason:
        return reason
    if prediction == GENERATION_ERROR:
        return "generation failed (the released inference wrote '<error>')"
    return failed_generation.reason_of(prediction)


def generation_errors(records: list[dict]) -> dict[str, str]:
    """Record key -> reason, for every failed generation among ``records``."""
    errors = {}
    for record in records:
        reason = generation_error(record["prediction"], record.get("generation_error"))
        if reason is not None:
            errors[record["key"]] = reason
    return errors


def read_jsonl(path: Path) -> list[tuple[str, dict]]:
    """``(where, row)`` per non-empty line of ``path``; a line that is not a JSON object is a ``FormatError``."""
    return list(iter_jsonl(path, FormatError))


def files_of(path: str | Path) -> list[Path]:
    """``path`` itself, or every ``*.jsonl`` under the folder ``path`` (sorted)."""
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
        if not files:
            raise FormatError(f"{path}: folder holds no .jsonl files")
        return files
    if not path.is_file():
        raise FormatError(f"prediction file not found: {path}")
    return [path]


def normalise(row: dict, where: str, *, need_prediction: bool) -> dict | None:
    """A flat record ``{idx, key, dataset, vid, question, response, prompt, prediction, ...}`` from a released-format
    row or an lmms-eval logged sample of a ``tarsier_*`` task; ``None`` for a row of neither kind."""
    if "text" not in row:
        row = _from_logged_sample(row)
        if row is None:
            return None
    text = row.get("text")
    if not isinstance(text, dict):
        raise FormatError(f"{where}: 'text' must be an object with prompt/question/response, got {type(text).__name__}")
    for name in ("idx", "dataset"):
        if name not in row:
            raise FormatError(f"{where}: no {name!r} field")
    if not isinstance(row["dataset"], str):
        raise FormatError(f"{where}: 'dataset' must be a string")
    if "response" not in text:
        raise FormatError(f"{where}: no text.response (the reference answer)")
    prediction = text.get("prediction")
    if need_prediction and "prediction" not in text:
        raise FormatError(f"{where}: no text.prediction (the model's answer); is this an annotation file?")
    if need_prediction and not isinstance(prediction, str):
        raise FormatError(f"{where}: text.prediction must be a string, got {type(prediction).__name__}")
    error = generation_error(prediction, row.get("generation_error")) if isinstance(prediction, str) else None
    if error is not None:
        prediction = GENERATION_ERROR
    return {
        "idx": row["idx"],
        "key": f"{row['dataset']}_{row['idx']}",
        "dataset": row["dataset"],
        "vid": row.get("vid"),
        "video_file": row.get("video_file"),
        "start_time": row.get("start_time"),
        "end_time": row.get("end_time"),
        "question": text.get("question"),
        "response": text["response"],
        "prompt": text.get("prompt"),
        "prediction": prediction,
        "generation_error": error,
        "where": where,
    }


def _from_logged_sample(row: dict) -> dict | None:
    """An lmms-eval ``--log_samples`` row of a ``tarsier_*`` task carries the released-format row as a metric item."""
    for value in row.values():
        if isinstance(value, dict) and "text" in value and "dataset" in value and "idx" in value:
            return value
    return None


def select_rows(path: str | Path, benchmark: Benchmark, *, need_prediction: bool = True) -> list[dict]:
    """The benchmark's records in ``path`` (a file or a folder), as the released ``read_dataset`` selects them."""
    records, seen = [], set()
    for file in files_of(path):
        for where, row in read_jsonl(file):
            record = normalise(row, where, need_prediction=need_prediction)
            if record is None or not benchmark.selects(record["dataset"]) or record["key"] in seen:
                continue
            seen.add(record["key"])
            records.append(record)
    return records


def to_released_row(record: dict) -> dict:
    """The released prediction line for a record (``text.prediction`` set)."""
    row = {"idx": record["idx"], "dataset": record["dataset"], "vid": record.get("vid")}
    for name in ("video_file", "start_time", "end_time"):
        if record.get(name) is not None:
            row[name] = record[name]
    error = generation_error(record.get("prediction"), record.get("generation_error"))
    row["text"] = {
        "prompt": record.get("prompt"),
        "question": record.get("question"),
        "response": record["response"],
        "prediction": GENERATION_ERROR if error else record.get("prediction"),
    }
    if error:
        row["generation_error"] = error
    return row
