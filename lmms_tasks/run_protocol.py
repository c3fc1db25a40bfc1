"""What the model and the task prompts of this lmms-eval process were, for the protocol written with the scores.

lmms-eval gives a task's aggregation only the per-clip items and the command-line arguments; how the model read
the video (frames, sampling) and which prompt the task sent are known to the model plugin and to ``doc_to_text``.
They record them here, in the process that aggregates (rank 0 under ``accelerate launch``, where every rank uses
the same settings), and the aggregation reads them back.
"""

from __future__ import annotations

_model_settings: dict = {}
_prompts: dict[str, None] = {}


def report_model_settings(**settings) -> None:
    """Called by a model plugin once it is built: e.g. ``num_frames``, ``frame_sampling``, ``dtype``."""
    _model_settings.clear()
    _model_settings.update(settings)


def model_settings() -> dict:
    """The last model's reported settings; empty for a model that reports none (e.g. lmms-eval's built-ins)."""
    return dict(_model_settings)


def report_prompt(prompt: str) -> None:
    _prompts.setdefault(prompt, None)


def prompts() -> list[str]:
    """Every distinct task prompt sent in this process, in first-use order."""
    return list(_prompts)


def reset() -> None:
    """Forget every reported setting and prompt (a new run in the same process, e.g. between tests)."""
    _model_settings.clear()
    _prompts.clear()
