"""Video → pixel_values speed of TarsierProcessor against the official per-frame PIL loop and against decoding alone,
and the cost of ``video_io``'s frame-correctness policy.

Clips: a generated 720p 10 s H.264 MP4 (30 fps, x264 defaults), the same content as MPEG-4 Part 2 with B-frames in
an AVI (MSVD-style; "auto" decodes it with PyAV), and the demo clip (1920x800 H.264) when present. For 8 and 16
frames, timed in the same run, interleaved (each round times every function once, in turn, so that load from other
processes hits all alike), after one warm-up call:

- decode: decord reads the sampled indices with one reader, as the official code (what every path has to do);
- probe: ``video_io``'s PyAV index of the file (demux without decoding + the first frame, for the rotation): the
  policy's fixed cost on the decord path;
- auto / pyav: ``load_frames`` with the default backend and with PyAV (keyframe seeking), frames only;
- official loop: a straightforward re-implementation of bytedance/tarsier ``dataset/utils.py`` + ``processor.py``
  (decord → PIL per frame → stretch to square → CLIP image processor on the list);
- TarsierProcessor default path (identical pixels, checked) and fast path (``fast_resize=True``).

Prints, per cell, the median and the interquartile range (IQR) over ``--repeats`` rounds; ratios are of medians.

    python benchmarks/processor.py [--repeats 7]
"""

import argparse
import os
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

from tarsier_hf import video_io
from tarsier_hf.processing_tarsier import TarsierProcessor
from tarsier_hf.testing import CLIP_MEAN, CLIP_STD, build_tiny_tokenizer
from tarsier_hf.video_io import load_frames, resolve_backend, sample_frame_indices

DEMO_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos" / "demo_test.mp4"


def make_720p_clip(path: Path, seconds: int = 10, fps: int = 30, codec: str = "libx264") -> Path:
    """Smooth gradients, moving shapes and mild noise: compresses and decodes like camera footage. ``mpeg4``: MPEG-4
    Part 2 with two B-frames and a keyframe every 12 frames (put it in an .avi)."""
    width, height = 1280, 720
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "23"}
        else:
            stream.codec_context.max_b_frames, stream.codec_context.gop_size = 2, 12
            stream.bit_rate = 4_000_000
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


def interleaved_times(functions: dict, repeats: int) -> tuple[dict, dict]:
    """Seconds per function and round, timing them in turn within each round so that load from other processes hits
    all of them alike; also returns each function's last result."""
    results = {name: function() for name, function in functions.items()}  # warm-up (file cache, pools, imports)
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            results[name] = function()
            times[name].append(time.perf_counter() - start)
    return times, results


def median_iqr(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], 0.0
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    return statistics.median(values), quartiles[2] - quartiles[0]


def cell(values: list[float]) -> str:
    median, iqr = median_iqr(values)
    return f"{median:6.3f}±{iqr:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    clip_processor = CLIPImageProcessorPil(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}, image_mean=CLIP_MEAN, image_std=CLIP_STD
    )
    processor = TarsierProcessor(clip_processor, build_tiny_tokenizer(), patch_size=14)
    grey_level = 1 / 255 / min(CLIP_STD)

    with tempfile.TemporaryDirectory() as tmp:
        clips = {
            "720p h264 mp4": str(make_720p_clip(Path(tmp) / "clip720p.mp4")),
            "720p mpeg4-B avi": str(make_720p_clip(Path(tmp) / "clip720p.avi", codec="mpeg4")),
        }
        if DEMO_VIDEO.exists():
            clips["demo 1920x800 h264"] = str(DEMO_VIDEO)
        print(
            f"torch threads {torch.get_num_threads()}, CPU cores {os.cpu_count()}, {args.repeats} interleaved rounds "
            "after a warm-up; cells: median±IQR seconds\n"
        )
        header = (
            f"{'clip':19} {'n':>2} {'auto=':>6} {'decode':>12} {'probe':>12} {'auto':>12} {'pyav':>12} "
            f"{'official':>12} {'default':>12} {'fast':>12} {'auto/dec':>8} {'off/def':>7} {'off/fast':>8} "
            f"{'fast/dec':>8} {'def==off':>8} {'fast dev max/mean':>18}"
        )
        print(header)
        print("-" * len(header))
        for name, path in clips.items():
            for n in (8, 16):
                times, results = interleaved_times(
                    {
                        "decode": partial(decode_only, path, n),
                        "probe": partial(video_io._probe, Path(path)),
                        "auto": partial(load_frames, path, n),
                        "pyav": partial(load_frames, path, n, backend="pyav"),
                        "official": partial(official_loop, path, n, clip_processor),
                        "default": partial(processor_pixels, processor, path, n, fast=False),
                        "fast": partial(processor_pixels, processor, path, n, fast=True),
                    },
                    args.repeats,
                )
                median = {key: median_iqr(values)[0] for key, values in times.items()}
                official, default, fast = results["official"], results["default"], results["fast"]
                identical = torch.equal(default, official)
                deviation = (fast - official).abs()
                worst, mean = deviation.max().item(), deviation.mean().item()
                columns = " ".join(
                    cell(times[k]) for k in ("decode", "probe", "auto", "pyav", "official", "default", "fast")
                )
                print(
                    f"{name:19} {n:>2} {resolve_backend(path):>6} {columns} "
                    f"{median['auto'] / median['decode']:7.2f}x {median['official'] / median['default']:6.2f}x "
                    f"{median['official'] / median['fast']:7.2f}x {median['fast'] / median['decode']:7.2f}x "
                    f"{identical!s:>8} {worst / grey_level:6.1f}/{mean / grey_level:.2f} lv"
                )
    print(
        "\nauto=: the decoder load_frames' default picks; decode: one decord reader (official); probe: the PyAV index "
        "the policy reads first; auto/dec: default frame decoding time / official decord decoding (on the mpeg4 AVI "
        "decord's frames are wrong, so this is the price of the right ones); off/def: official loop / default path "
        "(>= 1: default no slower); off/fast: speed-up of the fast path; fast/dec: fast path / decode-only; "
        "def==off: default pixels identical to the official loop (on a clip decord reads wrongly the official loop "
        "has other frames: False); lv = 8-bit grey levels."
    )


if __name__ == "__main__":
    main()
