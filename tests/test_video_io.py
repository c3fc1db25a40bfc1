"""Frame sampling and decoding (tarsier_hf.video_io) on real files: the shared demo clip and generated media."""

import functools
import random

import numpy as np
import pytest
import torch
from _proc_media import (
    CODECS,
    DEMO_VIDEO,
    frame_index,
    index_frame,
    moving_pattern_video,
    write_gif,
    write_image,
    write_truncated_video,
    write_video,
    write_zero_frame_video,
)
from PIL import Image

from tarsier_hf.video_io import (
    MediaError,
    find_media_files,
    frames_from_decoded,
    load_frames,
    map_frames,
    media_kind,
    sample_frame_indices,
    sample_stage1_indices,
    sample_stage2_indices,
)

# decord and PyAV must return the same frames; pixels may differ by at most this many grey levels (different FFmpeg
# builds convert YUV to RGB; on the files below both give identical pixels).
DECODER_PIXEL_TOLERANCE = 2


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    return {
        "mp4": write_video(folder / "clip.mp4", num_frames=30, fps=10),
        "long": write_video(folder / "long.mp4", num_frames=70, fps=10),
        "gif": write_gif(folder / "anim.gif", num_frames=12, duration_ms=100),
        "png": write_image(folder / "still.png", width=50, height=30),
        "folder": folder,
    }


# ------------------------------------------------------------------------------------------------- sampling


@pytest.mark.parametrize(
    "total, n, expected",
    [
        (10, 4, [0, 3, 6, 9]),
        (6, 5, [0, 1, 2, 4, 5]),  # 2.5 -> 2: ties go to even
        (4, 3, [0, 2, 3]),  # 1.5 -> 2
        (8, 3, [0, 4, 7]),  # 3.5 -> 4
        (6, 3, [0, 2, 5]),  # 2.5 -> 2
        (84, 8, [0, 12, 24, 36, 47, 59, 71, 83]),  # the demo clip
        (3, 5, [0, 0, 1, 2, 2]),  # n > T repeats frames
        (1, 8, [0] * 8),
        (50, 1, [0]),
    ],
)
def test_sample_frame_indices(total, n, expected):
    assert sample_frame_indices(total, n) == expected


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_sample_frame_indices_rejects_bad_n(n):
    with pytest.raises(MediaError, match="integer >= 1"):
        sample_frame_indices(10, n)


def test_stage1_sampling_is_one_frame_per_segment_and_seedable():
    total = 100
    for seed in range(20):
        indices = sample_stage1_indices(total, rng=seed)
        n = len(indices)
        assert 8 <= n <= 32
        for segment, index in enumerate(indices):
            assert segment * total // n <= index < (segment + 1) * total // n
        assert indices == sample_stage1_indices(total, rng=random.Random(seed))
    draws = {tuple(sample_stage1_indices(total, rng=seed)) for seed in range(20)}
    assert len(draws) == 20
    assert {len(d) for d in draws} != {len(next(iter(draws)))}  # n varies with the seed
    short = sample_stage1_indices(5, rng=0)  # more segments than frames: indices stay inside the clip
    assert all(0 <= i < 5 for i in short) and short == sorted(short)


def test_stage2_sampling_keeps_first_and_last():
    counts = set()
    for seed in range(20):
        indices = sample_stage2_indices(50, rng=seed)
        counts.add(len(indices))
        assert indices == sample_frame_indices(50, len(indices))
        assert indices[0] == 0 and indices[-1] == 49
        assert indices == sample_stage2_indices(50, rng=seed)
    assert counts == {8, 16}


# ------------------------------------------------------------------------------------------------- decoding


def test_demo_clip_frames_match_official_decord_read():
    import decord

    frames = load_frames(DEMO_VIDEO, 8)
    reader = decord.VideoReader(str(DEMO_VIDEO), num_threads=1)
    assert len(reader) == 84
    expected = reader.get_batch([0, 12, 24, 36, 47, 59, 71, 83]).asnumpy()
    assert frames.shape == (8, 800, 1920, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, expected)


