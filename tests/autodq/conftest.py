"""Fixtures for the AutoDQ tests (the annotations and the judge server come from tests/conftest.py)."""

import pytest

from lmms_tasks.autodq import AutoDQScorer, JudgeConfig


@pytest.fixture
def make_scorer(judge_server, tmp_path, clean_judge_env):
    """``make_scorer(**judge_overrides)``: an ``AutoDQScorer`` asking ``judge_server``, caching under ``tmp_path``."""

    def make(cache_dir=None, bootstrap_resamples=200, **judge_overrides):
        settings = {"base_url": judge_server.base_url, "concurrency": 4, "timeout": 5.0, **judge_overrides}
        return AutoDQScorer(
            judge=JudgeConfig(**settings),
            cache_dir=cache_dir or tmp_path / "judge-cache",
            bootstrap_resamples=bootstrap_resamples,
            show_progress=False,
        )

    return make
