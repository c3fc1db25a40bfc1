# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Tarsier's frame sampling and media decoding.

Sampling (indices are relative to the clip after start/end trimming):

- :func:`sample_frame_indices` — inference: ``round(i * (T - 1) / (n - 1))`` for ``i = 0..n-1`` (Python's
  ``round``, ties to even; first and last frame always taken; ``n = 1`` → frame 0; ``n > T`` repeats frames).
- :func:`sample_stage1_indices` — training stage 1: ``n`` drawn from ``[8, 32]``, one random frame from each of ``n``
  equal segments.
- :func:`sample_stage2_indices` — training stage 2: ``n`` drawn from ``{8, 16}``, then inference sampling.

Frames are the frames of a sequential decode (the truth): frame ``i`` is the ``i``-th picture in presentation
order, turned upright by the file's display rotation (as ``ffmpeg`` and players do), as ``(n, H, W, 3)`` uint8 RGB.

Time windows (``start_time`` / ``end_time`` seconds) keep the frames whose presentation timestamps lie in
``[start_time, end_time]`` (:func:`frame_range_by_time`): right for variable frame rates and for GIFs with
per-frame durations. On constant-frame-rate clips this is the official ``int(fps * t)`` except for a start time
strictly between two frames, where the official code starts one frame earlier (:func:`trim_to_frame_range` keeps
the official formula).

Decoder policy (:func:`load_frames` ``backend="auto"``, :func:`resolve_backend` tells the choice): PyAV first
indexes the file (demuxing packets, no picture decoding but the first, for the rotation); decord is used only where
its random access was measured exact — H.264 in MP4/MOV (.mp4, .m4v, .mov), no display rotation, decord's frame
count and timestamps equal to the index's (within 1 ms) — which keeps the official reader and its pixels on
ordinary clips (parity tested). Everything else is decoded with PyAV, which seeks to the keyframe before each wanted
frame and identifies frames by presentation timestamp, falling back to decoding from the start when the file's
timestamps or seeking cannot be trusted. Measured on generated clips (tests/test_video_frames_matrix.py): decord
returns wrong frames for B-frame MPEG-4 Part 2 in AVI, MP4 and MKV, for H.264 in AVI (B-frames or all-intra),
for ASF (wmv), and scrambled pixels for 90°/270° rotations; it was right on H.264 in MP4/MOV/MKV, HEVC and VP9,
but outside MP4/MOV H.264 its timestamps cannot be checked against a sample table, so those go to PyAV too.
``backend="decord"`` reads as decord does (except 90°/270° rotations, refused), ``backend="pyav"`` always PyAV.
Cost: the index adds a few milliseconds per file on the decord path; see ``benchmarks/processor.py``.