@pytest.mark.parametrize("n", [8, 16])
def test_decord_and_pyav_pick_the_same_demo_frames(n):
    with_decord = load_frames(DEMO_VIDEO, n, backend="decord").astype(int)
    with_pyav = load_frames(DEMO_VIDEO, n, backend="pyav").astype(int)
    assert with_decord.shape == with_pyav.shape
    assert np.abs(with_decord - with_pyav).max() <= DECODER_PIXEL_TOLERANCE


@pytest.mark.parametrize("extension", sorted(CODECS))
def test_every_container_decodes_the_sampled_frames(tmp_path, extension):
    path = write_video(tmp_path / f"clip{extension}", num_frames=70, fps=10)
    expected = sample_frame_indices(70, 8)
    auto = load_frames(path, 8)
    assert [frame_index(f) for f in auto] == expected
    with_pyav = load_frames(path, 8, backend="pyav")
    assert [frame_index(f) for f in with_pyav] == expected
    if extension != ".wmv":
        with_decord = load_frames(path, 8, backend="decord")
        assert np.abs(with_decord.astype(int) - with_pyav.astype(int)).max() <= DECODER_PIXEL_TOLERANCE


def test_wmv_goes_to_pyav_because_decord_seeks_wrong(tmp_path):
    path = write_video(tmp_path / "clip.wmv", num_frames=70, fps=10)
    wrong = [frame_index(f) for f in load_frames(path, 8, backend="decord")]
    assert wrong != sample_frame_indices(70, 8)  # the reason "auto" uses PyAV for .wmv
    assert [frame_index(f) for f in load_frames(path, 8)] == sample_frame_indices(70, 8)


def test_textured_video_decoders_agree(tmp_path):
    path = moving_pattern_video(tmp_path / "pattern.mp4", num_frames=40)
    with_decord = load_frames(path, 8, backend="decord").astype(int)
    with_pyav = load_frames(path, 8, backend="pyav").astype(int)
    assert np.abs(with_decord - with_pyav).max() <= DECODER_PIXEL_TOLERANCE


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_trimming_by_time(media, backend):
    # 30 frames at 10 fps: [1.0 s, 2.0 s] is frames 10..20 (int(fps * t), as officially), 3 frames -> 10, 15, 20
    frames = load_frames(media["mp4"], 3, start_time=1.0, end_time=2.0, backend=backend)
    assert [frame_index(f) for f in frames] == [10, 15, 20]
    tail = load_frames(media["mp4"], 4, start_time=2.0, backend=backend)
    assert [frame_index(f) for f in tail] == [20, 23, 26, 29]
    head = load_frames(media["mp4"], 2, end_time=99.0, backend=backend)  # end past the clip is clamped
    assert [frame_index(f) for f in head] == [0, 29]
    last = load_frames(media["mp4"], 3, start_time=2.95, backend=backend)
    assert [frame_index(f) for f in last] == [29, 29, 29]


def test_n_larger_than_clip_repeats_frames(media):
    frames = load_frames(media["mp4"], 40)
    assert [frame_index(f) for f in frames] == sample_frame_indices(30, 40)
    assert len(frames) == 40


def test_gif(media):
    frames = load_frames(media["gif"], 4)
    assert frames.shape == (4, 30, 40, 3)
    assert [frame_index(f) for f in frames] == [0, 4, 7, 11]
    trimmed = load_frames(media["gif"], 3, start_time=0.35, end_time=0.85)  # 10 fps: frames 3..8
    assert [frame_index(f) for f in trimmed] == [3, 5, 8]


def test_still_image_is_one_frame(media):
    frames = load_frames(media["png"], 8)
    assert frames.shape == (1, 30, 50, 3)
    np.testing.assert_array_equal(frames[0], np.asarray(Image.open(media["png"]).convert("RGB")))


