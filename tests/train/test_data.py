"""Rows, converters, prompt pools and the weighted mixture (real JSONL/Parquet files read with `datasets`)."""

import sys
from pathlib import Path

import pytest
import yaml

from trl_recipes.data import (
    FrameSpec,
    MixtureDataset,
    load_mixture,
    parse_mixture,
    sample_rng,
)
from trl_recipes.prompts import PROMPT_POOLS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _train_data import write_jsonl


def _captions(path: Path, n: int, prefix: str) -> Path:
    return write_jsonl(
        path,
        [{"id": f"{prefix}{i}", "video": f"v{i}.mp4", "caption": f"caption {i}"} for i in range(n)],
    )


def test_caption_converter_draws_from_the_pool_with_the_sample_seed(tmp_path):
    _captions(tmp_path / "c.jsonl", 4, "c")
    config = parse_mixture(
        {
            "datasets": [
                {
                    "path": str(tmp_path / "c.jsonl"),
                    "video_root": str(tmp_path),
                    "converter": "caption",
                    "prompts": "short_caption",
                }
            ]
        },
        stage=1,
    )
    dataset = MixtureDataset(config)
    row = dataset[0]
    user, assistant = row["messages"]
    assert user["content"] in PROMPT_POOLS["short_caption"] and assistant["content"].startswith("caption ")
    assert row["video"] == str(tmp_path / f"v{row['id'].split('c')[-1]}.mp4")  # under video_root
    assert row["frames"] == FrameSpec("stage1", (8,), 8, 32)  # the stage's default sampling
    assert dataset[0] == row  # same epoch, same prompt
    prompts = set()
    for epoch in range(12):
        dataset.set_epoch(epoch)
        prompts.add(dataset[0]["messages"][0]["content"])
    assert len(prompts) > 1  # a new epoch may draw another prompt of the pool


def test_qa_and_label_converters(tmp_path):
    write_jsonl(
        tmp_path / "qa.jsonl",
        [{"id": "q", "question": "What color?", "answer": "Red."}],
    )
    write_jsonl(tmp_path / "lab.jsonl", [{"id": "l", "label": "jumping"}])
    config = parse_mixture(
        {
            "datasets": [
                {"path": str(tmp_path / "qa.jsonl"), "converter": "qa"},
                {
                    "path": str(tmp_path / "lab.jsonl"),
                    "converter": "label",
                    "prompts": ["Name the action."],
                },
            ]
        },
        stage=2,
    )
    rows = {row["dataset"]: row for row in (MixtureDataset(config)[i] for i in range(2))}
    assert rows["qa"]["messages"][0]["content"] == "Give a short answer to the following question.\nWhat color?"
    assert rows["qa"]["messages"][1]["content"] == "Red."
    assert rows["lab"]["messages"] == [
        {"role": "user", "content": "Name the action."},
        {"role": "assistant", "content": "jumping"},
    ]
    assert "video" not in rows["qa"]  # text-only rows


def test_mixture_weights_set_each_dataset_share(tmp_path):
    _captions(tmp_path / "a.jsonl", 5, "a")
    _captions(tmp_path / "b.jsonl", 50, "b")
    mixture = {
        "seed": 3,
        "samples_per_epoch": 40,
        "datasets": [
            {
                "name": "a",
                "path": "a.jsonl",
                "weight": 3,
                "converter": "caption",
                "video_root": ".",
            },
            {
                "name": "b",
                "path": "b.jsonl",
                "weight": 1,
                "converter": "caption",
                "video_root": ".",
                "frames": {"sampler": "stage2", "num_frames": 16},
            },
        ],
    }
    (tmp_path / "mix.yaml").write_text(yaml.safe_dump(mixture))
    config = load_mixture(tmp_path / "mix.yaml", stage=1)  # paths relative to the YAML's folder
    dataset = MixtureDataset(config)
    assert len(dataset) == 40 and dataset.counts == {"a": 30, "b": 10}
    ids = [dataset[i]["id"] for i in range(40)]
    a_ids = [i for i in ids if i.startswith("a/")]
    assert len(a_ids) == 30 and len(set(a_ids)) == 5  # the small dataset is repeated 6x, every row used
    assert all(a_ids.count(i) == 6 for i in set(a_ids))
    assert dataset[39]["frames"] == FrameSpec("stage2", (16,))
    assert [MixtureDataset(config)[i]["id"] for i in range(40)] == ids  # fixed table for a seed


def test_sample_rng_is_stable_and_keyed():
    assert sample_rng(1, "x/1", 0).random() == sample_rng(1, "x/1", 0).random()
    draws = {sample_rng(*key).random() for key in [(1, "x/1", 0), (2, "x/1", 0), (1, "x/2", 0), (1, "x/1", 1)]}
    assert len(draws) == 4


def test_parquet_and_messages_rows(tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "id": "p1",
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello."},
                ],
            }
        ]
    )
    frame.to_parquet(tmp_path / "chat.parquet")
    config = parse_mixture({"datasets": [{"path": str(tmp_path / "chat.parquet")}]}, stage=2)
    row = MixtureDataset(config)[0]
    assert row["id"] == "chat/p1" and row["messages"][1]["content"] == "Hello."


@pytest.mark.parametrize(
    "mixture, message",
    [
        (
            {"datasets": [{"path": "x.jsonl"}], "batch": 3},
            r"unknown mixture keys \['batch'\]",
        ),
        (
            {"datasets": [{"path": "x.jsonl", "wieght": 2}]},
            r"unknown keys \['wieght'\]",
        ),
        (
            {"datasets": [{"path": "x.jsonl", "weight": 0}]},
            "weight must be a positive number",
        ),
        (
            {"datasets": [{"path": "x.jsonl", "converter": "summary"}]},
            "unknown converter 'summary'",
        ),
        (
            {"datasets": [{"path": "x.jsonl", "prompts": "no_such_pool"}]},
            "unknown prompt pool",
        ),
        (
            {"datasets": [{"path": "x.jsonl", "frames": {"sampler": "random"}}]},
            "frames.sampler must be",
        ),
        (
            {
                "datasets": [
                    {
                        "path": "x.jsonl",
                        "frames": {"sampler": "stage2", "num_frames": 0},
                    }
                ]
            },
            "integers >= 1",
        ),
        (
            {"datasets": [{"path": "x.jsonl", "video_root": "/no/such/folder"}]},
            "is not an existing folder",
        ),
        ({"datasets": []}, "non-empty 'datasets' list"),
        (
            {"datasets": [{"path": "x.jsonl"}, {"path": "x.jsonl"}]},
            "two mixture datasets are named 'x'",
        ),
    ],
)
def test_bad_mixtures_name_the_problem(mixture, message):
    with pytest.raises(ValueError, match=message):
        parse_mixture(mixture, stage=2)


def test_rows_without_messages_need_a_converter(tmp_path):
    _captions(tmp_path / "c.jsonl", 2, "c")
    config = parse_mixture(
        {"datasets": [{"path": str(tmp_path / "c.jsonl"), "video_root": str(tmp_path)}]},
        2,
    )
    with pytest.raises(ValueError, match="no 'messages' column and no converter"):
        MixtureDataset(config)


def test_relative_media_need_a_video_root(tmp_path):
    _captions(tmp_path / "c.jsonl", 2, "c")
    config = parse_mixture({"datasets": [{"path": str(tmp_path / "c.jsonl"), "converter": "caption"}]}, 2)
    with pytest.raises(ValueError, match="relative but the dataset has no video_root"):
        MixtureDataset(config)
