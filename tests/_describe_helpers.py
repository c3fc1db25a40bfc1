"""Shared pieces of the `tarsier describe` tests: generated media the tiny model tells apart, the reference
(one input at a time through the processor's file path and `model.generate`), and the command as a subprocess."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from _proc_media import write_image, write_video
from PIL import Image

# Settings a developer's shell may hold that would change a run.
_CLEARED_ENV = ("HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "WORLD_SIZE", "RANK", "LOCAL_RANK")


def block_frames(seed: int, num_frames: int, width: int, height: int) -> list[np.ndarray]:
    """Random colour blocks, different per seed and frame, so that the tiny random model's output depends on them."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(num_frames):
        blocks = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        frames.append(np.kron(blocks, np.ones((height // 4, width // 4, 1), dtype=np.uint8)))
    return frames


def write_media_set(folder: Path, count: int, corrupt_at: int | None = None) -> list[Path]:
    """``count`` media files named in order (``00_*``, ``01_*``...): mp4 videos of different lengths and sizes, GIFs
    and PNG images mixed; the one at ``corrupt_at`` is a broken mp4."""
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [(32, 32), (64, 48), (96, 64), (40, 56)]  # not 48x32: decord returns 4 channels there (reported)
    paths = []
    for index in range(count):
        width, height = sizes[index % len(sizes)]
        kind = ("mp4", "mp4", "gif", "png")[index % 4]
        path = folder / f"{index:02d}_{kind}.{kind}"
        if index == corrupt_at:
            path = path.with_suffix(".mp4")
            path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
        elif kind == "mp4":
            write_video(
                path, fps=4, width=width, height=height, frames=block_frames(index, 3 + 5 * index % 23, width, height)
            )
        elif kind == "gif":
            frames = [Image.fromarray(f) for f in block_frames(index, 4 + index % 5, width, height)]
            frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
        else:
            write_image(path, width=width, height=height, seed=index)
        paths.append(path)
    return paths


def reference_descriptions(model, processor, paths, num_frames: int, max_new_tokens: int) -> list[str]:
    """Greedy descriptions one input at a time, the README's way: processor on the file, then `model.generate`."""
    descriptions = []
    for path in paths:
        instruction = "Describe the image in detail." if path.suffix == ".png" else "Describe the video in detail."
        inputs = processor(text=f"<video>\n{instruction}", videos=str(path), num_frames=num_frames, return_tensors="pt")
        with torch.inference_mode():
            output = model.generate(
                **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=processor.tokenizer.pad_token_id
            )
        descriptions.append(
            processor.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()
        )
    return descriptions


def cli_env(**extra) -> dict:
    env = {name: value for name, value in os.environ.items() if name not in _CLEARED_ENV}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def tarsier_command() -> list[str]:
    return [sys.executable, "-m", "tarsier_hf.cli"]


def run_tarsier(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*tarsier_command(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or cli_env(),
        check=False,
    )


def hub_cache_with(checkpoint, cache, repo_id="someone/tiny-tarsier"):
    """The Hugging Face cache layout (refs/main → snapshot folder) holding ``checkpoint`` as ``repo_id``."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    revision = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    shutil.copytree(checkpoint, repo / "snapshots" / revision)
    return repo_id
