"""Video captioning (MSVD, MSR-VTT, VATEX): CIDEr-D, as the released ``CIDErMetric`` computes it.

Released scorer: ``evaluation/metrics/evaluate_caption_cider.py`` of bytedance/tarsier. Per item the references
(``text.response``, a list, or one string) and the prediction are lower-cased and tokenized with the Stanford PTB
tokenizer (``ptb``), then pycocoevalcap's ``Cider`` (CIDEr-D: n-grams 1-4, sigma 6, clipped counts, document
frequencies over the *evaluated set's* references) scores them. ``cider`` is the corpus score x 100 (the paper's
number). Every prediction is scored, ``"<error>"`` (failed generation) and empty ones included, as released; the
honest additions are ``n_generation_errors`` / ``generation_error_ids`` / ``n_empty`` and a bootstrap 95% CI of the
mean per-item score (document frequencies held fixed at the full set's).
"""

from __future__ import annotations

from .ptb import ptb_tokenize
from .released_format import generation_errors
from .stats import DEFAULT_RESAMPLES, bootstrap_ci, describe


def references_of(record: dict) -> list[str]:
    response = record["response"]
    references = [response] if isinstance(response, str) else list(response)
    if not references or not all(isinstance(ref, str) for ref in references):
        raise ValueError(f"{record.get('where', record['key'])}: text.response must be a caption or a list of captions")
    return references


def cider_scores(references: list[list[str]], predictions: list[str]) -> tuple[float, list[float]]:
    """Corpus CIDEr-D (x 1, as pycocoevalcap returns it) and the per-item scores."""
    from pycocoevalcap.cider.cider import Cider

    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} reference lists for {len(predictions)} predictions")
    if not predictions:
        raise ValueError("no captions to score")
    flat = [ref.lower() for refs in references for ref in refs] + [pred.lower() for pred in predictions]
    tokens = ptb_tokenize(flat)
    gts, res, position = {}, {}, 0
    for index, refs in enumerate(references):
        gts[index] = tokens[position : position + len(refs)]
        position += len(refs)
    for index in range(len(predictions)):
        res[index] = [tokens[position + index]]
    score, scores = Cider().compute_score(gts, res)
    return float(score), [float(value) for value in scores]


def summarize(records: list[dict], *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict:
    references = [references_of(record) for record in records]
    predictions = [record["prediction"] for record in records]
    score, per_item = cider_scores(references, predictions)
    errors = generation_errors(records)
    return {
        "overall": {"cider": 100.0 * score, "n": len(records)},
        "cider_ci95": bootstrap_ci([per_item], n_resamples=n_resamples, seed=seed, scale=100.0),
        "bootstrap": describe(n_resamples, seed, "per-item CIDEr-D resampled, document frequencies fixed"),
        "n_generation_errors": len(errors),
        "generation_error_ids": list(errors),
        "generation_errors": errors,
        "n_empty": sum(not prediction.strip() for prediction in predictions),
        "items": [
            {"key": record["key"], "prediction": record["prediction"], "cider": 100.0 * value}
            for record, value in zip(records, per_item)
        ],
    }
