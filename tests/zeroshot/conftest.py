"""Fixtures for the zero-shot tests: a real local OpenAI-compatible judge on 127.0.0.1 and a clean judge environment."""

import pytest

from lmms_tasks.autodq import JudgeConfig
from lmms_tasks.autodq.testing import LocalJudgeServer

JUDGE_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "TARSIER_JUDGE_MODEL",
    "TARSIER_JUDGE_BASE_URL",
    "TARSIER_JUDGE_API_KEY",
    "TARSIER_JUDGE_CONCURRENCY",
    "TARSIER_AUTODQ_CACHE",
)


@pytest.fixture
def judge_server():
    with LocalJudgeServer() as server:
        yield server


@pytest.fixture
def judge_config(judge_server, monkeypatch):
    """``judge_config(**overrides)``: a ``JudgeConfig`` asking ``judge_server``."""
    for name in JUDGE_ENV:
        monkeypatch.delenv(name, raising=False)

    def make(**overrides):
        return JudgeConfig(**{"base_url": judge_server.base_url, "concurrency": 4, "timeout": 5.0, **overrides})

    return make