GIFs are read with Pillow, still images as one frame. A folder of images (e.g. MVBench's TVQA frames) is a clip whose
frames are its images in natural name order (``2.jpg`` before ``10.jpg``); it has no timestamps, so a time window on
it is refused. When the sampled frames span several keyframe intervals,
separate decord readers decode them in parallel (same frames; ``TARSIER_DECODE_WORKERS`` sets how many, default
``min(4, cpu count)``). :func:`map_frames` applies a per-frame function while decoding goes on.
:func:`frames_from_decoded` takes frames the caller already holds (PIL images, numpy arrays, torch tensors).
Extensions: one list here (:data:`VIDEO_EXTENSIONS`, :data:`CLIP_EXTENSIONS` = videos + GIF,
:data:`MEDIA_EXTENSIONS`), used by the processor, the CLI and the tasks.

Every problem with an input raises :class:`MediaError` naming the file and the problem: missing file, unsupported
extension, corrupt or truncated video, zero-frame video, start time beyond the end, an empty time window, fewer than
one frame requested, a missing decoder ("PyAV is not installed (pip install av)"). decord's own C++ log line for a
file it cannot open is silenced (the error carries it).
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import random
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

try:
    from PIL import Image, UnidentifiedImageError
except ImportError as error:  # transformers' remote-code check would say "pip install PIL"; the package is pillow
    raise ImportError("Pillow is not installed (pip install pillow)") from error

try:
    # Loaded before decord on purpose: decord bundles its own FFmpeg and libvpx, and when those are loaded first
    # PyAV's VP9 encoder fails to open in the same process.
    import av
except ImportError:  # PyAV is optional when decord is installed
    av = None

__all__ = [
    "CLIP_EXTENSIONS",
    "DEFAULT_NUM_FRAMES",
    "GIF_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "MEDIA_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "MediaError",
    "check_num_frames",
    "find_media_files",
    "frame_folder_files",
    "frame_range_by_time",
    "frames_from_decoded",
    "load_frames",
    "map_frames",
    "media_kind",
    "resolve_backend",
    "sample_frame_indices",
    "sample_frame_indices_tarsier2",
    "sample_stage1_indices",
    "sample_stage2_indices",
    "trim_to_frame_range",
]

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".avi", ".webm", ".mov", ".mkv", ".wmv"})
GIF_EXTENSIONS = frozenset({".gif"})
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})
# Files with several frames in time (what a video benchmark indexes), and every file load_frames reads.
CLIP_EXTENSIONS = VIDEO_EXTENSIONS | GIF_EXTENSIONS
MEDIA_EXTENSIONS = CLIP_EXTENSIONS | IMAGE_EXTENSIONS
DEFAULT_NUM_FRAMES = 8

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
    """``"video"``, ``"gif"`` or ``"image"`` from the file extension (case-insensitive); ``"frames"`` for an existing
    folder (a clip given as one image per frame)."""
    if Path(path).is_dir():
        return "frames"
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


def frame_range_by_time(
    times: Sequence[float], start_time: float | None, end_time: float | None, source: str = "video"
) -> tuple[int, int]:
    """``(first, last)`` frame (inclusive) of the frames whose presentation time (``times[i]``, seconds since the
    first frame, ascending) lies in ``[start_time, end_time]``. ``None`` (or an end time <= 0, as officially) means
    the clip's own start / end. Works for variable frame rates and GIFs with per-frame durations.

    On a constant-frame-rate clip the last frame equals the official ``int(fps * end_time)``; the first differs from
    the official ``int(fps * start_time)`` (:func:`trim_to_frame_range`) only when ``start_time`` falls strictly
    between two frames: the official code then starts with the frame already on screen, this with the next one."""
    total = len(times)
    first, last = 0, total - 1
    if start_time is None and (end_time is None or end_time <= 0):
        return first, last
    if not times:
        raise MediaError(f"{source}: cannot trim by time, the frame timestamps and frame rate are unknown")
    if start_time is not None:
        if start_time < 0:
            raise MediaError(f"{source}: start_time must be >= 0 seconds, got {start_time}")
        first = bisect.bisect_left(times, start_time - _TIME_EPSILON)
        if first > total - 1:
            raise MediaError(
                f"{source}: start_time {start_time}s is beyond the end of the clip "
                f"({total} frames, the last at {times[-1]:.3f}s)"
            )
    if end_time is not None and end_time > 0:
        if start_time is not None and end_time <= start_time:
            raise MediaError(f"{source}: end_time {end_time}s must be after start_time {start_time}s")
        last = bisect.bisect_right(times, end_time + _TIME_EPSILON) - 1
        if last < first:
            raise MediaError(
                f"{source}: no frame is shown between start_time {start_time}s and end_time {end_time}s "
                f"(frames at {times[first - 1] if first else 0:.3f}s and {times[first]:.3f}s)"
            )
    return first, last


_TIME_EPSILON = 1e-6  # seconds: a timestamp equal to a bound up to float rounding is inside


