"""Frame sampling and decoding (tarsier_hf.video_io) on real files: the demo clip and generated media.

Frame correctness across codecs, containers, GOPs, rotations and frame rates: tests/test_video_frames_matrix.py.
"""

import functools
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from _proc_media import (
    CODECS,
    frame_index,
    index_frame,
    moving_pattern_video,
    write_gif,
    write_image,
    write_truncated_video,
    write_video,
    write_zero_frame_video,
)
from _video_frames_media import sequential_frames, source_frame, write_clip
from PIL import Image

from tarsier_hf.video_io import (
    CLIP_EXTENSIONS,
    MEDIA_EXTENSIONS,
    MediaError,
    find_media_files,
    frames_from_decoded,
    load_frames,
    map_frames,
    media_kind,
    resolve_backend,
    sample_frame_indices,
    sample_stage1_indices,
    sample_stage2_indices,
)

# decord and PyAV must return the same frames; pixels may differ by at most this many grey levels (different FFmpeg
# builds convert YUV to RGB; on the files below both give identical pixels).
DECODER_PIXEL_TOLERANCE = 2

_REPO = Path(__file__).resolve().parents[1]
DEMO_CANDIDATES = (
    _REPO / "tests" / "data" / "videos" / "demo_test.mp4",
    _REPO.parent / "shared" / "data" / "videos" / "demo_test.mp4",
)
DEMO_VIDEO = next((p for p in DEMO_CANDIDATES if p.is_file()), None)
requires_demo = pytest.mark.skipif(
    DEMO_VIDEO is None, reason=f"demo clip demo_test.mp4 not found at {', '.join(map(str, DEMO_CANDIDATES))}"
)


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


@requires_demo
def test_demo_clip_frames_match_official_decord_read():
    decord = pytest.importorskip("decord", reason="decord wheels exist for Linux x86_64 only")
    frames = load_frames(DEMO_VIDEO, 8)
    reader = decord.VideoReader(str(DEMO_VIDEO), num_threads=1)
    assert len(reader) == 84
    expected = reader.get_batch([0, 12, 24, 36, 47, 59, 71, 83]).asnumpy()
    assert frames.shape == (8, 800, 1920, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, expected)


# decord and PyAV give bit-identical demo frames: tests/test_video_frames_parity.py


@pytest.mark.parametrize("extension", sorted(CODECS))
def test_every_container_decodes_the_sampled_frames(tmp_path, extension):
    path = write_video(tmp_path / f"clip{extension}", num_frames=70, fps=10)
    expected = sample_frame_indices(70, 8)
    truth = sequential_frames(path)[expected]
    auto = load_frames(path, 8)
    assert [frame_index(f) for f in auto] == expected
    assert np.abs(auto.astype(int) - truth.astype(int)).max() <= DECODER_PIXEL_TOLERANCE  # whole frames
    np.testing.assert_array_equal(load_frames(path, 8, backend="pyav"), truth)


def test_wmv_is_decoded_with_pyav(tmp_path):
    # decord's random access is not exact on ASF (wmv2): "auto" must not use it there
    path = write_video(tmp_path / "clip.wmv", num_frames=70, fps=10)
    assert resolve_backend(path) == "pyav"
    expected = sample_frame_indices(70, 8)
    frames = load_frames(path, 8)
    assert [frame_index(f) for f in frames] == expected
    np.testing.assert_array_equal(frames, sequential_frames(path)[expected])


def test_parallel_decord_readers_give_the_frames_of_one_reader(tmp_path, monkeypatch):
    decord = pytest.importorskip("decord", reason="decord wheels exist for Linux x86_64 only")
    # a keyframe every 10 frames: 8 sampled frames of 70 span 7 keyframe intervals, so up to 4 readers
    path = write_clip(tmp_path / "gop10.mp4", "libx264", 70, 10, options={"g": "10", "bf": "2"})
    assert resolve_backend(path) == "decord"
    expected = sample_frame_indices(70, 8)
    readers = []
    real_reader = decord.VideoReader

    def counting_reader(*args, **kwargs):
        readers.append(args[0])
        return real_reader(*args, **kwargs)

    monkeypatch.setattr(decord, "VideoReader", counting_reader)
    monkeypatch.setenv("TARSIER_DECODE_WORKERS", "1")
    single = load_frames(path, 8)
    assert len(readers) == 1
    monkeypatch.setenv("TARSIER_DECODE_WORKERS", "4")  # whatever os.cpu_count() says
    parallel = load_frames(path, 8)
    assert len(readers) == 1 + 1 + 4  # the first reader, then one per chunk
    np.testing.assert_array_equal(parallel, single)
    np.testing.assert_array_equal(parallel, sequential_frames(path)[expected])
    assert max(np.abs(f.astype(int) - source_frame(i)).mean() for f, i in zip(parallel, expected)) < 3


