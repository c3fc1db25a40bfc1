"""Frames are exactly the frames asked for, whatever the codec, container, GOP structure, display rotation or frame
rate: the default backend, each backend and sequential PyAV decoding (the truth) compared on generated clips.

Every clip's frames are identifiable over the whole picture (``_video_frames_media``): a frame is the right one when
it is the closest source frame *and* its mean error against that source (all pixels, all channels) is small; the
PyAV backend must equal the sequential decode bit for bit, decord within ``DECODER_PIXEL_TOLERANCE``.
"""

import numpy as np
import pytest
from _video_frames_media import (
    available,
    frame_error,
    gif_frames,
    identify,
    sequential_frames,
    write_clip,
    write_gif,
)

from tarsier_hf.video_io import (
    MediaError,
    load_frames,
    resolve_backend,
    sample_frame_indices,
)

try:
    import decord  # noqa: F401  (installed on Linux x86_64 only)

    BACKENDS = ("auto", "pyav", "decord")
except ImportError:
    BACKENDS = ("auto", "pyav")

DECODER_PIXEL_TOLERANCE = 2  # grey levels between decord's and PyAV's YUV -> RGB (identical with today's wheels)
MAX_SOURCE_ERROR = 6.0  # mean grey levels between a decoded frame and its source (measured <= 2.2; wrong frame >= 8)
NUM_FRAMES, SAMPLED = 20, 8
EXPECTED = sample_frame_indices(NUM_FRAMES, SAMPLED)  # [0, 3, 5, 8, 11, 14, 16, 19]

ENCODERS = {"h264": "libx264", "mpeg4": "mpeg4", "hevc": "libx265", "vp9": "libvpx-vp9"}
CONTAINERS = {
    "h264": (".mp4", ".mov", ".mkv", ".avi"),
    "mpeg4": (".avi", ".mp4", ".mkv"),
    "hevc": (".mp4", ".mkv"),
    "vp9": (".webm", ".mkv"),
}
GOPS = {  # encoder options: I/P only with a keyframe every 6 frames, B-frames, all-intra
    "ip-g6": {"bf": "0", "g": "6"},
    "bframes-g6": {"bf": "2", "g": "6"},
    "intra": {"g": "1"},
}
MATRIX = [
    pytest.param(codec, extension, gop, id=f"{codec}-{extension[1:]}-{gop}")
    for codec, extensions in CONTAINERS.items()
    for extension in extensions
    for gop in GOPS
    if not (codec == "vp9" and GOPS[gop].get("bf", "0") != "0")  # VP9 has no B-frames
]


def _requires(codec: str) -> None:
    if not available(ENCODERS[codec]):
        pytest.skip(f"this FFmpeg build has no {ENCODERS[codec]} encoder")


def _check_frames(frames, truth, indices, backend, rotation=0, num_frames=NUM_FRAMES):
    """``frames`` are the truth's ``indices``: identified over the whole frame, close to the source, and equal to the
    sequential decode (bit for bit for PyAV)."""
    assert frames.dtype == np.uint8 and frames.shape == (len(indices), *truth.shape[1:]), (backend, frames.shape)
    assert [identify(f, num_frames, rotation) for f in frames] == list(indices), backend
    assert max(frame_error(f, i, rotation) for f, i in zip(frames, indices, strict=True)) <= MAX_SOURCE_ERROR
    difference = np.abs(frames.astype(np.int16) - truth[list(indices)]).max()
    assert difference <= (0 if backend == "pyav" else DECODER_PIXEL_TOLERANCE), (backend, difference)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("frames")


@pytest.mark.parametrize("codec, extension, gop", MATRIX)
def test_codec_container_gop(folder, codec, extension, gop):
    _requires(codec)
    path = write_clip(folder / f"{codec}-{gop}{extension}", ENCODERS[codec], NUM_FRAMES, 10, options=GOPS[gop])
    truth = sequential_frames(path)
    assert [identify(f, NUM_FRAMES) for f in truth] == list(range(NUM_FRAMES))  # the clip and the truth are sound
    chosen = resolve_backend(path)
    for backend in BACKENDS:
        frames = load_frames(path, SAMPLED, backend=backend)
        if backend == "decord" and chosen != "decord":
            continue  # decord outside the cases "auto" trusts it with: as decord reads it, no promise
        _check_frames(frames, truth, EXPECTED, backend)
    if chosen == "decord":  # the policy: decord only for H.264 in MP4/MOV
        assert codec == "h264" and extension in (".mp4", ".mov")


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("extension, gop", [(".mp4", "bframes-g6"), (".mov", "ip-g6")])
def test_display_rotation(folder, rotation, extension, gop):
    path = write_clip(
        folder / f"rot{rotation}-{gop}{extension}", "libx264", NUM_FRAMES, 10, options=GOPS[gop], rotation=rotation
    )
    truth = sequential_frames(path)
    shape = (48, 64, 3) if rotation in (0, 180) else (64, 48, 3)
    assert truth.shape == (NUM_FRAMES, *shape)
    assert [identify(f, NUM_FRAMES, rotation) for f in truth] == list(range(NUM_FRAMES))
    for backend in BACKENDS:
        if backend == "decord" and rotation in (90, 270):
            with pytest.raises(MediaError, match=r"decord cannot apply a 90° display rotation.*backend='pyav'"):
                load_frames(path, SAMPLED, backend=backend)
            continue
        _check_frames(load_frames(path, SAMPLED, backend=backend), truth, EXPECTED, backend, rotation)
    assert resolve_backend(path) == ("decord" if rotation == 0 else "pyav")


