"""Tarsier2 model: official key layout, the official M-RoPE rule, placeholder errors, batched = single greedy."""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from tarsier_hf import (
    Tarsier2Config,
    Tarsier2ForConditionalGeneration,
    Tarsier2Processor,
)
from tarsier_hf.loading import load_tarsier, model_family
from tarsier_hf.testing_tarsier2 import (
    TINY2_IDS,
    save_tiny_tarsier2_checkpoint,
    tiny2_model,
)

VISION_START, IMAGE = TINY2_IDS["<|vision_start|>"], TINY2_IDS["<|image_pad|>"]


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    return save_tiny_tarsier2_checkpoint(tmp_path_factory.mktemp("tarsier2") / "official", seed=3)


def official_rope_index(input_ids, image_grid_thw, attention_mask, merge=2):
    """An independent port of bytedance/tarsier ``models/modeling_qwen2_vl_fast.py::Qwen2VLForCausalLM
    .get_rope_index``: vision blocks found as a ``<|vision_start|>`` followed by the image token; text resumes at the
    previous chunk's max + 1; padding gets 1. Returns ``(batch, seq, 3)`` as the official code does."""
    position_ids = torch.ones(3, *input_ids.shape, dtype=torch.long)
    vision_index = 0
    for i, row in enumerate(input_ids):
        row = row[attention_mask[i] == 1]
        starts = torch.argwhere(row == VISION_START).squeeze(1)
        vision_num = int((row[starts + 1] == IMAGE).sum())
        tokens = row.tolist()
        chunks, st = [], 0
        for _ in range(vision_num):
            ed = tokens.index(IMAGE, st)
            t, h, w = (int(x) for x in image_grid_thw[vision_index])
            vision_index += 1
            gt, gh, gw = t, h // merge, w // merge
            text_len = ed - st
            st_idx = chunks[-1].max() + 1 if chunks else 0
            chunks.append(torch.arange(text_len).view(1, -1).expand(3, -1) + st_idx)
            t_index = torch.arange(gt).view(-1, 1).expand(-1, gh * gw).flatten()
            h_index = torch.arange(gh).view(1, -1, 1).expand(gt, -1, gw).flatten()
            w_index = torch.arange(gw).view(1, 1, -1).expand(gt, gh, -1).flatten()
            chunks.append(torch.stack([t_index, h_index, w_index]) + text_len + st_idx)
            st = ed + gt * gh * gw
        if st < len(tokens):
            st_idx = chunks[-1].max() + 1 if chunks else 0
            chunks.append(torch.arange(len(tokens) - st).view(1, -1).expand(3, -1) + st_idx)
        position_ids[:, i, attention_mask[i] == 1] = torch.cat(chunks, dim=1)
    return position_ids.permute(1, 2, 0)


def _videos(seed, shapes):
    generator = np.random.default_rng(seed)
    return [generator.integers(0, 256, shape, dtype=np.uint8) for shape in shapes]


def test_official_layout_loads_with_zero_missing_or_unexpected_keys(official):
    with safe_open(official / "model.safetensors", "pt") as weights:
        keys = set(weights.keys())
    assert {k.split(".")[0] for k in keys} == {"vision_tower", "language_model", "multi_modal_projector"}
    assert "language_model.lm_head.weight" in keys and "vision_tower.merger.mlp.0.weight" in keys
    assert json.loads((official / "config.json").read_text())["model_type"] == "llava"

    model, info = Tarsier2ForConditionalGeneration.from_pretrained(official, output_loading_info=True)
    assert info == {"missing_keys": set(), "unexpected_keys": set(), "mismatched_keys": set(), "error_msgs": []}
    reference = tiny2_model(seed=3).state_dict()
    loaded = model.state_dict()
    assert set(loaded) == set(reference)
    assert all(torch.equal(loaded[k], reference[k]) for k in reference)
    # the official token ids moved to the Qwen2-VL places; flash-attention from the official text_config dropped
    assert model.config.image_token_id == IMAGE and model.config.vision_start_token_id == VISION_START
    assert model.config.text_config._attn_implementation != "flash_attention_2"


