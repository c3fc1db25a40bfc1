"""Fixtures shared by every test module: data paths, tiny checkpoints in both layouts (built once per session), one
local judge server (reset before each test) and the reset of process-wide state between tests.

Helpers live next to this file: ``_data.py`` (every data path), ``_proc_media.py`` (generated media).
"""

import pytest
from _data import DREAM1K_SUBSET, SHARED_DREAM1K, shared_data_path

# ----------------------------------------------------------------------------------------------------- state


@pytest.fixture(autouse=True)
def _reset_process_state():
    """What one test records in process-wide registries must not reach the next one (results would depend on the
    order tests run in): the lmms-eval run protocol (model settings, prompts)."""
    from lmms_tasks import run_protocol

    run_protocol.reset()
    yield
    run_protocol.reset()


@pytest.fixture
def clean_judge_env(monkeypatch):
    """No judge setting from the developer's shell reaches the test."""
    from lmms_tasks.autodq.cache import CACHE_DIR_ENV
    from lmms_tasks.autodq.judge import JUDGE_ENVS

    for name in (*JUDGE_ENVS, CACHE_DIR_ENV):
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------------------------------------------ data


@pytest.fixture(scope="session")
def dream1k_path():
    """The committed DREAM-1K subset (50 clips, 10 per source; see tests/data/README.md)."""
    return DREAM1K_SUBSET


@pytest.fixture(scope="session")
def annotations(dream1k_path) -> dict[str, dict]:
    from lmms_tasks.autodq import load_dream1k_annotations

    return load_dream1k_annotations(dream1k_path)


@pytest.fixture(scope="session")
def full_dream1k_path():
    """The full 1000-clip DREAM-1K file; skips the test when the shared data is absent."""
    return shared_data_path(SHARED_DREAM1K)


# ------------------------------------------------------------------------------------------ tiny checkpoints


@pytest.fixture(scope="session")
def official_checkpoint(tmp_path_factory):
    """A tiny random checkpoint in the official Hub layout (``model_type: "llava"``, transformers-4 keys, no
    processor config), weights of ``tiny_model(seed=0)``. Read-only: copy it before changing anything."""
    from tarsier_hf.testing import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "official", layout="legacy")


@pytest.fixture(scope="session")
def native_checkpoint(tmp_path_factory):
    """The same weights in this package's layout (``model_type: "tarsier"``, processor config, chat template)."""
    from tarsier_hf.testing import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "native", layout="native")


# ------------------------------------------------------------------------------------------------ judge server


@pytest.fixture(scope="session")
def _judge_server_session():
    from lmms_tasks.autodq.testing import LocalJudgeServer

    with LocalJudgeServer() as server:
        yield server


@pytest.fixture
def judge_server(_judge_server_session):
    """The session's ``LocalJudgeServer`` on 127.0.0.1 (deterministic replies, fault injection, call counting),
    with counters, faults and settings reset before the test."""
    server = _judge_server_session
    settings = {
        name: getattr(server, name) for name in ("latency", "timeout_delay", "api_key", "models", "other_reply")
    }
    server.reset()
    yield server
    for name, value in settings.items():
        setattr(server, name, value)
    server.reset()
