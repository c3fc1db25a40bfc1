"""`tarsier describe`'s Python API on a tiny checkpoint: batched generation gives the one-by-one descriptions,
chunked vision encoding changes nothing, records and resume, input expansion."""

import json

import pytest
import torch
from _describe_helpers import reference_descriptions, write_media_set

from tarsier_hf.describe.batching import Collator, DescribeDataset, Item, Job, render_prompt
from tarsier_hf.describe.generation import GenerationSettings, encode_frames
from tarsier_hf.describe.inputs import DescribeInput, InputError, collect_inputs, input_key
from tarsier_hf.describe.records import load_records, merge_into_output, shard_path
from tarsier_hf.describe.runner import DescribeOptions, describe
from tarsier_hf.loading import load_tarsier
from tarsier_hf.testing import save_tiny_checkpoint

FRAMES, NEW_TOKENS = 4, 8


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = save_tiny_checkpoint(tmp_path_factory.mktemp("describe") / "tiny")
    model, processor = load_tarsier(str(folder), device="cpu")
    return model, processor


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return write_media_set(tmp_path_factory.mktemp("media"), 8)


@pytest.fixture(scope="module")
def reference(tiny, media):
    return reference_descriptions(*tiny, media, FRAMES, NEW_TOKENS)


def options(**overrides) -> DescribeOptions:
    settings = {"num_frames": FRAMES, "generation": GenerationSettings(max_new_tokens=NEW_TOKENS), **overrides}
    return DescribeOptions(**settings)


def test_reference_depends_on_the_input(reference):
    # Otherwise the equality tests below could not tell inputs (or their frames) apart.
    assert len(set(reference)) >= 5 and all(reference)