def _indices_in_clip(
    times: Sequence[float] | int,
    num_frames: int,
    start_time: float | None,
    end_time: float | None,
    sampler: Sampler | None,
    source: str,
) -> list[int]:
    """Sampled frame indices (into the whole clip) after trimming to ``[start_time, end_time]`` by ``times``
    (frame presentation times; an ``int`` is a frame count without timestamps)."""
    if isinstance(times, int):
        if start_time is not None or (end_time is not None and end_time > 0):
            raise MediaError(f"{source}: cannot trim by time, the frame timestamps and frame rate are unknown")
        first, last = 0, times - 1
    else:
        first, last = frame_range_by_time(times, start_time, end_time, source)
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
    """Decode the sampled frames of a video, GIF, image file or frame folder as a ``(n, H, W, 3)`` uint8 RGB array.

    Args:
        path: the media file (its kind comes from the extension, :func:`media_kind`) or a folder of frame images.
        num_frames: frames to take with :func:`sample_frame_indices` (ignored for still images, which are one frame).
        start_time, end_time: optional trimming in seconds before sampling (videos and GIFs): the frames whose
            presentation timestamps lie in ``[start_time, end_time]`` (:func:`frame_range_by_time`).
        sampler: replaces the inference sampling, e.g. ``functools.partial(sample_stage1_indices, rng=seed)``.
        backend: ``"auto"`` (decord where its random access is exact, else PyAV; see the module docstring),
            ``"decord"`` or ``"pyav"``; videos only.

    Returns the frames upright (display rotation applied). Raises :class:`MediaError` for every bad input.
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
    if kind == "frames":
        return _decode_frame_folder(sink, path, num_frames, start_time, end_time, sampler)
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


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def frame_folder_files(folder: str | os.PathLike) -> list[Path]:
    """The frames of a frame folder: its image files (not recursive) in natural name order, ``._*`` files skipped.
    Raises :class:`MediaError` when it holds none."""
    folder = Path(folder)
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("._")
    ]
    if not files:
        raise MediaError(f"{folder}: folder holds no frame images (supported: {_listing(IMAGE_EXTENSIONS)})")
    return sorted(files, key=_natural_key)


def _decode_frame_folder(sink, folder, num_frames, start_time, end_time, sampler) -> list[int]:
    if sampler is None:
        try:
            _check_counts(1, num_frames)
        except MediaError as error:
            raise MediaError(f"{folder}: {error}") from None
    files = frame_folder_files(folder)
    indices = _indices_in_clip(len(files), num_frames, start_time, end_time, sampler, f"{folder} (frame folder)")
    shape = None
    for index in sorted(set(indices)):
        frame = _load_image(files[index])
        if shape is not None and frame.shape != shape:
            raise MediaError(
                f"{files[index]}: frame size {frame.shape[1]}x{frame.shape[0]} differs from the folder's first "
                f"sampled frame ({shape[1]}x{shape[0]})"
            )
        shape = frame.shape
        sink(index, frame)
    return indices


def _decode_gif(sink, path, num_frames, start_time, end_time, sampler) -> list[int]:
    try:
        with Image.open(path) as gif:
            total = getattr(gif, "n_frames", 1)
            durations_ms = []
            for index in range(total):
                gif.seek(index)
                durations_ms.append(gif.info.get("duration", 0) or 0)
            # frame i is shown from the sum of the durations before it; no durations at all: no timing
            times = list(itertools.accumulate(durations_ms[:-1], initial=0)) if any(durations_ms) else []
            times = [t / 1000 for t in times]
            indices = _indices_in_clip(times if times else total, num_frames, start_time, end_time, sampler, str(path))
            for index in sorted(set(indices)):
                gif.seek(index)
                sink(index, np.asarray(gif.convert("RGB")))
    except MediaError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, EOFError) as error:
        raise MediaError(f"{path}: cannot read GIF ({error})") from None
    return indices


def resolve_backend(path: str | os.PathLike, backend: str = "auto") -> str:
    """The decoder :func:`load_frames` uses for the video ``path`` with ``backend``: ``"decord"`` or ``"pyav"``.
    ``"auto"`` picks decord only where its random access is exact (see the module docstring). Raises
    :class:`MediaError` for unreadable files and missing decoders."""
    path = Path(path)
    if media_kind(path) != "video":
        raise MediaError(f"{path}: not a video file (the backend choice concerns videos only)")
    if not path.is_file():
        raise MediaError(f"{path}: file not found")
    return _plan(path, backend)[0]


def _decode_video(sink, path, num_frames, start_time, end_time, sampler, backend) -> list[int]:
    chosen, reader, index = _plan(path, backend)
    if chosen == "decord":
        return _decode_with_decord(sink, path, reader, index, num_frames, start_time, end_time, sampler)
    return _decode_with_pyav(sink, path, index, num_frames, start_time, end_time, sampler)


def _plan(path: Path, backend: str):
    """``(decoder, decord reader or None, PyAV stream index or None)`` for ``backend`` on ``path``."""
    if backend not in ("auto", "decord", "pyav"):
        raise ValueError(f"backend must be 'auto', 'decord' or 'pyav', got {backend!r}")
    decord = _import_decord() if backend != "pyav" else None
    if backend == "pyav" and av is None:
        raise MediaError(f"{path}: cannot decode video with backend='pyav': {_NO_PYAV}")
    if backend == "decord" and decord is None:
        raise MediaError(f"{path}: cannot decode video with backend='decord': {_NO_DECORD}")
    if av is None and decord is None:
        raise MediaError(f"{path}: cannot decode video, no video decoder is installed: {_NO_PYAV}")
    index = None
    if av is not None:
        try:
            index = _probe(path)  # MediaError for corrupt, truncated or zero-frame files
        except MediaError:
            if backend != "decord":
                raise
    if decord is not None:
        try:
            with _stderr_silenced():
                reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        except Exception as error:  # noqa: BLE001 (decord raises bare RuntimeError/DECORDError for every kind of failure)
            if backend == "decord" or index is None:
                raise MediaError(_decode_failure(path, [f"decord: {_first_line(error)}"])) from None
            reader = None  # PyAV reads the file: decode it with PyAV
        if reader is not None:
            problem = _decord_problem(path, reader, index)
            if backend == "decord" and problem is not None and problem.startswith(_DECORD_CANNOT):
                raise MediaError(f"{path}: {problem}; use backend='pyav' or 'auto'")
            if backend == "decord" or problem is None:
                return "decord", reader, index
            if index is None:
                raise MediaError(f"{path}: {_NO_PYAV}; decord alone does not read this file exactly ({problem})")
    return "pyav", None, index


_NO_PYAV = "PyAV is not installed (pip install av)"
_NO_DECORD = "decord is not installed (pip install decord; wheels exist for Linux x86_64 only)"
_DECORD_CANNOT = "decord cannot apply"
# decord's random access is exact where its frame index is: MP4/MOV (the index is the container's sample table)
# holding H.264. Elsewhere it mis-orders B-frames (MPEG-4 Part 2 in AVI) or has no timestamps to check; see
# tests/test_video_frames_matrix.py and the module docstring for the measured cases.
_DECORD_CONTAINERS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2"})
_DECORD_CODECS = frozenset({"h264"})


def _import_decord():
    try:
        import decord
    except ImportError:
        return None
    decord.logging.set_level(decord.logging.QUIET)  # its FFmpeg's messages ("moov atom not found", ...)
    return decord


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _stderr_silenced():
    """Send file descriptor 2 to /dev/null for the duration: decord's C++ logger writes "ERROR opening: ..." there
    for every file it cannot open (decord.logging's level does not reach it), before raising an exception that
    carries the same text. Only the opening of the first reader is wrapped (a few milliseconds)."""
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:  # no usable stderr: nothing to silence
            yield
            return
        try:
            with open(os.devnull, "wb") as devnull:
                os.dup2(devnull.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _decode_failure(path, problems) -> str:
    return f"{path}: cannot decode video, the file is corrupt, truncated or not a video ({'; '.join(problems)})"


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300] if text else ''}"


def _no_frames(path) -> MediaError:
    return MediaError(f"{path}: zero-frame video, no video frames found")


@dataclass(frozen=True)
class _StreamIndex:
    """What the container says about the first video stream, read by PyAV without decoding pictures (except the
    first one, for the display rotation).

    ``pts``: each frame's presentation timestamp (stream time base) in display order, or ``None`` when the packets
    carry none (then frames are counted in decoding order); ``times``: seconds since the first frame (empty when
    unknown); ``keyframes``: sorted presentation timestamps of keyframes; ``rotation``: degrees counter-clockwise to
    turn stored pictures for display (FFmpeg's display-matrix angle: 0, ±90, ±180)."""

    count: int
    pts: list[int] | None
    times: list[float]
    keyframes: list[int]
    rotation: int
    codec: str
    container: str


def _probe(path: Path) -> _StreamIndex:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise _no_frames(path)
            stream = container.streams.video[0]
            time_base, codec, form = stream.time_base, stream.codec_context.name, container.format.name
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            pts, keyframes, count = [], [], 0
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_discard:
                    continue
                count += 1
                if packet.pts is not None:
                    pts.append(packet.pts)
                    if packet.is_keyframe:
                        keyframes.append(packet.pts)
        rotation = _first_frame_rotation(path) if count else 0
    except MediaError:
        raise
    except Exception as error:  # noqa: BLE001 (PyAV and FFmpeg raise many kinds for an unreadable file)
        raise MediaError(_decode_failure(path, [f"PyAV: {_first_line(error)}"])) from None
    if count == 0:
        raise _no_frames(path)
    if len(pts) == count and len(set(pts)) == count:
        pts.sort()
        times = [float((p - pts[0]) * time_base) for p in pts]
        return _StreamIndex(count, pts, times, sorted(keyframes), rotation, codec, form)
    times = [i / fps for i in range(count)] if fps > 0 else []  # no usable timestamps: the average frame rate
    return _StreamIndex(count, None, times, [], rotation, codec, form)


def _first_frame_rotation(path: Path) -> int:
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            return round(frame.rotation or 0)
    return 0


def _upright(frame: np.ndarray, rotation: int) -> np.ndarray:
    """``frame`` turned by ``rotation`` degrees counter-clockwise (what players show), as a contiguous array."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(frame, turns)) if turns else frame


def _decord_problem(path, reader, index: _StreamIndex | None) -> str | None:
    """Why decord's random access cannot be trusted on this file, or ``None`` when it reads exactly the frames of
    ``index`` (same count, same timestamps, no rotation it gets wrong)."""
    if index is None:  # PyAV missing: judge from decord's own index
        if path.suffix.lower() not in _DECORD_EXTENSIONS:
            return f"decord seeks by guesswork in {path.suffix} files"
        times = _decord_times(reader)
        if times is None:
            return "decord's index has no valid timestamps"
        return None
    if round(index.rotation) % 180:
        return f"{_DECORD_CANNOT} a {abs(index.rotation)}° display rotation (it returns scrambled pixels)"
    if index.rotation:
        return f"the file has a {abs(index.rotation)}° display rotation"
    if index.container not in _DECORD_CONTAINERS or index.codec not in _DECORD_CODECS:
        return f"decord's frame index is not exact for {index.codec} in {index.container.split(',')[0]}"
    if len(reader) != index.count:
        return f"decord counts {len(reader)} frames, the container {index.count}"
    times = _decord_times(reader)
    if times is None or index.pts is None:
        return "no valid frame timestamps"
    if max(abs(a - b) for a, b in zip(times, index.times, strict=True)) > _TIMESTAMP_TOLERANCE:
        return "decord's frame timestamps differ from the container's"
    return None


_DECORD_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v"})
_TIMESTAMP_TOLERANCE = 1e-3  # seconds: decord reports float32 timestamps


def _decord_times(reader) -> list[float] | None:
    """decord's frame start times in seconds since the first frame, or ``None`` when its index lacks them."""
    starts = reader.get_frame_timestamp(np.arange(len(reader)))[:, 0].astype(np.float64)
    if len(starts) == 0 or not np.all(np.isfinite(starts)) or starts.min() < -1 or np.any(np.diff(starts) <= 0):
        return None
    return (starts - starts[0]).tolist()


def _decode_with_decord(sink, path, reader, index, num_frames, start_time, end_time, sampler) -> list[int]:
    import decord

    total = len(reader)
    if total == 0:
        raise _no_frames(path)
    if index is not None and index.count == total and index.times:
        times = index.times
    else:
        times = _decord_times(reader) or _times_at_rate(total, reader.get_avg_fps())
    indices = _indices_in_clip(times or total, num_frames, start_time, end_time, sampler, str(path))
    chunks = _split_at_keyframes(sorted(set(indices)), list(reader.get_key_indices()), _decode_workers())

    def decode(chunk: list[int], own_reader) -> None:
        for i in chunk:
            sink(i, own_reader[i].asnumpy())

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


def _times_at_rate(total: int, fps: float) -> list[float]:
    return [i / fps for i in range(total)] if fps and fps > 0 else []


def _decode_workers() -> int:
    """Parallel decord readers; ``TARSIER_DECODE_WORKERS`` overrides the default ``min(4, os.cpu_count())``."""
    configured = os.environ.get("TARSIER_DECODE_WORKERS")
    if configured:
        return max(1, int(configured))
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


def _decode_with_pyav(sink, path, index: _StreamIndex, num_frames, start_time, end_time, sampler) -> list[int]:
    indices = _indices_in_clip(index.times or index.count, num_frames, start_time, end_time, sampler, str(path))
    wanted = sorted(set(indices))
    try:
        if index.pts is None or not _decode_by_seeking(sink, path, index, wanted):
            _decode_sequentially(sink, path, index, wanted)
    except MediaError:
        raise
    except Exception as error:  # noqa: BLE001 (any decoder failure is reported with the file)
        raise MediaError(_decode_failure(path, [f"PyAV: {_first_line(error)}"])) from None
    return indices


def _decode_by_seeking(sink, path, index: _StreamIndex, wanted: list[int]) -> bool:
    """Decode the ``wanted`` frames (sorted indices) by presentation timestamp, seeking to the keyframe before a
    wanted frame whenever that keyframe lies beyond what is already decoded. Frames are identified by timestamp,
    so seeking never changes which frame is delivered; returns ``False`` (nothing is trusted) when the decoder
    does not land where the index says, and the caller decodes sequentially instead."""
    targets = [index.pts[i] for i in wanted]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames, position = None, None  # decoder iterator and the timestamp of the last decoded frame
        for i, target in zip(wanted, targets, strict=True):
            keyframe = index.keyframes[bisect.bisect_right(index.keyframes, target) - 1] if index.keyframes else None
            if frames is None or (keyframe is not None and position is not None and keyframe > position):
                if frames is not None or (keyframe is not None and keyframe > index.pts[0]):
                    container.seek(keyframe, stream=stream, backward=True, any_frame=False)
                frames, position = container.decode(stream), None
            found = None
            for frame in frames:
                if frame.pts is None:
                    return False
                if position is None and frame.pts > target:
                    return False  # the seek went past the target
                position = frame.pts
                if frame.pts == target:
                    found = frame
                    break
                if frame.pts > target:
                    return False  # a frame the index promised is missing
            if found is None:
                return False
            sink(i, _upright(found.to_ndarray(format="rgb24"), index.rotation))
    return True


def _decode_sequentially(sink, path, index: _StreamIndex, wanted: list[int]) -> None:
    """Decode from the first frame on, counting frames in output order: the reference every other path must match."""
    remaining, decoded = set(wanted), 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if decoded in remaining:
                sink(decoded, _upright(frame.to_ndarray(format="rgb24"), index.rotation))
                remaining.discard(decoded)
            decoded += 1
            if not remaining:
                return
    raise MediaError(
        f"{path}: truncated video, the container lists {index.count} frames but only {decoded} could be decoded"
    )


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
        indices = _indices_in_clip(len(as_list), num_frames or 1, None, None, sampler, source)
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
