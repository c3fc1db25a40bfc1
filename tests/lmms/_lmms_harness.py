"""Helpers for the lmms-eval integration tests: generated clips named after DREAM-1K ids, the environment of an
offline run, and running lmms-eval in a subprocess.

lmms-eval exits 0 even when a run fails, so :func:`load_run` looks for the files a run writes, not at exit codes.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
from _data import DREAM1K_SUBSET, REPO

from lmms_tasks.autodq.cache import CACHE_DIR_ENV
from lmms_tasks.autodq.judge import JUDGE_ENVS

DREAM1K_ANNOTATIONS = DREAM1K_SUBSET  # 50 real clips, 10 per source (tests/data/README.md)
TASKS_DIR = REPO / "lmms_tasks" / "tasks"
# The first four clips (all DREAM/movie_animation) and two on each side of the first source boundary.
CLIP_IDS = ("1", "2", "3", "4", "199", "200", "201", "202")
# Settings a developer's shell may hold; every run must use only what the test gives it.
_CLEARED_ENV = (
    *JUDGE_ENVS,
    CACHE_DIR_ENV,
    "TARSIER_DREAM1K_ANNOTATIONS",
    "TARSIER_DREAM1K_VIDEO_DIR",
    "TARSIER_HF_TASK_DISCOVERY",
    "LMMS_EVAL_PLUGINS",
    "HF_DATASETS_CACHE",
    "HF_HUB_CACHE",
)


def write_clip(path: Path, seed: int, num_frames: int = 6, size: int = 32) -> Path:
    """A short mp4 of random colour blocks (different per seed), so that every clip looks different to the model."""
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        for _ in range(num_frames):
            blocks = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            frame = np.kron(blocks, np.ones((size // 4, size // 4, 1), dtype=np.uint8))
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def base_env(tmp_path: Path) -> dict:
    """The environment of an offline lmms-eval run with its own caches and no judge or data configured."""
    env = {name: value for name, value in os.environ.items() if name not in _CLEARED_ENV}
    env.update(
        HF_HOME=str(tmp_path / "hf_home"),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_lmms_eval(args: list[str], env: dict, cwd: Path, launcher: list[str] | None = None, timeout: int = 300):
    """``python -m lmms_eval ARGS`` (or ``LAUNCHER -m lmms_eval ARGS``); returns the finished process."""
    command = (launcher or [sys.executable]) + ["-m", "lmms_eval", *args]
    return subprocess.run(command, check=False, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def output_of(process) -> str:
    return f"\n--- stdout ---\n{process.stdout[-6000:]}\n--- stderr ---\n{process.stderr[-6000:]}"


def load_run(output_path: Path, process) -> tuple[dict, list[dict]]:
    """The results JSON and the logged samples (by doc id) a run wrote under ``output_path``."""
    results_files = sorted(output_path.rglob("[0-9]*_results.json"))
    assert len(results_files) == 1, (
        f"expected one results file under {output_path}, found {results_files}{output_of(process)}"
    )
    samples_files = sorted(output_path.rglob("[0-9]*_samples_dream1k.jsonl"))
    assert len(samples_files) == 1, (
        f"expected one samples file under {output_path}, found {samples_files}{output_of(process)}"
    )
    results = json.loads(results_files[0].read_text(encoding="utf-8"))
    samples = [json.loads(line) for line in samples_files[0].read_text(encoding="utf-8").splitlines()]
    return results, sorted(samples, key=lambda sample: sample["doc_id"])
