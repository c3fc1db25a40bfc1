"""TarsierVideoCollator on real files (PyAV videos, Pillow images) with a tiny checkpoint's processor."""

import sys
from pathlib import Path

import pytest
import torch

from tarsier_hf import TarsierProcessor
from tarsier_hf.testing import TINY_IMAGE_TOKEN_ID, save_tiny_checkpoint
from tarsier_hf.video_io import MediaError
from trl_recipes.collator import IGNORE_INDEX, TarsierVideoCollator
from trl_recipes.data import FrameSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _train_data import make_media, write_truncated_video

PER_FRAME = 7  # tiny model: 2x2 patches -> 2 * 3 + 1 positions


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("collator")
    processor = TarsierProcessor.from_pretrained(save_tiny_checkpoint(root / "tiny"))
    media = make_media(root / "media", num_videos=2, num_images=2, frames=40)
    write_truncated_video(media / "videos" / "broken.mp4")
    return processor, media


def _row(sample_id, messages, epoch=0, seed=0, frames=None, **media):
    return {
        "id": sample_id,
        "messages": messages,
        "epoch": epoch,
        "seed": seed,
        "frames": frames or FrameSpec("stage2", (4,)),
        **media,
    }


def _chat(*turns):
    roles = ["user", "assistant"] * len(turns)
    return [{"role": role, "content": text} for role, text in zip(roles, turns)]


