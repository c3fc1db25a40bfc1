"""Generated videos for the frame-correctness tests (tests/test_video_frames_*.py): every frame identifiable.

Frame ``i`` of a clip (:func:`source_frame`) is a flat background whose colour encodes ``i`` (red = 16 * (i % 16) + 8,
green = 16 * (i // 16) + 8) with a white block in its top-left corner and a black one in its bottom-right corner, so
that both the index and the orientation survive lossy coding. :func:`identify` maps a decoded frame back to the
source frame it is closest to over the *whole* frame (mean absolute difference), so a frame that is shifted,
rotated, scrambled or mixed from two sources does not pass for the right one.

Writers: :func:`write_clip` (any PyAV encoder / container, GOP and B-frame options, constant or variable frame rate
with explicit timestamps, a display rotation written into the MP4/MOV ``tkhd`` matrix as phones do) and
:func:`write_gif` (per-frame durations).
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

BLOCK = 16  # marker size in pixels: two macroblocks' worth of chroma, survives 4:2:0 subsampling


def source_frame(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    """``(height, width, 3)`` uint8 RGB frame encoding ``index`` (0..255) and its orientation."""
    if not 0 <= index < 256:
        raise ValueError(f"index must be in [0, 256), got {index}")
    frame = np.empty((height, width, 3), np.uint8)
    frame[...] = (16 * (index % 16) + 8, 16 * (index // 16) + 8, 128)
    frame[:BLOCK, :BLOCK] = 255
    frame[-BLOCK:, -BLOCK:] = 0
    return frame


def shown_frame(index: int, shape: tuple, rotation: int = 0) -> np.ndarray:
    """Source frame ``index`` as a player shows it with ``shape`` ``(H, W, ...)`` on screen, for a clip stored with a
    display rotation of ``rotation`` degrees clockwise."""
    height, width = shape[:2]
    if rotation in (90, 270):
        height, width = width, height
    return upright(source_frame(index, width, height), rotation)


def identify(frame: np.ndarray, num_frames: int, rotation: int = 0) -> int:
    """Index of the shown source frame (:func:`shown_frame`, among ``num_frames``) closest to ``frame`` over all
    pixels. Returns -1 when ``frame`` is not an ``(H, W, 3)`` uint8 frame."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        return -1
    sources = np.stack([shown_frame(i, frame.shape, rotation) for i in range(num_frames)]).astype(np.int16)
    errors = np.abs(sources - frame.astype(np.int16)).mean(axis=(1, 2, 3))
    return int(errors.argmin())


def frame_error(frame: np.ndarray, index: int, rotation: int = 0) -> float:
    """Mean absolute difference (grey levels, over every pixel and channel) between ``frame`` and shown source frame
    ``index``: a few levels for the right frame, tens for a wrong, shifted or mis-rotated one."""
    return float(np.abs(frame.astype(np.int16) - shown_frame(index, frame.shape, rotation)).mean())


# Encoder settings per codec: near-lossless so that a frame's error against its source stays a few grey levels.
_QUALITY = {
    "libx264": {"crf": "1"},
    "libx265": {"crf": "4", "x265-params": "log-level=error"},
    "libvpx-vp9": {"lossless": "1"},
}
# Codecs without a quality option: a constant quantiser of 2 (the best) through qmin/qmax.
_FIXED_QUANTISER = {"mpeg4", "wmv2", "msmpeg4v2", "mpeg2video"}


