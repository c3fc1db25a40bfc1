"""Fixtures for the zero-shot tests: a real local OpenAI-compatible judge on 127.0.0.1 and a clean judge environment."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lmms"))  # the lmms-eval test harness (write_clip, runs)

from lmms_tasks.autodq import JudgeConfig
from lmms_tasks.autodq.cache import CACHE_DIR_ENV
from lmms_tasks.autodq.judge import JUDGE_ENVS


@pytest.fixture
def judge_config(judge_server, monkeypatch):
    """``judge_config(**overrides)``: a ``JudgeConfig`` asking ``judge_server``."""
    for name in (*JUDGE_ENVS, CACHE_DIR_ENV):
        monkeypatch.delenv(name, raising=False)

    def make(**overrides):
        return JudgeConfig(**{"base_url": judge_server.base_url, "concurrency": 4, "timeout": 5.0, **overrides})

    return make


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    from tarsier_hf.testing import save_tiny_checkpoint

    larger_init = {"initializer_range": 0.2}  # so that the pixels change the generated words
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny_tarsier"), text=larger_init, vision=larger_init)


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    from _lmms_harness import write_clip

    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seed=0)
