"""AutoDQ scoring of video descriptions against DREAM-1K, as the released Tarsier scorer does it.

Per clip (released ``process_one_sample`` / ``evaluate_one_sample`` / ``extract_events``):

1. Text normalisation: the reference description and the prediction are lowercased. The text given to event
   extraction is, in addition, stripped of double quotes (``"`` becomes ``'``).
2. Reference events are the annotation's ``events``, used verbatim (not lowercased); only when the annotation has
   no ``events`` list are they extracted from the reference by the judge.
3. Prediction events are extracted by the judge from the prediction (the prompt asks for at most 10; as in the
   released scorer, a longer list is used as it is, not truncated).
4. Recall: the judge classifies each reference event against the prediction; precision: each prediction event
   against the reference. Events are put into the prompt as a Python list (``['a man walks.', ...]``).
5. Only ``entailment`` counts, in both directions (the released ``is_recall=True`` for both calls; its branch
   that also counts ``neutral`` is never taken).
6. No events: when the event list is empty (4 DREAM-1K references have none; a prediction can have none, e.g. an
   empty or static description), the judge is still asked, with the whole description (newlines replaced by
   spaces) as the single "event", its reply must be valid (exactly one judged item), and the score is then 1.0
   whatever the label — recall 1.0 for an event-less reference, precision 1.0 for an event-less prediction.
7. A clip whose judging finally fails (see ``judge``) is not scored: it is listed in ``failed_ids`` with its
   error, counted in ``n_failed`` (overall and per source), excluded from every mean, and a warning says so.
   The released scorer counted such clips in a "Failed" column but otherwise let them disappear. A re-run with
   the same cache asks again only what got no reply (429/5xx/timeouts); cached replies, invalid ones included,
   are replayed, so a clip whose every reply was invalid fails again until ``max_reasks`` is raised.

The aggregate numbers are computed in ``metrics``.
"""

import asyncio
import concurrent.futures
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .cache import JudgeCache, default_cache_dir
from .fanout import judge_each
from .judge import Judge, JudgeConfig, JudgeFailure
from .metrics import summarize
from .protocol import build_protocol

logger = logging.getLogger(__name__)

RESULTS_FILE = "autodq_results.json"
PER_CLIP_FILE = "autodq_per_clip.jsonl"
PLOT_FILE = "autodq.png"


def extraction_caption(text: str) -> str:
    """The text given to event extraction (released ``extract_events``)."""
    return text.lower().replace('"', "'")


def count_entailed(judged: list[dict]) -> int:
    return sum(1 for item in judged if item["relationship"] == "entailment")


def event_score(events: list[str], judged: list[dict]) -> float:
    """Share of ``events`` judged entailed; 1.0 when there are no events (released ``motion_score``)."""
    return 1.0 if not events else count_entailed(judged) / len(events)