def test_textured_video_decoders_agree(tmp_path):
    path = moving_pattern_video(tmp_path / "pattern.mp4", num_frames=40)
    with_decord = load_frames(path, 8, backend="decord").astype(int)
    with_pyav = load_frames(path, 8, backend="pyav").astype(int)
    assert np.abs(with_decord - with_pyav).max() <= DECODER_PIXEL_TOLERANCE


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_trimming_by_time(media, backend):
    if backend == "decord":
        pytest.importorskip("decord", reason="decord wheels exist for Linux x86_64 only")
    # 30 frames at 10 fps: [1.0 s, 2.0 s] holds frames 10..20 (timestamps 1.0 .. 2.0), 3 frames -> 10, 15, 20
    frames = load_frames(media["mp4"], 3, start_time=1.0, end_time=2.0, backend=backend)
    assert [frame_index(f) for f in frames] == [10, 15, 20]
    tail = load_frames(media["mp4"], 4, start_time=2.0, backend=backend)
    assert [frame_index(f) for f in tail] == [20, 23, 26, 29]
    head = load_frames(media["mp4"], 2, end_time=99.0, backend=backend)  # end past the clip is clamped
    assert [frame_index(f) for f in head] == [0, 29]
    last = load_frames(media["mp4"], 3, start_time=2.9, backend=backend)
    assert [frame_index(f) for f in last] == [29, 29, 29]
    # a start between two frames begins with the next one (the official int(fps * t) would take frame 14)
    between = load_frames(media["mp4"], 2, start_time=1.45, end_time=1.95, backend=backend)
    assert [frame_index(f) for f in between] == [15, 19]


def test_n_larger_than_clip_repeats_frames(media):
    frames = load_frames(media["mp4"], 40)
    assert [frame_index(f) for f in frames] == sample_frame_indices(30, 40)
    assert len(frames) == 40


def test_gif(media):
    frames = load_frames(media["gif"], 4)
    assert frames.shape == (4, 30, 40, 3)
    assert [frame_index(f) for f in frames] == [0, 4, 7, 11]
    trimmed = load_frames(media["gif"], 3, start_time=0.35, end_time=0.85)  # frames at 0.4 .. 0.8 s: 4..8
    assert [frame_index(f) for f in trimmed] == [4, 6, 8]


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


@pytest.mark.parametrize("backend", ["auto", "pyav", "decord"])
def test_corrupt_video(tmp_path, backend, capfd):
    if backend == "decord":
        pytest.importorskip("decord", reason="decord wheels exist for Linux x86_64 only")
    path = tmp_path / "garbage.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    decoder = "decord" if backend == "decord" else "PyAV"
    with pytest.raises(MediaError, match=rf"garbage\.mp4: cannot decode video, the file is corrupt.*\({decoder}: "):
        load_frames(path, backend=backend)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""  # no stray decoder log line before the error


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
    with pytest.raises(
        MediaError,
        match=r"clip\.mp4: start_time 3\.0s is beyond the end of the clip \(30 frames, the last at 2\.900s\)",
    ):
        load_frames(media["mp4"], 4, start_time=3.0)
    with pytest.raises(MediaError, match=r"anim\.gif: start_time 5s is beyond the end"):
        load_frames(media["gif"], 4, start_time=5)
    with pytest.raises(MediaError, match="must be after start_time"):
        load_frames(media["mp4"], 4, start_time=2.0, end_time=1.0)


@pytest.mark.parametrize("n", [0, -1])
def test_n_below_one_names_the_file(media, n):
    with pytest.raises(
        MediaError, match=r"clip\.mp4: num_frames \(the number of frames to sample\) must be an integer >= 1"
    ):
        load_frames(media["mp4"], n)


def test_map_frames_equals_transforming_loaded_frames(media):
    def flipped(frame):  # a per-frame transform whose result keeps every pixel
        return frame[::-1].copy()

    for path, n in ((media["long"], 8), (media["mp4"], 40), (media["gif"], 5), (media["png"], 3)):
        mapped = map_frames(flipped, path, n)
        expected = [flipped(f) for f in load_frames(path, n)]
        assert len(mapped) == len(expected)
        for got, want in zip(mapped, expected):
            np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------------------------------- extensions, decoders


