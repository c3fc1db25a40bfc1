"""Dataset packaging: validation lists every bad row before anything is written or uploaded (missing fields and
videos, videos that do not decode, duplicate ids, bad segments); DREAM-1K annotations packaged as the Hub's
metadata fields that the ``dream1k`` task reads back; the dataset card's metadata."""

import json

import pytest
from _hub_harness import write_training_folder, write_truncated_video, write_video, write_zero_frame_video
from huggingface_hub import DatasetCard

from hub_cards.cli import main as hub_main
from hub_cards.dataset import DatasetValidationError, package_dataset, validate_rows
from hub_cards.dataset_card import build_dataset_card, size_category
from hub_cards.testing import validate_card_yaml


def test_validation_lists_every_bad_row_and_writes_nothing(tmp_path):
    folder = write_training_folder(tmp_path / "src")
    write_zero_frame_video(folder / "clips" / "empty.mp4")
    write_truncated_video(folder / "clips" / "cut.mp4", keep=0.05)
    good = json.loads((folder / "train.jsonl").read_text().splitlines()[0])
    rows = [
        good,  # line 1: fine
        {**good, "id": "r1", "video": "clips/missing.mp4"},  # line 2: no such file
        {**good, "id": "r2", "video": "clips/empty.mp4"},  # line 3: no frames
        {**good, "id": "r3", "video": "clips/cut.mp4"},  # line 4: truncated
        {**good},  # line 5: duplicate id r0
        {"id": "r5", "video": "clips/c0.mp4"},  # line 6: no messages
        {**good, "id": "r6", "start": 2.0, "end": 1.0},  # line 7: start after end
        {**good, "id": "r7", "messages": "hello"},  # line 8: messages not a list
    ]
    lines = [json.dumps(row) for row in rows] + ["{not json"]  # line 9
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetValidationError) as caught:
        package_dataset(folder, tmp_path / "out", progress=False)
    problems = dict(caught.value.problems)
    message = str(caught.value)
    assert "8 of 9 rows are invalid, nothing was written or uploaded" in message
    assert problems["line 2 (id 'r1')"].startswith("video not found:")
    assert problems["line 3 (id 'r2')"].startswith("video does not decode")
    assert problems["line 4 (id 'r3')"].startswith("video does not decode")
    assert problems["line 5 (id 'r0')"] == "duplicate id 'r0' (first at line 1 (id 'r0'))"
    assert problems["line 6 (id 'r5')"] == "missing required field(s): messages"
    assert problems["line 7 (id 'r6')"] == "'start' (2.0) must be before 'end' (1.0)"
    assert "'messages' must be a non-empty list" in problems["line 8 (id 'r7')"]
    assert problems["line 9"].startswith("not valid JSON")
    assert "  line 1 (id 'r0'):" not in message
    assert [label for label, _ in caught.value.problems][:2] == ["line 2 (id 'r1')", "line 3 (id 'r2')"]  # file order
    assert not (tmp_path / "out").exists()


def test_push_dataset_with_bad_rows_exits_1_and_sends_nothing(tmp_path, hub_server, monkeypatch, capsys):
    folder = write_training_folder(tmp_path / "src")
    (folder / "clips" / "c2.mp4").unlink()
    requests = len(hub_server.requests)
    monkeypatch.setenv("HF_TOKEN", "hf_unused")
    assert hub_main(["push-dataset", str(folder), "tester/never"]) == 1
    err = capsys.readouterr().err
    assert "1 of 4 rows are invalid" in err and "line 3 (id 'r2'): video not found" in err
    assert len(hub_server.requests) == requests and not hub_server.repo_exists("tester/never", "dataset")