@dataclass
class ScoreReport:
    """The outcome of one scoring run: ``results`` (JSON-able numbers and protocol) and ``per_clip`` records."""

    results: dict
    per_clip: list[dict]

    def save(self, output_dir: str | Path) -> dict[str, Path]:
        """Write the results JSON, the per-clip JSONL and the PNG plot; returns their paths."""
        from .plot import plot_results

        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        paths = {
            "results": output_dir / RESULTS_FILE,
            "per_clip": output_dir / PER_CLIP_FILE,
            "plot": output_dir / PLOT_FILE,
        }
        paths["results"].write_text(json.dumps(self.results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        with paths["per_clip"].open("w", encoding="utf-8") as stream:
            for record in self.per_clip:
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        plot_results(self.results, paths["plot"])
        return paths


class AutoDQScorer:
    """Scores predictions on DREAM-1K with AutoDQ through a cached LLM judge.

    ``cache_dir=None`` uses the default cache folder (``default_cache_dir()``); ``use_cache=False`` keeps the
    replies in memory for this run only.
    """

    def __init__(
        self,
        judge: JudgeConfig | None = None,
        cache_dir: str | Path | None = None,
        *,
        use_cache: bool = True,
        bootstrap_resamples: int = 1000,
        seed: int = 0,
        show_progress: bool = True,
    ):
        self.judge_config = judge if judge is not None else JudgeConfig()
        self.cache_dir = (
            (Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()) if use_cache else None
        )
        self.bootstrap_resamples = bootstrap_resamples
        self.seed = seed
        self.show_progress = show_progress

    def score(
        self,
        predictions: dict[str, str],
        annotations: dict[str, dict],
        protocol: dict | None = None,
        unanswered: dict[str, str] | None = None,
    ) -> ScoreReport:
        """Score ``predictions`` (clip id -> description) against ``annotations`` (``load_dream1k_annotations``).

        ``unanswered`` (clip id -> reason) lists clips the model produced no description for (e.g. an unreadable
        video): they are failed clips like those whose judging fails, listed with the reason, never judged."""
        return _run_sync(lambda: self.ascore(predictions, annotations, protocol, unanswered))

    async def ascore(
        self,
        predictions: dict[str, str],
        annotations: dict[str, dict],
        protocol: dict | None = None,
        unanswered: dict[str, str] | None = None,
    ) -> ScoreReport:
        unanswered = {str(idx): reason for idx, reason in (unanswered or {}).items()}
        predictions = _checked_predictions(predictions, annotations, allow_empty=bool(unanswered))
        _check_unanswered(unanswered, predictions, annotations)
        cache = JudgeCache(self.cache_dir)
        judge = Judge(self.judge_config, cache)
        try:
            records = await self._score_all(judge, predictions, annotations) if predictions else []
        finally:
            await judge.aclose()
            cache.close()
        records += [_unanswered_record(annotations[idx], reason) for idx, reason in unanswered.items()]
        scored = [record for record in records if record["error"] is None]
        failed = [record for record in records if record["error"] is not None]
        results = {
            "benchmark": "DREAM-1K",
            **summarize(scored, failed, n_resamples=self.bootstrap_resamples, seed=self.seed),
            "n_scored": len(scored),
            "n_failed": len(failed),
            "failed_ids": [record["idx"] for record in failed],
            "failures": {record["idx"]: record["error"] for record in failed},
            "n_predictions": len(predictions) + len(unanswered),
            "n_annotations": len(annotations),
            "judge_stats": {**vars(judge.stats), "cache_dir": None if self.cache_dir is None else str(self.cache_dir)},
            "protocol": build_protocol(self.judge_config.describe(), protocol),
        }
        _warn_about(results)
        return ScoreReport(results=results, per_clip=records)

    async def _score_all(self, judge: Judge, predictions: dict[str, str], annotations: dict[str, dict]) -> list[dict]:
        # A clip asks up to 2 requests at a time; _score_clip records a clip's JudgeFailure itself (both sides run to
        # the end, so that every answered call is cached), so nothing reaches on_failure.
        return await judge_each(
            predictions,
            lambda idx: _score_clip(judge, annotations[idx], predictions[idx]),
            limit=self.judge_config.concurrency,
            progress=tqdm(total=len(predictions), desc="AutoDQ", unit="clip", disable=not self.show_progress),
        )


def _clip_record(annotation: dict, prediction: str | None) -> dict:
    """A clip's per-clip row before judging (every score field ``None``)."""
    return {
        "idx": annotation["idx"],
        "source": annotation["source"],
        "n_subjects": annotation.get("n_subjects"),
        "n_shots": annotation.get("n_shots"),
        "n_events": annotation.get("n_events"),
        "prediction": prediction,
        "reference": annotation["reference"],
        "ref_events_from": "annotation" if isinstance(annotation.get("events"), list) else "extracted",
        "ref_events": None,
        "pred_events": None,
        "recall": None,
        "precision": None,
        "recall_hits": None,
        "precision_hits": None,
        "recall_judgments": None,
        "precision_judgments": None,
        "error": None,
    }


async def _score_clip(judge: Judge, annotation: dict, prediction: str) -> dict:
    reference = annotation["reference"]
    record = _clip_record(annotation, prediction)

    async def recall_side():
        events = annotation["events"] if isinstance(annotation.get("events"), list) else None
        if events is None:
            events = await judge.extract_events(extraction_caption(reference))
        record["ref_events"] = events
        judged = await judge.judge_entailment(prediction.lower(), events or [reference.lower().replace("\n", " ")])
        record.update(recall_judgments=judged, recall_hits=count_entailed(judged), recall=event_score(events, judged))

    async def precision_side():
        events = await judge.extract_events(extraction_caption(prediction))
        record["pred_events"] = events
        judged = await judge.judge_entailment(reference.lower(), events or [prediction.lower().replace("\n", " ")])
        record.update(
            precision_judgments=judged, precision_hits=count_entailed(judged), precision=event_score(events, judged)
        )

    # Both sides run to the end even when one fails, so that every answered call is in the cache for a re-run.
    outcomes = await asyncio.gather(recall_side(), precision_side(), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, JudgeFailure):
            raise outcome
    errors = [str(outcome) for outcome in outcomes if isinstance(outcome, JudgeFailure)]
    if errors:
        record.update(error="; ".join(errors), recall=None, precision=None)
    return record


def _unanswered_record(annotation: dict, reason: str) -> dict:
    return {**_clip_record(annotation, None), "error": f"no prediction: {reason}"}


def _check_unanswered(unanswered: dict[str, str], predictions: dict[str, str], annotations: dict[str, dict]) -> None:
    unknown = [idx for idx in unanswered if idx not in annotations]
    if unknown:
        raise ValueError(f"{len(unknown)} unanswered clip ids are not in the annotations, e.g. {unknown[:10]}")
    both = [idx for idx in unanswered if idx in predictions]
    if both:
        raise ValueError(f"clips {both[:10]} are listed both with a prediction and as unanswered")


def _checked_predictions(predictions: dict, annotations: dict[str, dict], allow_empty: bool = False) -> dict[str, str]:
    if not isinstance(predictions, dict):
        raise TypeError(f"predictions must be a dict of clip id -> description, got {type(predictions).__name__}")
    checked: dict[str, str] = {}
    for idx, text in predictions.items():
        key = str(idx)
        if key in checked:
            raise ValueError(f"prediction id {idx!r} appears twice (as {key!r})")
        if not isinstance(text, str):
            raise ValueError(f"prediction for clip {key!r} is {type(text).__name__}, not a string")
        checked[key] = text
    unknown = [idx for idx in checked if idx not in annotations]
    if unknown:
        raise ValueError(f"{len(unknown)} prediction ids are not in the annotations, e.g. {unknown[:10]}")
    if not checked and not allow_empty:
        raise ValueError("no predictions to score")
    return checked


def _warn_about(results: dict) -> None:
    if results["n_failed"]:
        shown = ", ".join(results["failed_ids"][:20]) + (" ..." if results["n_failed"] > 20 else "")
        logger.warning(
            "AutoDQ: %d of %d clips FAILED (no prediction, or judging failed) and are EXCLUDED from every score "
            "(failed ids: %s). Their errors are in results['failures']. A re-run asks only what is not cached: failed requests "
            "(429/5xx/timeouts) are asked again; clips whose replies were all invalid need a higher max_reasks.",
            results["n_failed"],
            results["n_predictions"],
            shown,
        )
    unpredicted = results["n_annotations"] - results["n_predictions"]
    if unpredicted:
        logger.warning(
            "AutoDQ: %d of %d annotated clips have no prediction and are not scored.",
            unpredicted,
            results["n_annotations"],
        )


def _run_sync(make_coroutine):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    # Called from inside a running event loop (a notebook, an async framework): use a loop of our own in a thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()
