# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Tarsier's frame sampling and media decoding.

Sampling (indices are relative to the clip after start/end trimming):

- :func:`sample_frame_indices` — inference: ``round(i * (T - 1) / (n - 1))`` for ``i = 0..n-1`` (Python's
  ``round``, ties to even; first and last frame always taken; ``n = 1`` → frame 0; ``n > T`` repeats frames).
- :func:`sample_stage1_indices` — training stage 1: ``n`` drawn from ``[8, 32]``, one random frame from each of ``n``
  equal segments.
- :func:`sample_stage2_indices` — training stage 2: ``n`` drawn from ``{8, 16}``, then inference sampling.

Decoding: :func:`load_frames` turns a file into ``(n, H, W, 3)`` uint8 RGB frames — videos (mp4, avi, webm, mov,
mkv, wmv) with decord, or PyAV when decord is missing or fails on the file (and for wmv, where decord's seeking
picks wrong frames); GIFs with Pillow; still images as one frame. decord and PyAV return the same frames; their
pixels are identical on every file in the tests (which allow 2 grey levels for other FFmpeg builds). When the
sampled frames span several keyframe intervals, separate decord readers decode them in parallel (same frames).
:func:`map_frames` applies a per-frame function while decoding goes on. :func:`frames_from_decoded` takes frames
the caller already holds (PIL images, numpy arrays, torch tensors). Every problem with an input raises
:class:`MediaError` naming the file and the problem: missing file, unsupported extension, corrupt or truncated
video, zero-frame video, start time beyond the end, fewer than one frame requested.
"""

from __future__ import annotations

import bisect
import itertools
import os
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

try:
    # Loaded before decord on purpose: decord bundles its own FFmpeg and libvpx, and when those are loaded first
    # PyAV's VP9 encoder fails to open in the same process.
    import av
except ImportError:  # PyAV is optional when decord is installed
    av = None

__all__ = [
    "DEFAULT_NUM_FRAMES",
    "GIF_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "MEDIA_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "MediaError",
    "check_num_frames",
    "find_media_files",
    "frames_from_decoded",
    "load_frames",
    "map_frames",
    "media_kind",
    "sample_frame_indices",
    "sample_frame_indices_tarsier2",
    "sample_stage1_indices",
    "sample_stage2_indices",
    "trim_to_frame_range",
]

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".webm", ".mov", ".mkv", ".wmv"})
GIF_EXTENSIONS = frozenset({".gif"})
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | GIF_EXTENSIONS | IMAGE_EXTENSIONS
DEFAULT_NUM_FRAMES = 8

# decord's random access returns wrong frames for ASF (.wmv) files without a seek index (tests/test_video_io.py
# shows it on a generated clip), so "auto" decodes them with PyAV, which reads sequentially.
_DECORD_SEEKS_WRONG = frozenset({".wmv"})
# Parallel decord readers for clips with several keyframe intervals (more rarely pays off beyond 4).
_MAX_DECODE_WORKERS = 4

# A sampler maps the number of frames in the (trimmed) clip to the indices to take.
Sampler = Callable[[int], Sequence[int]]
# Receives each decoded frame with its index in the video.
FrameSink = Callable[[int, np.ndarray], None]
T = TypeVar("T")


class MediaError(ValueError):
    """An input that cannot be turned into frames. The message names the file (or input) and the problem."""


def media_kind(path: str | os.PathLike) -> str:
    """``"video"``, ``"gif"`` or ``"image"`` from the file extension (case-insensitive)."""
    extension = Path(path).suffix.lower()
    if extension in VIDEO_EXTENSIONS:
        return "video"
    if extension in GIF_EXTENSIONS:
        return "gif"
    if extension in IMAGE_EXTENSIONS:
        return "image"
    raise MediaError(
        f"{path}: unsupported file extension {extension or '(none)'!r}; supported: "
        f"videos {_listing(VIDEO_EXTENSIONS)}, GIF {_listing(GIF_EXTENSIONS)}, images {_listing(IMAGE_EXTENSIONS)}"
    )


def find_media_files(folder: str | os.PathLike) -> list[Path]:
    """The media files directly inside ``folder`` (not recursive), sorted by name; other files are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MediaError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)
    if not files:
        raise MediaError(f"{folder}: folder holds no media files (supported: {_listing(MEDIA_EXTENSIONS)})")
    return files