@pytest.mark.parametrize("batch_size, workers, chunk", [(1, 0, 32), (3, 0, 5), (8, 1, 2)])
def test_batched_equals_one_by_one(tiny, media, reference, batch_size, workers, chunk):
    records = []
    generation = GenerationSettings(max_new_tokens=NEW_TOKENS, vision_chunk=chunk)
    summary = describe(
        *tiny,
        [DescribeInput(str(p)) for p in media],
        options(batch_size=batch_size, workers=workers, generation=generation),
        emit=records.append,
        progress=False,
    )
    assert [r["description"] for r in records] == reference
    assert [r["path"] for r in records] == [str(p) for p in media]
    assert [r["frames"] for r in records] == [1 if p.suffix == ".png" else FRAMES for p in media]
    assert all(r["batch_size"] == min(batch_size, 8) for r in records[: batch_size * (8 // batch_size)])
    assert summary.described == 8 and summary.failed == [] and summary.skipped == 0


def test_plain_paths_are_inputs(tiny, media, reference):
    # str and os.PathLike items (and one path alone) are wrapped as DescribeInput, as the README's example does.
    records = []
    mixed = [str(media[0]), media[1], DescribeInput(str(media[3]))]
    summary = describe(*tiny, mixed, options(batch_size=2), emit=records.append, progress=False)
    assert [r["description"] for r in records] == [reference[0], reference[1], reference[3]]
    assert [r["path"] for r in records] == [str(media[0]), str(media[1]), str(media[3])]
    assert summary.described == 3 and summary.failed == []
    alone = []
    describe(*tiny, str(media[2]), options(), emit=alone.append, progress=False)
    assert [r["description"] for r in alone] == [reference[2]]
    with pytest.raises(
        TypeError, match=r"inputs\[1\]: expected a path \(str or os.PathLike\) or a DescribeInput, got int"
    ):
        describe(*tiny, [str(media[0]), 7], options(), progress=False)


def test_static_cache_gives_the_same_descriptions(tiny, media, reference):
    records = []
    generation = GenerationSettings(max_new_tokens=NEW_TOKENS, static_cache=True)
    describe(
        *tiny,
        [DescribeInput(str(p)) for p in media[:4]],
        options(batch_size=2, generation=generation),
        emit=records.append,
        progress=False,
    )
    assert [r["description"] for r in records] == reference[:4]


def test_chunked_vision_encoding_equals_one_call(tiny):
    model, _ = tiny
    pixels = torch.randn(7, 3, 28, 28)
    whole = model.get_image_features(pixel_values=pixels, return_dict=True).pooler_output
    chunked = encode_frames(model, pixels, chunk=3).pooler_output
    assert len(chunked) == len(whole) == 7
    for a, b in zip(chunked, whole):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_dataset_decodes_once_and_reports_bad_files(tiny, media, tmp_path, monkeypatch):
    _, processor = tiny
    from tarsier_hf.describe import batching

    calls = []
    real = batching.load_frames
    monkeypatch.setattr(batching, "load_frames", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\0" * 2000)
    jobs = [Job(0, str(media[0]), "Describe."), Job(1, str(broken), "Describe.")]
    items = [DescribeDataset(jobs, processor, FRAMES)[i] for i in range(2)]
    assert calls == [str(media[0]), str(broken)]  # one decode per input, no separate check
    assert items[0].error is None and items[0].pixel_values.shape == (FRAMES, 3, 28, 28)
    assert items[1].error.startswith(f"{broken}: cannot decode video")
    expected = processor(text=render_prompt(processor, "Describe."), videos=str(media[0]), num_frames=FRAMES)
    assert items[0].input_ids.tolist() == expected["input_ids"][0]
    torch.testing.assert_close(items[0].pixel_values, torch.as_tensor(expected["pixel_values"]), rtol=0, atol=0)
    batch = Collator(processor.tokenizer.pad_token_id)([items[0], items[1], items[0]])
    assert [i.job.index for i in batch.failed] == [1] and batch.input_ids.shape[0] == 2


def test_prompt_is_the_official_one(tiny):
    _, processor = tiny
    assert render_prompt(processor, "Describe the video in detail.") == (
        "USER: <video>\nDescribe the video in detail. ASSISTANT: "
    )


def test_left_padding(tiny):
    _, processor = tiny
    pad = processor.tokenizer.pad_token_id
    short, long = torch.tensor([5, 6]), torch.tensor([7, 8, 9])
    items = []
    for ids in (short, long):
        items.append(Item(Job(len(items), "x", "y"), input_ids=ids, pixel_values=torch.zeros(len(ids), 3, 2, 2)))
    batch = Collator(pad)(items)
    assert batch.input_ids.tolist() == [[pad, 5, 6], [7, 8, 9]]
    assert batch.attention_mask.tolist() == [[0, 1, 1], [1, 1, 1]]
    assert batch.pixel_values.shape[0] == 5 and batch.frames == [2, 3]


def test_resume_skips_done_inputs_and_keeps_input_order(tiny, media, reference, tmp_path):
    output = tmp_path / "out.jsonl"
    inputs = [DescribeInput(str(p)) for p in media]
    first = describe(*tiny, inputs[:3], options(batch_size=2), output=output, progress=False)
    assert first.described == 3
    # A record of an input that is not part of the next run stays, first.
    other = {"path": str(tmp_path / "other.mp4"), "description": "x", "prompt": "p"}
    with open(output, "a") as handle:
        handle.write(json.dumps(other) + "\n")
    second = describe(*tiny, inputs, options(batch_size=4), output=output, progress=False)
    assert (second.described, second.skipped) == (5, 3)
    records = load_records(output)
    assert records[0] == other
    assert [r["path"] for r in records[1:]] == [str(p) for p in media]
    assert [r["description"] for r in records[1:]] == reference
    third = describe(*tiny, inputs, options(), output=output, progress=False)
    assert (third.described, third.skipped) == (0, 8)
    # Another instruction is another job.
    fourth = describe(*tiny, inputs[:1], options(prompt="What happens?"), output=output, progress=False)
    assert fourth.described == 1 and load_records(output)[-1]["prompt"] == "What happens?"


def test_torn_last_line_is_cut_and_shards_are_merged(tmp_path):
    output = tmp_path / "out.jsonl"
    good = {"path": "b.mp4", "description": "B", "prompt": "p"}
    output.write_text(json.dumps(good) + "\n" + '{"path": "a.mp4", "descr')
    assert load_records(output) == [good]
    assert output.read_text() == json.dumps(good) + "\n"
    shard_path(output, 1).write_text(json.dumps({"path": "a.mp4", "description": "A", "prompt": "p"}) + "\n")
    shard_path(output, 0).write_text(json.dumps({"path": "c.mp4", "description": "C", "prompt": "p"}) + "\n")
    order = [input_key(name, "p") for name in ("a.mp4", "b.mp4", "c.mp4")]
    assert merge_into_output(output, order) == 2
    assert [r["description"] for r in load_records(output)] == ["A", "B", "C"]
    assert not shard_path(output, 0).exists() and not shard_path(output, 1).exists()
    output.write_text("not json\n")
    with pytest.raises(ValueError, match="out.jsonl:1: not a JSON line"):
        load_records(output)


def test_collect_inputs(tmp_path, media):
    folder = media[0].parent
    (folder / "notes.txt").write_text("not media")
    listed = tmp_path / "list.txt"
    listed.write_text(f"# a comment\n{media[1]}\n\nrelative.mp4\n")
    jsonl = tmp_path / "list.jsonl"
    jsonl.write_text(json.dumps({"path": str(media[2]), "prompt": "Who?"}) + "\n" + json.dumps({"video": "v.gif"}))
    found = collect_inputs([folder, str(folder / "*_gif.gif"), media[0]], [listed, jsonl])
    assert [i.path for i in found[:8]] == [str(p) for p in media]  # the glob and the repeated file add nothing
    assert found[8:] == [
        DescribeInput(str(tmp_path / "relative.mp4")),  # list entries are checked when they are decoded
        DescribeInput(str(media[2]), "Who?"),
        DescribeInput(str(tmp_path / "v.gif")),
    ]
    for arguments, lists, message in [
        ([tmp_path / "missing.mp4"], [], "missing.mp4: file not found"),
        ([folder / "notes.txt"], [], "unsupported file extension '.txt'"),
        ([str(tmp_path / "*.avi")], [], "the pattern matches no media files"),
        ([], [tmp_path / "nope.txt"], "nope.txt: input list not found"),
        ([], [], "no inputs"),
    ]:
        with pytest.raises(InputError, match=message):
            collect_inputs(arguments, lists)
    jsonl.write_text('{"prompt": "x"}\n')
    with pytest.raises(InputError, match=r"list.jsonl:1: the object has no \"path\""):
        collect_inputs([], [jsonl])