# 20 frames at 30 fps, then 10 frames at 2 fps (millisecond timestamps): frames 21-24 are at 1.167 ... 2.667 s
VFR_TIMESTAMPS_MS = [round(i * 1000 / 30) for i in range(20)] + [667 + 500 * k for k in range(10)]


@pytest.mark.parametrize("codec, extension", [("h264", ".mp4"), ("h264", ".mkv"), ("vp9", ".webm"), ("mpeg4", ".mkv")])
def test_variable_frame_rate_windows_by_timestamp(folder, codec, extension):
    _requires(codec)
    options = {"bf": "2", "g": "6"} if codec != "vp9" else {"g": "6"}
    path = write_clip(
        folder / f"vfr-{codec}{extension}", ENCODERS[codec], 30, 30, options=options, timestamps_ms=VFR_TIMESTAMPS_MS
    )
    truth = sequential_frames(path)
    assert [identify(f, 30) for f in truth] == list(range(30))
    for backend in BACKENDS:
        if backend == "decord" and resolve_backend(path) != "decord":
            continue
        _check_frames(
            load_frames(path, 4, start_time=1.0, end_time=3.0, backend=backend),
            truth,
            [21, 22, 23, 24],
            backend,
            num_frames=30,
        )
        # [0.1 s, 1.2 s]: frames 3 (0.100 s) to 21 (1.167 s); 6 frames spread over those 19
        _check_frames(
            load_frames(path, 6, start_time=0.1, end_time=1.2, backend=backend),
            truth,
            [3 + i for i in sample_frame_indices(19, 6)],
            backend,
            num_frames=30,
        )
        _check_frames(
            load_frames(path, 3, start_time=4.0, backend=backend), truth, [27, 28, 29], backend, num_frames=30
        )


def test_gif_per_frame_durations(folder):
    durations = [100] * 5 + [500] * 5  # frames start at 0, .1, .2, .3, .4, .5, 1.0, 1.5, 2.0, 2.5 s
    path = write_gif(folder / "durations.gif", durations)
    truth = gif_frames(path)
    cases = [
        ((0.45, 1.6), 3, [5, 6, 7]),
        ((0.2, 0.5), 4, [2, 3, 4, 5]),
        ((1.0, None), 2, [6, 9]),
        ((None, None), 3, [0, 4, 9]),
    ]
    for (start, end), n, expected in cases:
        frames = load_frames(path, n, start_time=start, end_time=end)
        assert [identify(f, 10) for f in frames] == expected
        np.testing.assert_array_equal(frames, truth[expected])
    with pytest.raises(MediaError, match=r"no frame is shown between start_time 0\.6s and end_time 0\.9s"):
        load_frames(path, 2, start_time=0.6, end_time=0.9)


# ------------------------------------------------------------------------------------------------ reported cases


def test_mpeg4_avi_with_b_frames(folder):
    """issue 7: MPEG-4 Part 2 in AVI with B-frames (as in MSVD-style datasets)."""
    path = write_clip(folder / "msvd-like.avi", "mpeg4", 20, 10, options={"bf": "2", "g": "6"})
    truth = sequential_frames(path)
    for backend in ("auto", "pyav"):
        frames = load_frames(path, 8, backend=backend)
        assert [identify(f, 20) for f in frames] == [0, 3, 5, 8, 11, 14, 16, 19]
        np.testing.assert_array_equal(frames, truth[[0, 3, 5, 8, 11, 14, 16, 19]])
    assert resolve_backend(path) == "pyav"


def test_phone_video_rotated_90(folder):
    """issue 7: a 64x48 H.264 MP4 whose tkhd matrix says 90°: upright (T, 64, 48, 3) frames on every backend that
    can apply the rotation."""
    path = write_clip(folder / "phone.mp4", "libx264", 12, 30, options={"bf": "2", "g": "6"}, rotation=90)
    for backend in ("auto", "pyav"):
        frames = load_frames(path, 4, backend=backend)
        assert frames.shape == (4, 64, 48, 3) and frames.dtype == np.uint8
        assert [identify(f, 12, rotation=90) for f in frames] == [0, 4, 7, 11]
        # upright: the white marker (stored top-left) is now top-right, the black one bottom-left
        assert frames[0, :12, -12:].min() > 240 and frames[0, -12:, :12].max() < 15


def test_vfr_window_from_issue(folder):
    """issue 7: start_time=1.0, end_time=3.0 on 20 frames at 30 fps then 10 at 2 fps: frames 21-24 (the frames whose
    timestamps lie in [1 s, 3 s]), not [7, 12, 16, 21] from the average frame rate."""
    path = write_clip(folder / "vfr.mp4", "libx264", 30, 30, timestamps_ms=VFR_TIMESTAMPS_MS)
    for backend in BACKENDS:
        frames = load_frames(path, 4, start_time=1.0, end_time=3.0, backend=backend)
        assert [identify(f, 30) for f in frames] == [21, 22, 23, 24]


def test_m4v_is_a_video(folder):
    """issue 7: ``.m4v`` (Apple's MP4) is accepted, by the same list the processor, CLI and tasks use."""
    path = write_clip(folder / "clip.m4v", "libx264", 20, 10, container_format="mp4")
    frames = load_frames(path, 8)
    assert [identify(f, 20) for f in frames] == EXPECTED
    assert resolve_backend(path) in ("decord", "pyav")
