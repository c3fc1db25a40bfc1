"""Fixtures for the hub_cards tests: the local Hub (a real HTTP server on 127.0.0.1, ``hub_cards.testing``), a tiny
checkpoint, generated clips, the environment of a ``tarsier-hub`` run with ``HF_ENDPOINT`` pointing at the server."""

import json
import os
from pathlib import Path

import pytest
from _hub_harness import CLEARED_ENV, DREAM1K_ANNOTATIONS, READ_TOKEN, REPO, TOKEN, write_training_folder, write_video

from hub_cards.testing import LocalHubServer


@pytest.fixture(scope="session")
def hub_server():
    with LocalHubServer(tokens={TOKEN}, read_only_tokens={READ_TOKEN}) as server:
        yield server


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from tarsier_hf.testing import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny_tarsier"))


@pytest.fixture
def hub_env(tmp_path, hub_server) -> dict:
    """The environment of a ``tarsier-hub`` run against the local Hub, with its own HF cache."""
    env = {name: value for name, value in os.environ.items() if name not in CLEARED_ENV}
    env.update(
        HF_ENDPOINT=hub_server.endpoint,
        HF_TOKEN=TOKEN,
        HF_HOME=str(tmp_path / "hf_home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
    )
    return env


@pytest.fixture
def training_folder(tmp_path) -> Path:
    return write_training_folder(tmp_path / "train_src")


@pytest.fixture
def dream1k_folder(tmp_path) -> Path:
    """The first 3 real DREAM-1K annotations (Tarsier's format) and a generated clip per clip id, in a sub-folder."""
    folder = tmp_path / "dream_src"
    (folder / "videos").mkdir(parents=True)
    lines = DREAM1K_ANNOTATIONS.read_text(encoding="utf-8").splitlines()[:3]
    (folder / "DREAM-1k.jsonl").write_text("\n".join(lines) + "\n")
    for line in lines:
        write_video(folder / "videos" / f"{json.loads(line)['idx']}.mp4", num_frames=10, fps=5, width=32, height=32)
    return folder