def _listing(extensions) -> str:
    return ", ".join(sorted(extensions))


# --------------------------------------------------------------------------------------------------- sampling


def check_num_frames(num_frames) -> None:
    """Raise :class:`MediaError` unless ``num_frames`` is an integer >= 1."""
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) or num_frames < 1:
        raise MediaError(f"num_frames (the number of frames to sample) must be an integer >= 1, got {num_frames!r}")


def _check_counts(total_frames: int, num_frames: int) -> None:
    check_num_frames(num_frames)
    if total_frames < 1:
        raise MediaError(f"cannot sample from a clip of {total_frames} frames")


def sample_frame_indices(total_frames: int, num_frames: int = DEFAULT_NUM_FRAMES) -> list[int]:
    """Tarsier's inference sampling: ``num_frames`` evenly spread indices into a clip of ``total_frames`` frames,
    first and last included. ``round`` is Python's (ties to even), as in the official code."""
    _check_counts(total_frames, num_frames)
    if num_frames == 1:
        return [0]
    return [round(i * (total_frames - 1) / (num_frames - 1)) for i in range(num_frames)]


def sample_frame_indices_tarsier2(total_frames: int, num_frames: int = 16) -> list[int]:
    """Tarsier2's inference sampling (bytedance/tarsier ``dataset/custom_data_parsers/utils.py``,
    ``_sample_frame_indices_v1``): :func:`sample_frame_indices`, except that a clip of at most ``num_frames``
    frames gives each of its frames once (no repeats), so a short clip yields fewer than ``num_frames`` frames."""
    _check_counts(total_frames, num_frames)
    if num_frames > 1 and total_frames <= num_frames:
        return list(range(total_frames))
    return sample_frame_indices(total_frames, num_frames)


def _as_rng(rng: random.Random | int | None) -> random.Random:
    return rng if isinstance(rng, random.Random) else random.Random(rng)


def sample_stage1_indices(
    total_frames: int, rng: random.Random | int | None = None, min_frames: int = 8, max_frames: int = 32
) -> list[int]:
    """Training stage 1: ``n`` uniform in ``[min_frames, max_frames]``; the clip is split into ``n`` equal segments
    and one frame is drawn uniformly from each. Segments shorter than a frame (``n > T``) reuse their first frame.
    ``rng`` is a :class:`random.Random` or a seed; the same seed gives the same indices."""
    rng = _as_rng(rng)
    num_frames = rng.randint(min_frames, max_frames)
    _check_counts(total_frames, num_frames)
    indices = []
    for segment in range(num_frames):
        start = segment * total_frames // num_frames
        end = (segment + 1) * total_frames // num_frames  # exclusive
        indices.append(rng.randrange(start, end) if end > start else min(start, total_frames - 1))
    return indices


def sample_stage2_indices(
    total_frames: int, rng: random.Random | int | None = None, frame_choices: Sequence[int] = (8, 16)
) -> list[int]:
    """Training stage 2: ``n`` drawn from ``frame_choices``, then :func:`sample_frame_indices` (first and last frame
    always included, the rest evenly spaced)."""
    rng = _as_rng(rng)
    return sample_frame_indices(total_frames, rng.choice(list(frame_choices)))


def trim_to_frame_range(
    total_frames: int, fps: float, start_time: float | None, end_time: float | None, source: str = "video"
) -> tuple[int, int]:
    """``(first, last)`` frame (inclusive) of the part of a ``total_frames`` clip between ``start_time`` and
    ``end_time`` seconds, computed like the official code (``int(fps * t)``, end clamped to the last frame).
    ``None`` (or a time <= 0 for the end, as officially) means the clip's own start / end."""
    first, last = 0, total_frames - 1
    if start_time is None and (end_time is None or end_time <= 0):
        return first, last
    if not fps or fps <= 0:
        raise MediaError(f"{source}: cannot trim by time, the frame rate is unknown")
    duration = total_frames / fps
    if start_time is not None:
        if start_time < 0:
            raise MediaError(f"{source}: start_time must be >= 0 seconds, got {start_time}")
        first = int(fps * start_time)
        if first > total_frames - 1:
            raise MediaError(
                f"{source}: start_time {start_time}s is beyond the end of the clip "
                f"({total_frames} frames at {fps:g} fps = {duration:.3f}s)"
            )
    if end_time is not None and end_time > 0:
        if start_time is not None and end_time <= start_time:
            raise MediaError(f"{source}: end_time {end_time}s must be after start_time {start_time}s")
        last = min(max(first, int(fps * end_time)), total_frames - 1)
    return first, last


