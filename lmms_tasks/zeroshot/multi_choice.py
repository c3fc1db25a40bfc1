"""Multi-choice QA accuracy (NExT-QA, EgoSchema, MVBench), as the released ``AccuracyMetric`` computes it.

Released scorer: ``evaluation/metrics/evaluate_qa_mc.py`` of bytedance/tarsier. Per answer (``extract_choice``):

1. remove every ``(`` and ``)``, strip whitespace; an empty answer is a *failed parse*;
2. take the first character; a digit ``1``-``5`` becomes the letter ``chr(int(d) + ord("A"))`` — the released
   off-by-one, so ``"1"`` reads as ``B`` and ``"5"`` as ``F`` (kept, and counted in ``n_digit_answers``);
3. a character that is not an upper-case letter (``str.isupper() and str.isalpha()``) is a failed parse. Anything
   else is the answer, right when it equals the reference letter: ``"The answer is B"`` answers ``T``.

Numbers (percent, as the paper prints them):

- ``accuracy`` (released, headline): correct / parsed answers — failed parses are left out of the denominator;
  for MVBench the macro mean of the 20 sub-tasks' accuracies (sub-tasks with no parsed answer left out, as the
  released table does).
- honest variants, always next to it: ``accuracy_all`` (failed parses counted as wrong; macro mean for MVBench),
  ``n_failed_parse`` and ``failed_parse_ids``, and bootstrap 95% CIs of both accuracies (resampling answers within
  each sub-task).
"""

from __future__ import annotations

import numpy as np

from .benchmarks import subtask_label
from .released_format import generation_errors
from .stats import DEFAULT_RESAMPLES, bootstrap_ci, describe


def extract_choice(prediction: str) -> tuple[str | None, bool]:
    """``(letter, from_digit)``: the released reading of an answer; ``letter`` is ``None`` for a failed parse."""
    text = prediction.replace("(", "").replace(")", "").strip()
    if not text:
        return None, False
    first = text[0]
    from_digit = "1" <= first <= "5"
    if from_digit:
        first = chr(int(first) + ord("A"))
    return (first if first.isupper() and first.isalpha() else None), from_digit


def score_items(records: list[dict]) -> list[dict]:
    """Per-item extraction and correctness."""
    items = []
    for record in records:
        letter, from_digit = extract_choice(record["prediction"])
        items.append(
            {
                "key": record["key"],
                "dataset": record["dataset"],
                "response": record["response"],
                "prediction": record["prediction"],
                "choice": letter,
                "parsed": letter is not None,
                "from_digit": from_digit,
                "correct": letter is not None and letter == record["response"],
            }
        )
    return items


def _accuracies(items: list[dict]) -> dict:
    parsed = [item for item in items if item["parsed"]]
    correct = sum(item["correct"] for item in items)
    return {
        "accuracy": 100.0 * correct / len(parsed) if parsed else None,
        "accuracy_all": 100.0 * correct / len(items) if items else None,
        "n": len(items),
        "n_parsed": len(parsed),
        "n_correct": correct,
        "n_failed_parse": len(items) - len(parsed),
    }


def summarize(records: list[dict], *, by_subtask: bool, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict:
    """All multi-choice numbers; ``by_subtask`` groups by the ``dataset`` field and macro-averages (MVBench)."""
    items = score_items(records)
    errors = generation_errors(records)
    groups: dict[str, list[dict]] = {}
    for item in items:
        groups.setdefault(item["dataset"] if by_subtask else "all", []).append(item)
    per_subtask = {name: _accuracies(members) for name, members in groups.items()}
    if by_subtask:
        for name, numbers in per_subtask.items():
            numbers["label"] = subtask_label(name)
        per_subtask = dict(sorted(per_subtask.items(), key=lambda pair: pair[1]["label"]))
        released = [n["accuracy"] for n in per_subtask.values() if n["accuracy"] is not None]
        honest = [n["accuracy_all"] for n in per_subtask.values() if n["accuracy_all"] is not None]
        overall = {
            "accuracy": float(np.mean(released)) if released else None,
            "accuracy_all": float(np.mean(honest)) if honest else None,
            **{k: v for k, v in _accuracies(items).items() if k.startswith("n")},
            "n_subtasks": len(per_subtask),
        }
    else:
        overall = per_subtask.pop("all", _accuracies([]))
        per_subtask = {}
    member_lists = list(groups.values())
    failed = [item for item in items if not item["parsed"]]
    return {
        "overall": overall,
        "per_subtask": per_subtask,
        "accuracy_ci95": bootstrap_ci(
            [[float(i["correct"]) for i in m if i["parsed"]] for m in member_lists],
            n_resamples=n_resamples,
            seed=seed,
            scale=100.0,
        ),
        "accuracy_all_ci95": bootstrap_ci(
            [[float(i["correct"]) for i in m] for m in member_lists], n_resamples=n_resamples, seed=seed, scale=100.0
        ),
        "bootstrap": describe(
            n_resamples, seed, "answers resampled within each sub-task" if by_subtask else "answers resampled"
        ),
        "n_failed_parse": len(failed),
        "failed_parse_ids": [item["key"] for item in failed],
        "failed_parse_answers": {item["key"]: item["prediction"] for item in failed},
        "n_generation_errors": len(errors),
        "generation_errors": errors,
        "n_digit_answers": sum(item["from_digit"] for item in items),
        "items": items,
    }