def test_native_save_round_trip_keeps_weights_and_type(official, tmp_path):
    model = Tarsier2ForConditionalGeneration.from_pretrained(official)
    model.save_pretrained(tmp_path / "native")
    assert json.loads((tmp_path / "native" / "config.json").read_text())["model_type"] == "tarsier2"
    with (
        safe_open(tmp_path / "native" / "model.safetensors", "pt") as saved,
        safe_open(official / "model.safetensors", "pt") as original,
    ):  # saved back in the official key layout
        official_keys = set(original.keys())
        assert set(saved.keys()) == {k for k in official_keys if not k.startswith("multi_modal_projector.")}
    again, info = Tarsier2ForConditionalGeneration.from_pretrained(tmp_path / "native", output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


@pytest.mark.parametrize("frames", [2, 16, 5])
def test_rope_positions_follow_the_official_rule(official, frames):
    """16 frames of a 2x2 merged grid: t (16) > grid side (2), where transformers 5's Qwen2-VL rule differs."""
    processor = Tarsier2Processor.from_pretrained(official, num_frames=frames)
    model = Tarsier2ForConditionalGeneration.from_pretrained(official)
    videos = _videos(frames, [(30, 56, 56, 3), (40, 60, 90, 3)])
    inputs = processor(
        text=["<video>Describe the video.", "<video>\nA man <video> walks."],
        videos=[videos[0], videos[1], videos[0]],
        return_tensors="pt",
    )
    positions, deltas = model.model.get_rope_index(
        inputs["input_ids"],
        inputs["mm_token_type_ids"],
        inputs["image_grid_thw"],
        attention_mask=inputs["attention_mask"],
    )
    expected = official_rope_index(inputs["input_ids"], inputs["image_grid_thw"], inputs["attention_mask"])
    mask = inputs["attention_mask"].bool()
    assert torch.equal(positions.permute(1, 2, 0)[mask], expected[mask])
    lengths = mask.sum(-1)
    assert torch.equal(deltas.squeeze(1), expected.amax(dim=(1, 2)) + 1 - lengths)
    if frames == 16:  # transformers' own rule would resume text at start + max(h, w) instead
        stock = super(type(model.model), model.model).get_rope_index(
            inputs["input_ids"],
            inputs["mm_token_type_ids"],
            inputs["image_grid_thw"],
            attention_mask=inputs["attention_mask"],
        )[0]
        assert not torch.equal(stock.permute(1, 2, 0)[mask], expected[mask])


def test_batched_generation_equals_single(official):
    processor = Tarsier2Processor.from_pretrained(official, num_frames=6)
    model = Tarsier2ForConditionalGeneration.from_pretrained(official)
    videos = _videos(1, [(12, 56, 84, 3), (7, 70, 56, 3), (20, 56, 56, 3)])
    texts = ["Describe the video in detail.", "What is the man doing?", "Describe the video."]
    settings = {"max_new_tokens": 6, "do_sample": False}
    batch = processor(text=texts, videos=videos, return_tensors="pt")
    assert (batch["attention_mask"][:, 0] == 0).any()  # left padding is exercised
    batched = model.generate(**batch, **settings)[:, batch["input_ids"].shape[1] :]
    for row, (text, video) in enumerate(zip(texts, videos)):
        single = processor(text=text, videos=[video], return_tensors="pt")
        alone = model.generate(**single, **settings)[:, single["input_ids"].shape[1] :]
        assert torch.equal(alone[0], batched[row])


def test_placeholder_count_mismatch_is_a_clear_error(official):
    processor = Tarsier2Processor.from_pretrained(official, num_frames=4)
    model = Tarsier2ForConditionalGeneration.from_pretrained(official)
    inputs = processor(text="Describe.", videos=_videos(2, [(8, 56, 56, 3)]), return_tensors="pt")
    cut = {k: v for k, v in inputs.items()}
    keep = torch.ones_like(inputs["input_ids"][0], dtype=torch.bool)
    keep[(inputs["input_ids"][0] == IMAGE).nonzero()[0]] = False  # drop one image token
    for key in ("input_ids", "attention_mask", "mm_token_type_ids"):
        cut[key] = inputs[key][:, keep]
    with pytest.raises(ValueError, match=r"15 image-token positions .* 16 image features"):
        model(**cut)


def test_load_tarsier_detects_the_family_and_its_frame_default(official):
    assert model_family(json.loads((official / "config.json").read_text())) == "tarsier2"
    model, processor = load_tarsier(str(official), device="cpu")
    assert isinstance(model, Tarsier2ForConditionalGeneration) and isinstance(processor, Tarsier2Processor)
    assert processor.num_frames == 16 and not model.training
    _, processor = load_tarsier(str(official), device="cpu", num_frames=4)
    assert processor.num_frames == 4
    assert isinstance(Tarsier2Config.from_pretrained(official), Tarsier2Config)