def test_dream1k_annotations_are_packaged_as_hub_metadata_the_task_reads(tmp_path, dream1k_folder):
    from lmms_tasks.autodq.annotations import load_dream1k_annotations

    package = package_dataset(dream1k_folder, tmp_path / "pkg", progress=False)
    assert (package.split, package.format, package.n_rows, package.n_videos) == ("test", "dream1k", 3, 3)
    assert package.files == [
        "README.md",
        "data/test/metadata.jsonl",
        "data/test/videos/1.mp4",
        "data/test/videos/2.mp4",
        "data/test/videos/3.mp4",
    ]
    metadata = tmp_path / "pkg" / "data" / "test" / "metadata.jsonl"
    first = json.loads(metadata.read_text().splitlines()[0])
    assert first["file_name"] == "videos/1.mp4" and first["idx"] == "1" and first["n_events"] == 5
    assert first["description"].startswith("A character emerges from smoke and fire")
    # The packaged metadata is a DREAM-1K annotation file the dream1k task / tarsier-autodq read as is.
    original = load_dream1k_annotations(dream1k_folder / "DREAM-1k.jsonl")
    repackaged = load_dream1k_annotations(metadata)
    for clip_id in ("1", "2", "3"):
        assert {**repackaged[clip_id], "video_file": None} == original[clip_id]
    card = DatasetCard.load(tmp_path / "pkg" / "README.md")
    assert card.data.configs == [{"config_name": "default", "data_files": [{"split": "test", "path": "data/test/**"}]}]
    assert "TARSIER_DREAM1K_ANNOTATIONS=" in card.text and validate_card_yaml(str(card), "dataset") == []


def test_dream1k_rows_without_their_video_are_named(tmp_path, dream1k_folder):
    (dream1k_folder / "videos" / "2.mp4").unlink()
    write_video(dream1k_folder / "videos" / "3.mkv", num_frames=4)  # a second file for clip 3
    with pytest.raises(DatasetValidationError) as caught:
        validate_rows(dream1k_folder, progress=False)
    problems = dict(caught.value.problems)
    assert problems["line 2 (id '2')"].startswith("no video named 2.* under")
    assert problems["line 3 (id '3')"].startswith("2 videos (")


def test_dataset_card_metadata():
    card = build_dataset_card(
        data_format="training",
        split="train",
        n_rows=1500,
        repo_id="me/sft",
        license="cc-by-4.0",
        source="someone/videos",
        gated=True,
    )
    data = DatasetCard(str(card)).data.to_dict()
    assert data["license"] == "cc-by-4.0" and data["task_categories"] == ["video-text-to-text"]
    assert data["size_categories"] == ["1K<n<10K"] and data["source_datasets"] == ["extended|someone/videos"]
    assert data["pretty_name"] == "sft" and "extra_gated_prompt" in data and "extra_gated_fields" in data
    assert 'load_dataset("me/sft", split="train")' in card.text and "to_training_row" in card.text
    assert validate_card_yaml(str(card), "dataset") == []
    assert [size_category(n) for n in (0, 999, 1000, 10**5, 10**6)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "100K<n<1M",
        "1M<n<10M",
    ]


def test_packaged_training_rows_feed_the_training_recipes_loader(tmp_path):
    from trl_recipes.data import DatasetSpec, _check_columns, load_rows

    folder = write_training_folder(tmp_path / "src")
    package = package_dataset(folder, tmp_path / "pkg", progress=False)
    assert "training_rows/train.jsonl" in package.files
    spec = DatasetSpec(
        name="packaged",
        path=str(package.folder / "training_rows" / "train.jsonl"),
        video_root=str(package.folder / "data" / "train"),
    )
    rows = load_rows(spec)
    _check_columns(rows, spec)  # the recipe's own checks: messages present, media paths resolvable
    expected = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
    assert [row["id"] for row in rows] == [row["id"] for row in expected]
    assert rows[1]["start"] == 0.25 and rows[1]["end"] == 1.0 and rows[0]["messages"] == expected[0]["messages"]
    for row, source in zip(rows, expected):
        packaged = package.folder / "data" / "train" / row["video"]
        assert packaged.read_bytes() == (folder / source["video"]).read_bytes()
