"""Media files for the processor / video_io / CLI tests, generated on the fly with PyAV, Pillow and numpy.

Every generated frame is one flat colour that encodes its index (red = 8 * (i % 32) + 4, green = 8 * (i // 32) + 4),
so a decoded frame can be mapped back to the index it came from despite lossy compression.
"""

from pathlib import Path

import av
import numpy as np
from _data import DEMO_VIDEO  # noqa: F401  (the committed real clip; re-exported for the media tests)
from PIL import Image

CODECS = {
    ".mp4": "libx264",
    ".mkv": "libx264",
    ".mov": "libx264",
    ".webm": "libvpx-vp9",
    ".avi": "mpeg4",
    ".wmv": "wmv2",
}


def index_frame(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = 8 * (index % 32) + 4
    frame[..., 1] = 8 * (index // 32) + 4
    frame[..., 2] = 128
    return frame


def frame_index(frame: np.ndarray) -> int:
    """The index :func:`index_frame` encoded in ``frame`` (read from the central region)."""
    height, width = frame.shape[:2]
    centre = frame[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4].reshape(-1, 3).mean(axis=0)
    return round((centre[0] - 4) / 8) + 32 * round((centre[1] - 4) / 8)


def write_video(
    path, num_frames: int = 30, fps: int = 10, width: int = 64, height: int = 48, frames=None, faststart: bool = False
) -> Path:
    """A video of index-coded frames (or the given ``frames``), codec chosen from the extension."""
    path = Path(path)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(CODECS[path.suffix], rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if path.suffix == ".webm":
            stream.options = {"lossless": "1"}
        elif stream.codec_context.name == "libx264":
            stream.options = {"crf": "0"} if frames is None else {"crf": "18"}
        else:
            stream.bit_rate = 20_000_000
        source = frames if frames is not None else (index_frame(i, width, height) for i in range(num_frames))
        for image in source:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_zero_frame_video(path) -> Path:
    """An mp4 with a video stream declared and no frames in it."""
    path = Path(path)
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    container.start_encoding()
    container.close()
    return path


def write_truncated_video(path, keep: float = 0.5) -> Path:
    """A video whose header promises every frame but whose data stops after ``keep`` of the file."""
    path = Path(path)
    full = write_video(path.with_name("full_" + path.name), num_frames=60, faststart=True)
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def write_gif(path, num_frames: int = 12, duration_ms: int = 100, width: int = 40, height: int = 30) -> Path:
    path = Path(path)
    frames = [Image.fromarray(index_frame(i, width, height)) for i in range(num_frames)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
    return path


def write_image(path, width: int = 50, height: int = 30, seed: int = 0) -> Path:
    path = Path(path)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def moving_pattern_video(path, num_frames=40, fps=10, width=96, height=64, seed=0) -> Path:
    """A textured video (noise background + moving bright square), closer to real content than flat colours."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    frames = []
    for i in range(num_frames):
        frame = background.copy()
        x = (3 * i) % (width - 16)
        frame[20:36, x : x + 16] = (250, 250, 40)
        frames.append(frame)
    return write_video(path, fps=fps, width=width, height=height, frames=frames)