def _indices_in_clip(
    total_frames: int,
    fps: float,
    num_frames: int,
    start_time: float | None,
    end_time: float | None,
    sampler: Sampler | None,
    source: str,
) -> list[int]:
    first, last = trim_to_frame_range(total_frames, fps, start_time, end_time, source)
    clip_length = last - first + 1
    try:
        relative = list(sampler(clip_length)) if sampler is not None else sample_frame_indices(clip_length, num_frames)
    except MediaError as error:
        raise MediaError(f"{source}: {error}") from None
    bad = [i for i in relative if not 0 <= i < clip_length]
    if bad:
        raise MediaError(f"{source}: the sampler returned indices {bad} outside the clip's {clip_length} frames")
    return [first + i for i in relative]


# --------------------------------------------------------------------------------------------------- decoding


def load_frames(
    path: str | os.PathLike,
    num_frames: int = DEFAULT_NUM_FRAMES,
    *,
    start_time: float | None = None,
    end_time: float | None = None,
    sampler: Sampler | None = None,
    backend: str = "auto",
) -> np.ndarray:
    """Decode the sampled frames of a video, GIF or image file as a ``(n, H, W, 3)`` uint8 RGB array.

    Args:
        path: the media file; its kind comes from the extension (:func:`media_kind`).
        num_frames: frames to take with :func:`sample_frame_indices` (ignored for still images, which are one frame).
        start_time, end_time: optional trimming in seconds before sampling (videos and GIFs).
        sampler: replaces the inference sampling, e.g. ``functools.partial(sample_stage1_indices, rng=seed)``.
        backend: ``"auto"`` (decord, falling back to PyAV; PyAV for .wmv), ``"decord"`` or ``"pyav"``; videos
            only.
    """
    decoded = {}
    indices = _decode_into(decoded.__setitem__, path, num_frames, start_time, end_time, sampler, backend)
    return np.stack([decoded[i] for i in indices])


def map_frames(
    transform: Callable[[np.ndarray], T],
    path: str | os.PathLike,
    num_frames: int = DEFAULT_NUM_FRAMES,
    *,
    start_time: float | None = None,
    end_time: float | None = None,
    sampler: Sampler | None = None,
    backend: str = "auto",
    max_workers: int | None = None,
) -> list[T]:
    """``[transform(frame) for frame in load_frames(...)]``, with the transforms running in a thread pool as soon as
    each frame is decoded, overlapping per-frame preprocessing with decoding. A frame sampled twice is transformed
    once and its result repeated."""
    with ThreadPoolExecutor(max(1, max_workers or os.cpu_count() or 1)) as pool:
        pending = {}

        def submit(index: int, frame: np.ndarray) -> None:
            pending[index] = pool.submit(transform, frame)

        indices = _decode_into(submit, path, num_frames, start_time, end_time, sampler, backend)
        return [pending[i].result() for i in indices]


def _decode_into(sink: FrameSink, path, num_frames, start_time, end_time, sampler, backend) -> list[int]:
    """Decode the frames to sample from ``path`` and hand each distinct one to ``sink(index, frame)`` as soon as it is
    decoded; return the sampled indices in order (with repeats)."""
    path = Path(path)
    kind = media_kind(path)
    if not path.exists():
        raise MediaError(f"{path}: file not found")
    if not path.is_file():
        raise MediaError(f"{path}: not a file")
    if sampler is None:
        try:
            _check_counts(1, num_frames)
        except MediaError as error:
            raise MediaError(f"{path}: {error}") from None
    if kind == "image":
        sink(0, _load_image(path))
        return [0]
    if kind == "gif":
        return _decode_gif(sink, path, num_frames, start_time, end_time, sampler)
    return _decode_video(sink, path, num_frames, start_time, end_time, sampler, backend)


def _load_image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise MediaError(f"{path}: cannot read image ({error})") from None