def test_labels_are_assistant_tokens_and_eos_multi_turn(setup):
    processor, _ = setup
    messages = _chat("Hi there", "A cat jumps onto the table.", "And then?", "It runs away quickly.")
    batch = TarsierVideoCollator(processor)([_row("t/1", messages)])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    # Same mask as transformers' own assistant-token mask of the chat template's {% generation %} spans.
    expected = processor.tokenizer.apply_chat_template(
        messages,
        chat_template=processor.chat_template,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    # The processor's tokenizer call adds BOS in front, as the official pipeline does (the template has none).
    assert ids.tolist() == [processor.tokenizer.bos_token_id, *expected["input_ids"]]
    mask = torch.tensor([0, *expected["assistant_masks"]], dtype=torch.bool)
    assert torch.equal(labels != IGNORE_INDEX, mask)
    assert torch.equal(labels[mask], ids[mask])
    eos = processor.tokenizer.eos_token_id
    assert (ids == eos).sum() == 2 and (labels == eos).sum() == 2  # both answers end with a learned </s>
    learned = processor.tokenizer.decode(labels[mask])
    assert "cat jumps onto the table.</s>" in learned and "runs away quickly.</s>" in learned
    assert "And then" not in learned and "Hi there" not in learned


def test_mixed_batch_video_image_text_right_padded(setup):
    processor, media = setup
    rows = [
        _row(
            "v/1",
            _chat("Describe the video.", "A dog runs."),
            video=str(media / "videos" / "v0.mp4"),
        ),
        _row(
            "i/1",
            _chat("<image>\nWhat is shown?", "A pattern."),
            images=[str(media / "images" / "i0.png")],
        ),
        _row("t/1", _chat("Say hello.", "Hello.")),
    ]
    batch = TarsierVideoCollator(processor)(rows)
    assert batch["pixel_values"].shape == (4 + 1, 3, 28, 28)
    image_tokens = (batch["input_ids"] == TINY_IMAGE_TOKEN_ID).sum(dim=1).tolist()
    assert image_tokens == [4 * PER_FRAME, PER_FRAME, 0]
    lengths = batch["attention_mask"].sum(dim=1)
    for i, length in enumerate(lengths.tolist()):  # right padding: ones then zeros, pad id, no labels
        assert batch["attention_mask"][i, :length].all() and not batch["attention_mask"][i, length:].any()
        assert (batch["input_ids"][i, length:] == processor.tokenizer.pad_token_id).all()
        assert (batch["labels"][i, length:] == IGNORE_INDEX).all()
        assert not (batch["labels"][i] == TINY_IMAGE_TOKEN_ID).any()
    stats = batch["data_stats"]
    assert stats["frames"] == 5 and stats["ids"] == ["v/1", "i/1", "t/1"]
    # visuals without a placeholder go before the first user text, as in the official prompt
    text = processor.tokenizer.decode(batch["input_ids"][0][batch["attention_mask"][0].bool()])
    assert text.replace("<image>", "").startswith("<s> USER:")


def test_frame_seeds_same_seed_same_frames_new_epoch_new_frames(setup):
    processor, media = setup
    collator = TarsierVideoCollator(processor)
    spec = FrameSpec("stage1", min_frames=4, max_frames=12)
    video = str(media / "videos" / "v1.mp4")

    def pixels(epoch, seed=0, sample_id="v/7"):
        row = _row(
            sample_id,
            _chat("Describe.", "Things happen."),
            epoch=epoch,
            seed=seed,
            frames=spec,
            video=video,
        )
        return collator([row])["pixel_values"]

    first = pixels(0)
    assert torch.equal(first, pixels(0))  # reproducible: a resumed run sees the same frames
    others = [pixels(epoch) for epoch in (1, 2, 3)] + [
        pixels(0, seed=1),
        pixels(0, sample_id="v/8"),
    ]
    assert all(p.shape != first.shape or not torch.equal(p, first) for p in others)


def test_overlong_text_is_truncated_never_inside_image_tokens(setup):
    processor, media = setup
    long_answer = " ".join(["The cat jumps onto the table."] * 20)
    row = _row(
        "v/long",
        _chat("Describe the video.", long_answer),
        video=str(media / "videos" / "v0.mp4"),
    )
    full = TarsierVideoCollator(processor)([row])
    full_length = int(full["attention_mask"].sum())
    assert full_length > 80

    batch = TarsierVideoCollator(processor, max_length=60)([row])
    assert batch["input_ids"].shape == (1, 60)
    assert torch.equal(batch["input_ids"][0], full["input_ids"][0, :60])
    assert (batch["input_ids"] == TINY_IMAGE_TOKEN_ID).sum() == 4 * PER_FRAME  # every image token kept
    assert batch["data_stats"]["truncated"] == 1 and (batch["labels"] != IGNORE_INDEX).any()

    # a limit inside the image tokens: the row is skipped (and counted), not cut
    skipped = TarsierVideoCollator(processor, max_length=20)([row])
    assert skipped["data_stats"]["skipped_overlong"] == 1 and "pixel_values" not in skipped
    assert (skipped["labels"] == IGNORE_INDEX).all()  # the empty batch teaches nothing
    # overlong="skip" drops even rows whose text could be cut
    only_skip = TarsierVideoCollator(processor, max_length=60, overlong="skip")([row])
    assert only_skip["data_stats"]["skipped_overlong"] == 1


def test_corrupt_video_is_skipped_and_counted_unless_strict(setup):
    processor, media = setup
    rows = [
        _row(
            "bad/1",
            _chat("Describe.", "Nothing."),
            video=str(media / "videos" / "broken.mp4"),
        ),
        _row(
            "bad/2",
            _chat("Describe.", "Nothing."),
            video=str(media / "videos" / "missing.mp4"),
        ),
        _row(
            "ok/1",
            _chat("Describe.", "A dog runs."),
            video=str(media / "videos" / "v0.mp4"),
        ),
    ]
    batch = TarsierVideoCollator(processor)(rows)
    assert batch["data_stats"]["skipped_media"] == 2 and batch["data_stats"]["ids"] == ["ok/1"]
    assert batch["input_ids"].shape[0] == 1 and batch["pixel_values"].shape[0] == 4
    with pytest.raises(MediaError, match="missing.mp4"):
        TarsierVideoCollator(processor, strict_data=True)(rows[1:])


def test_placeholder_count_must_match_media(setup):
    processor, media = setup
    row = _row(
        "i/2",
        _chat("<image> <image> Compare.", "Same."),
        images=[str(media / "images" / "i0.png")],
    )
    with pytest.raises(ValueError, match="placeholders"):
        TarsierVideoCollator(processor)([row])
