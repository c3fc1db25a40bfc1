"""Helpers for the hub_cards tests: data paths, the test tokens, running ``tarsier-hub`` in a subprocess, a training
folder of generated clips. (Fixtures are in conftest.py.)"""

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/_proc_media.py

from _data import DREAM1K_SUBSET
from _proc_media import write_truncated_video, write_video, write_zero_frame_video

__all__ = ["write_truncated_video", "write_video", "write_zero_frame_video"]  # re-exported for the tests

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "hub"
DREAM1K_ANNOTATIONS = DREAM1K_SUBSET  # committed: a plain clone has no ../shared
TOKEN = "hf_tarsierHubTestToken0123456789abcdef"  # what the server accepts; must never appear in any output
READ_TOKEN = "hf_tarsierHubReadOnlyToken0123456789"
CLEARED_ENV = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_ENDPOINT",
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HF_DATASETS_CACHE",
    "HF_TOKEN_PATH",
)


def run_hub(args: list, env: dict, cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess:
    """``python -m hub_cards.cli ARGS`` (the ``tarsier-hub`` entry point); the token must not be in its output."""
    process = subprocess.run(
        [sys.executable, "-m", "hub_cards.cli", *map(str, args)],
        check=False,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
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
