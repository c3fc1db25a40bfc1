"""Fixtures for the hub_cards tests: the local Hub (a real HTTP server on 127.0.0.1, ``hub_cards.testing``), a tiny
checkpoint, generated clips, and running ``tarsier-hub`` in a subprocess with ``HF_ENDPOINT`` pointing at the server."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/_proc_media.py

from _proc_media import write_video

from hub_cards.testing import LocalHubServer

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "hub"
DREAM1K_ANNOTATIONS = REPO.parent / "shared" / "data" / "dream1k" / "DREAM-1k.jsonl"
TOKEN = "hf_tarsierHubTestToken0123456789abcdef"  # what the server accepts; must never appear in any output
READ_TOKEN = "hf_tarsierHubReadOnlyToken0123456789"
_CLEARED_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
                "TRANSFORMERS_OFFLINE", "HF_HOME", "HF_HUB_CACHE", "HF_DATASETS_CACHE", "HF_TOKEN_PATH")


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
    env = {name: value for name, value in os.environ.items() if name not in _CLEARED_ENV}
    env.update(HF_ENDPOINT=hub_server.endpoint, HF_TOKEN=TOKEN, HF_HOME=str(tmp_path / "hf_home"),
               HF_HUB_DISABLE_TELEMETRY="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]))
    return env


def run_hub(args: list, env: dict, cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess:
    """``python -m hub_cards.cli ARGS`` (the ``tarsier-hub`` entry point); the token must not be in its output."""
    process = subprocess.run([sys.executable, "-m", "hub_cards.cli", *map(str, args)], check=False, env=env,
                             cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert TOKEN not in process.stdout + process.stderr
    return process


def output_of(process) -> str:
    return f"\n--- stdout ---\n{process.stdout[-4000:]}\n--- stderr ---\n{process.stderr[-4000:]}"


def assert_token_not_written(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert TOKEN.encode() not in path.read_bytes(), f"the token was written to {path}"


def write_training_folder(folder: Path, n_rows: int = 4) -> Path:
    """Three clips under ``clips/`` and ``train.jsonl`` in the training row format (row 1 uses a segment)."""
    (folder / "clips").mkdir(parents=True)
    for index in range(3):
        write_video(folder / "clips" / f"c{index}.mp4", num_frames=12, fps=8, width=32, height=32)
    rows = [
        {
            "id": f"r{index}",
            "video": f"clips/c{index % 3}.mp4",
            "start": 0.25 if index == 1 else None,
            "end": 1.0 if index == 1 else None,
            "messages": [
                {"role": "user", "content": "<video>\nDescribe the video."},
                {"role": "assistant", "content": f"Colour blocks, take {index}."},
            ],
        }
        for index in range(n_rows)
    ]
    (folder / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


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