def test_one_list_of_extensions():
    from lmms_tasks.tasks.dream1k import data as dream1k_data

    assert ".m4v" in CLIP_EXTENSIONS and ".gif" in CLIP_EXTENSIONS and ".png" not in CLIP_EXTENSIONS
    assert CLIP_EXTENSIONS <= MEDIA_EXTENSIONS
    assert media_kind("clip.M4V") == "video"
    assert dream1k_data.CLIP_EXTENSIONS is CLIP_EXTENSIONS  # the task indexes exactly what video_io reads


def test_missing_pyav_is_named(media, monkeypatch):
    from tarsier_hf import video_io

    monkeypatch.setattr(video_io, "av", None)
    with pytest.raises(
        MediaError,
        match=r"clip\.mp4: cannot decode video with backend='pyav': PyAV is not installed \(pip install av\)",
    ):
        load_frames(media["mp4"], 4, backend="pyav")
    monkeypatch.setattr(video_io, "_import_decord", lambda: None)
    with pytest.raises(
        MediaError,
        match=r"clip\.mp4: cannot decode video, no video decoder is installed: PyAV is not installed \(pip install av\)",
    ):
        load_frames(media["mp4"], 4)


def test_without_pyav_decord_is_used_only_where_exact(tmp_path, monkeypatch):
    pytest.importorskip("decord", reason="decord wheels exist for Linux x86_64 only")
    from tarsier_hf import video_io

    avi = write_clip(tmp_path / "b.avi", "mpeg4", 20, 10, options={"bf": "2", "g": "6"})
    mp4 = write_clip(tmp_path / "a.mp4", "libx264", 20, 10)
    monkeypatch.setattr(video_io, "av", None)
    with pytest.raises(
        MediaError, match=r"b\.avi: PyAV is not installed \(pip install av\); decord alone does not read"
    ):
        load_frames(avi, 8)
    frames = load_frames(mp4, 8)
    np.testing.assert_array_equal(frames[0], load_frames(mp4, 1, backend="decord")[0])
    assert frames.shape == (8, 48, 64, 3)


def _frame_folder(folder: Path, count: int, size=(12, 16)) -> Path:
    folder.mkdir()
    for i in range(count):  # file names 1.png .. N.png: natural order differs from sorted-string order
        Image.fromarray(np.full((*size, 3), 10 * (i + 1), np.uint8)).save(folder / f"{i + 1}.png")
    (folder / "notes.txt").write_text("not a frame")
    return folder


def test_frame_folder_is_a_clip_in_natural_name_order(tmp_path):
    folder = _frame_folder(tmp_path / "frames", 11)
    assert media_kind(folder) == "frames"
    frames = load_frames(folder, 4)  # round(i * 10 / 3) = 0, 3, 7, 10
    assert frames.shape == (4, 12, 16, 3) and frames.dtype == np.uint8
    assert frames[:, 0, 0, 0].tolist() == [10, 40, 80, 110]
    assert np.array_equal(load_frames(folder, 11)[:, 0, 0, 0], np.arange(1, 12) * 10)


def test_frame_folder_errors_name_the_folder(tmp_path):
    folder = _frame_folder(tmp_path / "frames", 3)
    with pytest.raises(MediaError, match=r"frames \(frame folder\): cannot trim by time"):
        load_frames(folder, 2, start_time=1.0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MediaError, match=r"empty: folder holds no frame images"):
        load_frames(empty, 2)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(folder / "4.png")
    with pytest.raises(MediaError, match=r"4.png: frame size 20x20 differs"):
        load_frames(folder, 4)


def test_processor_takes_a_frame_folder_as_a_video(tmp_path, native_checkpoint):
    from tarsier_hf.processing_tarsier import TarsierProcessor

    processor = TarsierProcessor.from_pretrained(native_checkpoint)
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(9):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i + 1}.png")
    from_folder = processor(text="<video> Describe.", videos=[str(folder)], num_frames=3, return_tensors="pt")
    frames = [Image.open(folder / f"{i}.png") for i in (1, 5, 9)]  # round(i * 8 / 2) = 0, 4, 8
    from_images = processor(text="<video> Describe.", videos=[frames], num_frames=3, return_tensors="pt")
    assert torch.equal(from_folder["pixel_values"], from_images["pixel_values"])
    assert torch.equal(from_folder["input_ids"], from_images["input_ids"])
