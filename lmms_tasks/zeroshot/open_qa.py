"""Open-ended video QA (MSVD-QA, MSR-VTT-QA, ActivityNet-QA, TGIF-QA) judged by an LLM with the Video-ChatGPT prompt,
as the released ``GPTMetric`` (``evaluation/metrics/evaluate_qa_oe_gpt.py`` of bytedance/tarsier) does it.

Per item: the judge gets the system prompt and the user prompt (``prompts/``) with the annotation's question as it
is, the reference answer lower-cased and the *full* prediction lower-cased. The reply must be a Python dict literal
(``ast.literal_eval``) whose ``pred`` is exactly ``"yes"`` or ``"no"`` and whose ``score`` is a number in [0, 5];
the released check rejects ``"Yes"`` and string scores (``'4'``) too. An invalid reply is asked again (the judge
client's re-asks); an item with no valid reply after that, or whose requests failed (429/5xx/timeouts after
retries), is a *failed judgment*. Requests, retries, re-asks, the SQLite cache and resuming are those of the one
judge client, ``lmms_tasks.autodq.judge`` (``Judge.ask``).

Numbers: ``accuracy`` (percent of ``yes``) and ``score`` (mean, 0-5) over judged items — failed judgments left out,
as released (headline). Honest variants next to them: ``accuracy_all`` and ``score_all`` (a failed judgment counted
as ``no`` / 0), ``n_failed`` with ``failed_ids`` and their errors, and bootstrap 95% CIs. Differences from the
released run, by design of the shared judge: the first ask uses temperature 0 (the released scorer used the API
default, 1.0) and invalid replies are re-asked (the released scorer asked once).
"""

from __future__ import annotations

import ast
import hashlib
from importlib import resources
from string import Template

import numpy as np
from tqdm.auto import tqdm

from lmms_tasks.autodq.fanout import judge_each
from lmms_tasks.autodq.judge import Judge, JudgeFailure
from lmms_tasks.autodq.parsing import InvalidReply

from .released_format import generation_errors
from .stats import DEFAULT_RESAMPLES, bootstrap_ci, describe

SYSTEM_FILE = "video_chatgpt_qa_system.txt"
USER_FILE = "video_chatgpt_qa_user.txt"
JUDGE_KIND = "video_chatgpt_qa"


def _load(name: str) -> str:
    text = resources.files(__package__ + ".prompts").joinpath(name).read_text(encoding="utf-8")
    return text.removesuffix("\n")


SYSTEM_PROMPT = _load(SYSTEM_FILE)
USER_TEMPLATE = _load(USER_FILE)
PROMPT_FILE_HASHES = {
    name: hashlib.sha256(text.encode("utf-8")).hexdigest()
    for name, text in ((SYSTEM_FILE, SYSTEM_PROMPT), (USER_FILE, USER_TEMPLATE))
}
PROMPT_HASH = hashlib.sha256(
    "".join(f"{name}:{digest}\n" for name, digest in sorted(PROMPT_FILE_HASHES.items())).encode()
).hexdigest()


def render_user_prompt(question: str, answer: str, prediction: str) -> str:
    """The user message for one item (``answer`` and ``prediction`` are lower-cased here, as released)."""
    return Template(USER_TEMPLATE).substitute(question=question, answer=answer.lower(), prediction=prediction.lower())


def parse_reply(reply: str) -> dict:
    """``{"pred": "yes"|"no", "score": float}`` from a judge reply; ``InvalidReply`` for anything the released
    check rejects."""
    try:
        value = ast.literal_eval(reply.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        raise InvalidReply(f"not a Python literal: {reply[:200]!r} ({type(error).__name__})") from None
    if not isinstance(value, dict) or "pred" not in value or "score" not in value:
        raise InvalidReply(f"expected a dict with 'pred' and 'score', got {reply[:200]!r}")
    pred, score = value["pred"], value["score"]
    if pred not in ("yes", "no"):
        raise InvalidReply(f"'pred' must be 'yes' or 'no', got {pred!r}")
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise InvalidReply(f"'score' must be a number, got {score!r}")
    if not 0 <= score <= 5:
        raise InvalidReply(f"'score' must be within [0, 5], got {score!r}")
    return {"pred": pred, "score": float(score)}


def _item(record: dict) -> dict:
    """A record's judged-item row before judging (``pred``, ``score`` and ``error`` ``None``)."""
    return {
        "key": record["key"],
        "dataset": record["dataset"],
        "question": record["question"],
        "response": record["response"],
        "prediction": record["prediction"],
        "generation_error": record.get("generation_error"),
        "pred": None,
        "score": None,
        "error": None,
    }


async def judge_items(judge: Judge, records: list[dict], *, show_progress: bool = True) -> list[dict]:
    """One judged item per record, concurrently (at most the judge's concurrency of items in flight); never raises
    for one item (``JudgeSetupError``, which stops everything, excepted): a failed judgment is an item with
    ``error``."""

    async def one(record: dict) -> dict:
        if not isinstance(record.get("question"), str) or not isinstance(record["response"], str):
            raise JudgeFailure("the row needs a string text.question and text.response")
        prompt = render_user_prompt(record["question"], record["response"], record["prediction"])
        judged = await judge.ask(JUDGE_KIND, prompt, parse_reply, prompt_hash=PROMPT_HASH, system=SYSTEM_PROMPT)
        return {**_item(record), **judged}

    return await judge_each(
        records,
        one,
        limit=judge.config.concurrency,
        on_failure=lambda record, error: {**_item(record), "error": str(error)},
        progress=tqdm(total=len(records), desc="Video-ChatGPT judge", unit="answer", disable=not show_progress),
    )


def summarize(items: list[dict], *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict:
    """All numbers from judged items (see the module docstring)."""
    judged = [item for item in items if item["error"] is None]
    failed = [item for item in items if item["error"] is not None]
    yes = [float(item["pred"] == "yes") for item in judged]
    scores = [item["score"] for item in judged]
    yes_all = yes + [0.0] * len(failed)
    scores_all = scores + [0.0] * len(failed)
    return {
        "overall": {
            "accuracy": 100.0 * float(np.mean(yes)) if judged else None,
            "score": float(np.mean(scores)) if judged else None,
            "accuracy_all": 100.0 * float(np.mean(yes_all)) if items else None,
            "score_all": float(np.mean(scores_all)) if items else None,
            "n": len(items),
            "n_judged": len(judged),
            "n_failed": len(failed),
        },
        "accuracy_ci95": bootstrap_ci([yes], n_resamples=n_resamples, seed=seed, scale=100.0),
        "score_ci95": bootstrap_ci([scores], n_resamples=n_resamples, seed=seed),
        "accuracy_all_ci95": bootstrap_ci([yes_all], n_resamples=n_resamples, seed=seed, scale=100.0),
        "bootstrap": describe(n_resamples, seed, "answers resampled"),
        "n_failed": len(failed),
        "failed_ids": [item["key"] for item in failed],
        "failures": {item["key"]: item["error"] for item in failed},
        "n_generation_errors": len(generation_errors(items)),
        "generation_errors": generation_errors(items),
        "items": items,
    }
