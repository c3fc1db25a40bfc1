"""Video → pixel_values speed of TarsierProcessor against the official per-frame PIL loop and against decoding alone.

For 8 and 16 frames of a generated 720p 10 s clip and of the shared demo clip (1920x800), times, in the same run:

- decode only: decord reads the sampled indices (what every path has to do);
- official loop: a straightforward re-implementation of bytedance/tarsier ``dataset/utils.py`` + ``processor.py``
  (decord → PIL per frame → stretch to square → CLIP image processor on the list);
- TarsierProcessor default path (identical pixels, checked) and fast path (``fast_resize=True``).

Prints medians, the ratios, and the fast path's max deviation from the official pixels (in normalized units and in
8-bit grey levels). Targets: default no slower than the official loop; fast ≥ 2x faster than it and ≤ 1.5x
decode-only.

    python benchmarks/processor.py [--repeats 5]
"""

import argparse
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import av
import decord
import numpy as np
import torch
from PIL import Image
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from tarsier_hf.processing_tarsier import TarsierProcessor
from tarsier_hf.testing import CLIP_MEAN, CLIP_STD, build_tiny_tokenizer
from tarsier_hf.video_io import load_frames, sample_frame_indices

DEMO_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos" / "demo_test.mp4"


def make_720p_clip(path: Path, seconds: int = 10, fps: int = 30) -> Path:
    """Smooth gradients, moving shapes and mild noise: compresses and decodes like camera footage."""
    width, height = 1280, 720
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i in range(seconds * fps):
            frame = np.empty((height, width, 3), np.uint8)
            frame[..., 0] = (x + 4 * i) % 256
            frame[..., 1] = (y + 2 * i) % 256
            frame[..., 2] = ((x + y) // 4 + i) % 256
            cx, cy = (40 + 9 * i) % (width - 200), (60 + 5 * i) % (height - 200)
            frame[cy : cy + 200, cx : cx + 200] = (230, 40, 40)
            frame = np.clip(frame.astype(np.int16) + rng.integers(-6, 7, frame.shape), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decode_only(path: str, n: int) -> np.ndarray:
    reader = decord.VideoReader(path, num_threads=1, ctx=decord.cpu(0))
    return reader.get_batch(sample_frame_indices(len(reader), n)).asnumpy()


def official_loop(path: str, n: int, clip_processor) -> torch.Tensor:
    """bytedance/tarsier: sample_video (decord, PIL RGB frames), resize2square, then the CLIP image processor."""
    reader = decord.VideoReader(path, num_threads=1, ctx=decord.cpu(0))
    reader.seek(0)
    frames = reader.get_batch(sample_frame_indices(len(reader), n)).asnumpy()
    images = [Image.fromarray(frame).convert("RGB") for frame in frames]
    images = [image.resize((max(image.size), max(image.size))) for image in images]
    return clip_processor(images, return_tensors="pt")["pixel_values"]


def processor_pixels(processor, path: str, n: int, fast: bool) -> torch.Tensor:
    return processor(videos=path, num_frames=n, fast_resize=fast, return_tensors="pt")["pixel_values"]


def interleaved_medians(functions: dict, repeats: int) -> tuple[dict, dict]:
    """Median seconds per function, timing them in turn within each round so that load from other processes hits
    all of them alike; also returns each function's last result."""
    results = {name: function() for name, function in functions.items()}  # warm-up (file cache, pools, imports)
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            results[name] = function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}, results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    clip_processor = CLIPImageProcessorPil(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}, image_mean=CLIP_MEAN, image_std=CLIP_STD
    )
    processor = TarsierProcessor(clip_processor, build_tiny_tokenizer(), patch_size=14)
    grey_level = 1 / 255 / min(CLIP_STD)

    with tempfile.TemporaryDirectory() as tmp:
        clips = {"720p 10s (generated)": str(make_720p_clip(Path(tmp) / "clip720p.mp4"))}
        if DEMO_VIDEO.exists():
            clips["demo 1920x800"] = str(DEMO_VIDEO)
        print(f"torch threads {torch.get_num_threads()}, median of {args.repeats} runs, seconds\n")
        header = (
            f"{'clip':22} {'n':>3} {'decode':>7} {'ours-dec':>8} {'official':>8} {'default':>8} {'fast':>7} "
            f"{'off/def':>8} {'off/fast':>8} {'fast/dec':>8} {'def==off':>8} {'fast dev max / mean':>25}"
        )
        print(header)
        print("-" * len(header))
        for name, path in clips.items():
            for n in (8, 16):
                seconds, results = interleaved_medians(
                    {
                        "decode": partial(decode_only, path, n),
                        "ours": partial(load_frames, path, n),
                        "official": partial(official_loop, path, n, clip_processor),
                        "default": partial(processor_pixels, processor, path, n, fast=False),
                        "fast": partial(processor_pixels, processor, path, n, fast=True),
                    },
                    args.repeats,
                )
                t_decode, t_ours, t_official, t_default, t_fast = (
                    seconds[k] for k in ("decode", "ours", "official", "default", "fast")
                )
                official, default, fast = results["official"], results["default"], results["fast"]
                identical = torch.equal(default, official)
                deviation = (fast - official).abs()
                worst, mean = deviation.max().item(), deviation.mean().item()
                print(
                    f"{name:22} {n:>3} {t_decode:7.3f} {t_ours:8.3f} {t_official:8.3f} {t_default:8.3f} {t_fast:7.3f} "
                    f"{t_official / t_default:7.2f}x {t_official / t_fast:7.2f}x {t_fast / t_decode:7.2f}x "
                    f"{identical!s:>8} {worst:.4f} ({worst / grey_level:.1f} lv) / {mean / grey_level:.2f} lv"
                )
    print(
        "\ndecode: one decord reader (official); ours-dec: tarsier_hf.video_io.load_frames (parallel readers across "
        "keyframe intervals); off/def: official loop time / default path time (>= 1: default no slower); off/fast: speed-up of the fast "
        "path (target >= 2); fast/dec: fast path time / decode-only time (target <= 1.5); def==off: default pixels "
        "identical to the official loop; lv = 8-bit grey levels."
    )


if __name__ == "__main__":
    main()