def test_custom_sampler(media):
    sampler = functools.partial(sample_stage1_indices, rng=3)
    frames = load_frames(media["long"], sampler=sampler)
    assert [frame_index(f) for f in frames] == sample_stage1_indices(70, rng=3)


def test_decoded_frames_in_every_layout():
    frames = [index_frame(i, 20, 10) for i in range(6)]
    as_pil = frames_from_decoded([Image.fromarray(f) for f in frames])
    as_thwc = frames_from_decoded(np.stack(frames))
    as_tchw = frames_from_decoded(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2))
    for decoded in (as_pil, as_thwc, as_tchw):
        assert len(decoded) == 6 and all(f.shape == (10, 20, 3) for f in decoded)
        np.testing.assert_array_equal(np.stack(decoded), np.stack(frames))
    sampled = frames_from_decoded(np.stack(frames), num_frames=3)
    assert [frame_index(f) for f in sampled] == [0, 2, 5]  # 2.5 -> 2
    gray = frames_from_decoded([np.full((4, 4), 7, np.uint8)])
    assert gray[0].shape == (4, 4, 3)
    with pytest.raises(MediaError, match="uint8"):
        frames_from_decoded(np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(MediaError, match="no frames"):
        frames_from_decoded([])


def test_find_media_files(media, tmp_path):
    (media["folder"] / "notes.txt").write_text("not media")
    found = find_media_files(media["folder"])
    assert [p.name for p in found] == ["anim.gif", "clip.mp4", "long.mp4", "still.png"]
    with pytest.raises(MediaError, match="no media files"):
        find_media_files(tmp_path)


# --------------------------------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match=r"missing\.mp4: file not found"):
        load_frames(tmp_path / "missing.mp4")


def test_unsupported_extension(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(MediaError, match=r"notes\.txt: unsupported file extension '\.txt'"):
        load_frames(path)
    assert media_kind("A.MP4") == "video" and media_kind("b.GIF") == "gif" and media_kind("c.jpeg") == "image"


def test_corrupt_video(tmp_path):
    path = tmp_path / "garbage.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(MediaError, match=r"garbage\.mp4: cannot decode video.*decord.*PyAV"):
        load_frames(path)


@pytest.mark.parametrize("backend", ["auto", "pyav"])
def test_truncated_video(tmp_path, backend):
    path = write_truncated_video(tmp_path / "cut.mp4", keep=0.5)
    with pytest.raises(MediaError, match=r"cut\.mp4: (cannot decode video|truncated video)"):
        load_frames(path, 8, backend=backend)


def test_zero_frame_video(tmp_path):
    path = write_zero_frame_video(tmp_path / "empty.mp4")
    with pytest.raises(MediaError, match=r"empty\.mp4: zero-frame video"):
        load_frames(path)


def test_start_time_beyond_the_end(media):
    with pytest.raises(MediaError, match=r"clip\.mp4: start_time 3\.0s is beyond the end of the clip \(30 frames"):
        load_frames(media["mp4"], 4, start_time=3.0)
    with pytest.raises(MediaError, match=r"anim\.gif: start_time 5s is beyond the end"):
        load_frames(media["gif"], 4, start_time=5)
    with pytest.raises(MediaError, match="must be after start_time"):
        load_frames(media["mp4"], 4, start_time=2.0, end_time=1.0)


@pytest.mark.parametrize("n", [0, -1])
def test_n_below_one_names_the_file(media, n):
    with pytest.raises(MediaError, match=r"clip\.mp4: num_frames \(the number of frames to sample\) must be an integer >= 1"):
        load_frames(media["mp4"], n)


def test_map_frames_equals_transforming_loaded_frames(media):
    def brightness(frame):
        return int(frame[..., 0].mean())

    for path, n in ((media["long"], 8), (media["mp4"], 40), (DEMO_VIDEO, 8), (media["gif"], 5), (media["png"], 3)):
        assert map_frames(brightness, path, n) == [brightness(f) for f in load_frames(path, n)]
