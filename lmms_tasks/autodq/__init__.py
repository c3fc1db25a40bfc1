"""AutoDQ, the DREAM-1K metric of Tarsier (arXiv 2407.00634, section 4.2 and Appendix B), faithful to the released
scorer, with an OpenAI-compatible judge, a persistent judge cache and reproducibility records.

    from lmms_tasks.autodq import AutoDQScorer, JudgeConfig, load_dream1k_annotations

    annotations = load_dream1k_annotations("DREAM-1k.jsonl")
    scorer = AutoDQScorer(judge=JudgeConfig(model="gpt-3.5-turbo-0125"), cache_dir=None)
    report = scorer.score({"1": "A man walks ...", ...}, annotations, protocol={"frames": 8})
    report.results["overall"]["f1"]; report.save("out/")

Where each rule comes from: ``scorer`` (per-clip protocol, normalisation, edge cases), ``metrics`` (averaging,
buckets, bootstrap), ``parsing`` (reply clean-up and validation), ``judge`` (endpoint, retries, re-asks),
``cache`` (resumable judge cache), ``prompts`` (the released prompts, with source and license).
"""

from .annotations import AnnotationError, load_dream1k_annotations
from .cache import JudgeCache, default_cache_dir
from .judge import DEFAULT_JUDGE_MODEL, JudgeConfig, JudgeFailure, JudgeSetupError
from .prompts import PROMPT_HASH
from .scorer import AutoDQScorer, ScoreReport

__all__ = [
    "DEFAULT_JUDGE_MODEL",
    "PROMPT_HASH",
    "AnnotationError",
    "AutoDQScorer",
    "JudgeCache",
    "JudgeConfig",
    "JudgeFailure",
    "JudgeSetupError",
    "ScoreReport",
    "default_cache_dir",
    "load_dream1k_annotations",
]
