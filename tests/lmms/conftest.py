"""Fixtures for the lmms-eval integration tests: generated clips, a tiny Tarsier checkpoint and the environment of a
run (the local judge server comes from tests/conftest.py)."""

from pathlib import Path

import pytest
from _lmms_harness import CLIP_IDS, DREAM1K_ANNOTATIONS, base_env, write_clip


@pytest.fixture(scope="session")
def dream1k_videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dream1k_videos")
    for clip_id in CLIP_IDS:
        write_clip(folder / f"{clip_id}.mp4", seed=int(clip_id))
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from tarsier_hf.testing import save_tiny_checkpoint

    # Weights large enough that the pixels change the words: each clip's prediction shows it got its own video.
    larger_init = {"initializer_range": 0.2}
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny_tarsier"), text=larger_init, vision=larger_init)


@pytest.fixture
def lmms_env(tmp_path, dream1k_videos, judge_server) -> dict:
    """An offline run's environment with the local DREAM-1K annotations, the generated clips and the local judge."""
    env = base_env(tmp_path)
    env.update(
        TARSIER_DREAM1K_ANNOTATIONS=str(DREAM1K_ANNOTATIONS),
        TARSIER_DREAM1K_VIDEO_DIR=str(dream1k_videos),
        TARSIER_JUDGE_BASE_URL=judge_server.base_url,
        TARSIER_AUTODQ_CACHE=str(tmp_path / "judge_cache"),
    )
    return env