def _decode_gif(sink, path, num_frames, start_time, end_time, sampler) -> list[int]:
    try:
        with Image.open(path) as gif:
            total = getattr(gif, "n_frames", 1)
            durations_ms = []
            for index in range(total):
                gif.seek(index)
                durations_ms.append(gif.info.get("duration", 0) or 0)
            fps = total / (sum(durations_ms) / 1000) if sum(durations_ms) > 0 else 0.0
            indices = _indices_in_clip(total, fps, num_frames, start_time, end_time, sampler, str(path))
            for index in sorted(set(indices)):
                gif.seek(index)
                sink(index, np.asarray(gif.convert("RGB")))
    except MediaError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, EOFError) as error:
        raise MediaError(f"{path}: cannot read GIF ({error})") from None
    return indices


def _decode_video(sink, path, num_frames, start_time, end_time, sampler, backend) -> list[int]:
    if backend not in ("auto", "decord", "pyav"):
        raise ValueError(f"backend must be 'auto', 'decord' or 'pyav', got {backend!r}")
    if backend == "auto" and path.suffix.lower() in _DECORD_SEEKS_WRONG:
        backend = "pyav"
    problems = []
    if backend in ("auto", "decord"):
        try:
            return _decode_with_decord(sink, path, num_frames, start_time, end_time, sampler)
        except MediaError:
            raise
        except Exception as error:  # decord raises bare RuntimeError/DECORDError for every kind of failure
            if backend == "decord":
                raise MediaError(_decode_failure(path, [f"decord: {_first_line(error)}"])) from None
            problems.append(f"decord: {_first_line(error)}")
    try:
        # Frames decord handed over before failing are handed over again: the sink keeps the last one.
        return _decode_with_pyav(sink, path, num_frames, start_time, end_time, sampler)
    except MediaError:
        raise
    except Exception as error:
        problems.append(f"PyAV: {_first_line(error)}")
        raise MediaError(_decode_failure(path, problems)) from None


def _decode_failure(path, problems) -> str:
    return f"{path}: cannot decode video, the file is corrupt, truncated or not a video ({'; '.join(problems)})"


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300] if text else ''}"


def _no_frames(path) -> MediaError:
    return MediaError(f"{path}: zero-frame video, no video frames found")


def _decode_with_decord(sink, path, num_frames, start_time, end_time, sampler) -> list[int]:
    import decord  # optional dependency: ImportError sends us to PyAV

    reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    total = len(reader)
    if total == 0:
        raise _no_frames(path)
    indices = _indices_in_clip(total, reader.get_avg_fps(), num_frames, start_time, end_time, sampler, str(path))
    chunks = _split_at_keyframes(sorted(set(indices)), list(reader.get_key_indices()), _decode_workers())

    def decode(chunk: list[int], own_reader) -> None:
        for index in chunk:
            sink(index, own_reader[index].asnumpy())

    if len(chunks) == 1:
        decode(chunks[0], reader)
    else:
        # Each chunk starts in its own keyframe interval, so separate readers decode disjoint parts of the stream
        # in parallel (decord releases the GIL). Decoding is deterministic: the frames equal a single reader's.
        # Every chunk gets a reader made in its own thread: sharing the first reader was measured to be slower.
        def decode_with_new_reader(chunk: list[int]) -> None:
            decode(chunk, decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1))

        with ThreadPoolExecutor(len(chunks)) as pool:
            list(pool.map(decode_with_new_reader, chunks))
    return indices


def _decode_workers() -> int:
    return max(1, min(_MAX_DECODE_WORKERS, os.cpu_count() or 1))


def _split_at_keyframes(indices: list[int], keyframes: list[int], max_chunks: int) -> list[list[int]]:
    """Split sorted frame indices into at most ``max_chunks`` runs, cutting only where a new keyframe interval
    starts, so that the slowest chunk decodes as few frames as possible (a chunk decodes from the keyframe before
    its first index to its last index)."""
    interval = [bisect.bisect_right(keyframes, i) - 1 for i in indices]
    cuts = [k for k in range(1, len(indices)) if interval[k] != interval[k - 1]]
    if max_chunks <= 1 or not cuts:
        return [indices]

    def slowest(bounds) -> int:
        return max(indices[b - 1] - keyframes[max(interval[a], 0)] + 1 for a, b in itertools.pairwise(bounds))

    best = [0, len(indices)]
    for count in range(1, min(max_chunks - 1, len(cuts)) + 1):
        for chosen in itertools.combinations(cuts, count):
            bounds = [0, *chosen, len(indices)]
            if slowest(bounds) < slowest(best):
                best = bounds
    return [indices[a:b] for a, b in itertools.pairwise(best)]


