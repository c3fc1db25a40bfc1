"""Fixtures for the AutoDQ tests: the real DREAM-1K annotations and a real local OpenAI-compatible judge server."""

from pathlib import Path

import pytest

from lmms_tasks.autodq import AutoDQScorer, JudgeConfig, load_dream1k_annotations
from lmms_tasks.autodq.testing import LocalJudgeServer

DREAM1K_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dream1k" / "DREAM-1k.jsonl"


@pytest.fixture(scope="session")
def dream1k_path() -> Path:
    if not DREAM1K_PATH.is_file():
        pytest.fail(f"the real DREAM-1K annotations are missing: {DREAM1K_PATH}")
    return DREAM1K_PATH


@pytest.fixture(scope="session")
def annotations(dream1k_path) -> dict[str, dict]:
    return load_dream1k_annotations(dream1k_path)


@pytest.fixture
def judge_server():
    """A started ``LocalJudgeServer`` (deterministic replies, fault injection, call counting) on 127.0.0.1."""
    with LocalJudgeServer() as server:
        yield server


@pytest.fixture
def make_scorer(judge_server, tmp_path, monkeypatch):
    """``make_scorer(**judge_overrides)``: an ``AutoDQScorer`` asking ``judge_server``, caching under ``tmp_path``."""
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "TARSIER_JUDGE_MODEL",
        "TARSIER_JUDGE_BASE_URL",
        "TARSIER_JUDGE_API_KEY",
        "TARSIER_JUDGE_CONCURRENCY",
        "TARSIER_AUTODQ_CACHE",
    ):
        monkeypatch.delenv(name, raising=False)

    def make(cache_dir=None, bootstrap_resamples=200, **judge_overrides):
        settings = {"base_url": judge_server.base_url, "concurrency": 4, "timeout": 5.0, **judge_overrides}
        return AutoDQScorer(
            judge=JudgeConfig(**settings),
            cache_dir=cache_dir or tmp_path / "judge-cache",
            bootstrap_resamples=bootstrap_resamples,
            show_progress=False,
        )

    return make