def write_clip(
    path,
    codec: str = "libx264",
    num_frames: int = 20,
    fps: int = 10,
    *,
    width: int = 64,
    height: int = 48,
    options: dict | None = None,
    timestamps_ms: list[int] | None = None,
    rotation: int = 0,
    container_format: str | None = None,
) -> Path:
    """Encode source frames ``0..num_frames-1`` with ``codec`` into ``path`` (container from the extension).

    ``options`` go to the encoder (e.g. ``{"bf": "2", "g": "6"}``; the stream's ``gop_size`` / ``max_b_frames``
    are set from ``g`` / ``bf`` too). ``timestamps_ms`` gives each frame's presentation time in milliseconds
    (variable frame rate, time base 1/1000); otherwise frames are ``1 / fps`` apart. ``rotation`` (0, 90, 180, 270:
    degrees clockwise the player must turn the stored picture) is written into the ``tkhd`` matrix (MP4/MOV only).
    ``container_format`` overrides the FFmpeg muxer chosen from the extension (e.g. ``"mp4"`` for ``.m4v``).
    """
    path = Path(path)
    options = dict(options or {})
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if "g" in options:
            stream.codec_context.gop_size = int(options["g"])
        if "bf" in options:
            stream.codec_context.max_b_frames = int(options["bf"])
        if timestamps_ms is not None:
            stream.time_base = Fraction(1, 1000)
            stream.codec_context.time_base = Fraction(1, 1000)
        if codec in _FIXED_QUANTISER:
            stream.codec_context.qmin = stream.codec_context.qmax = 2
            stream.bit_rate = 50_000_000
        stream.options = {**_QUALITY.get(codec, {}), **options}
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(source_frame(i, width, height), format="rgb24")
            if timestamps_ms is not None:
                frame.pts, frame.time_base = timestamps_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    if rotation:
        _set_tkhd_rotation(path, rotation)
    return path


# tkhd matrices (a, b, u, c, d, v, x, y, w) in 16.16 / 2.30 fixed point, as cameras write them for a picture the
# player turns clockwise by the given angle (FFmpeg reports these as display-matrix rotations of -angle).
_ONE, _W = 0x10000, 0x40000000
_TKHD_MATRICES = {
    90: (0, _ONE, 0, -_ONE, 0, 0, 0, 0, _W),
    180: (-_ONE, 0, 0, 0, -_ONE, 0, 0, 0, _W),
    270: (0, -_ONE, 0, _ONE, 0, 0, 0, 0, _W),
}


def _set_tkhd_rotation(path: Path, rotation: int) -> None:
    if rotation not in _TKHD_MATRICES:
        raise ValueError(f"rotation must be 0, 90, 180 or 270, got {rotation}")
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    if at < 0:
        raise ValueError(f"{path}: no tkhd box (display rotation needs an MP4/MOV file)")
    version = data[at + 4]
    # after 'tkhd': version/flags (4), times + track id + reserved + duration (20 or 32), reserved (8), layer,
    # alternate group, volume, reserved (2 each), then the 3x3 matrix
    matrix_at = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    struct.pack_into(">9i", data, matrix_at, *_TKHD_MATRICES[rotation])
    path.write_bytes(bytes(data))


def upright(frame: np.ndarray, rotation: int) -> np.ndarray:
    """What a player shows for a stored ``frame`` whose display matrix says ``rotation`` degrees clockwise."""
    return np.rot90(frame, k=-(rotation // 90))


def write_gif(path, durations_ms: list[int], width: int = 40, height: int = 32) -> Path:
    """An animated GIF of source frames with per-frame durations (multiples of 10 ms)."""
    path = Path(path)
    frames = [Image.fromarray(source_frame(i, width, height)) for i in range(len(durations_ms))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=list(durations_ms), loop=0, disposal=1)
    return path


def sequential_frames(path) -> np.ndarray:
    """The truth: every frame of ``path``'s first video stream, decoded with PyAV from the start in output order,
    turned upright by the frame's display rotation (as ``ffmpeg`` and players do), as ``(T, H, W, 3)`` uint8."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            frames.append(np.rot90(frame.to_ndarray(format="rgb24"), round((frame.rotation or 0) / 90)))
    return np.ascontiguousarray(np.stack(frames))


def gif_frames(path) -> np.ndarray:
    """Every frame of a GIF, read in order with Pillow, as ``(T, H, W, 3)`` uint8."""
    with Image.open(path) as gif:
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB")))
    return np.stack(frames)


def available(encoder: str) -> bool:
    try:
        av.codec.Codec(encoder, "w")
    except Exception:  # noqa: BLE001 (av.codec.codec.UnknownCodecError, or an FFmpeg build without it)
        return False
    return True