def _decode_with_pyav(sink, path, num_frames, start_time, end_time, sampler) -> list[int]:
    if av is None:
        raise ImportError("PyAV is not installed (pip install av)")
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise _no_frames(path)
        stream = container.streams.video[0]
        # Some containers (webm, mkv, wmv) store no frame count: count the packets, as decord's index does.
        total = stream.frames or sum(1 for packet in container.demux(stream) if packet.size > 0)
        fps = float(stream.average_rate or stream.guessed_rate or 0)
    if total == 0:
        raise _no_frames(path)
    indices = _indices_in_clip(total, fps, num_frames, start_time, end_time, sampler, str(path))
    wanted, delivered, decoded_count = set(indices), 0, 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if decoded_count in wanted:
                sink(decoded_count, frame.to_ndarray(format="rgb24"))
                delivered += 1
            decoded_count += 1
            if decoded_count > max(indices):
                break
    if delivered < len(wanted):
        raise MediaError(
            f"{path}: truncated video, the container lists {total} frames but only {decoded_count} could be decoded"
        )
    return indices


# --------------------------------------------------------------------------------------------- decoded frames


def frames_from_decoded(
    frames, num_frames: int | None = None, *, sampler: Sampler | None = None, source: str = "decoded frames"
) -> list[np.ndarray]:
    """Already-decoded frames as a list of ``(H, W, 3)`` uint8 RGB arrays.

    ``frames`` is a list of PIL images / ``(H, W, C)`` arrays / tensors, or one ``(T, H, W, C)`` or ``(T, C, H, W)``
    numpy array or torch tensor (uint8). They are used as given unless ``num_frames`` or ``sampler`` is set, in
    which case that many are sampled as from a video file."""
    as_list = _split_frames(frames, source)
    if not as_list:
        raise MediaError(f"{source}: zero-frame video, no frames given")
    if sampler is not None or num_frames is not None:
        indices = _indices_in_clip(len(as_list), 0.0, num_frames or 1, None, None, sampler, source)
        as_list = [as_list[i] for i in indices]
    return as_list


def _split_frames(frames, source) -> list[np.ndarray]:
    if isinstance(frames, Image.Image):
        return [_frame_array(frames, source)]
    if _is_array(frames):
        array = _to_numpy(frames)
        if array.ndim == 3:
            return [_frame_array(array, source)]
        if array.ndim == 4:
            return [_frame_array(frame, source) for frame in array]
        raise MediaError(f"{source}: expected frames of shape (T, H, W, C) or (T, C, H, W), got {array.shape}")
    if isinstance(frames, (list, tuple)):
        return [_frame_array(frame, source) for frame in frames]
    raise MediaError(f"{source}: expected PIL images, numpy arrays or torch tensors, got {type(frames).__name__}")


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray) or type(value).__module__.startswith("torch")


def _to_numpy(value) -> np.ndarray:
    return value if isinstance(value, np.ndarray) else value.detach().cpu().numpy()


def _frame_array(frame, source) -> np.ndarray:
    if isinstance(frame, Image.Image):
        return np.asarray(frame.convert("RGB"))
    if not _is_array(frame):
        raise MediaError(
            f"{source}: expected a PIL image, numpy array or torch tensor frame, got {type(frame).__name__}"
        )
    array = _to_numpy(frame)
    if array.dtype != np.uint8:
        raise MediaError(f"{source}: frames must be uint8 RGB (0-255), got dtype {array.dtype}")
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise MediaError(f"{source}: a frame must be (H, W, C) or (C, H, W), got shape {array.shape}")
    if array.shape[-1] not in (1, 3, 4) and array.shape[0] in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)
    channels = array.shape[-1]
    if channels == 1:
        array = np.repeat(array, 3, axis=-1)
    elif channels == 4:
        array = array[..., :3]
    elif channels != 3:
        raise MediaError(f"{source}: a frame must have 1, 3 or 4 channels, got shape {array.shape}")
    return np.ascontiguousarray(array)
