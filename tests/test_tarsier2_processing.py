"""Tarsier2Processor against an independent reimplementation of the official steps: frames, duplication, the
pixel-budget pre-resize, patches, tokens per frame, the prompt; bad inputs."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from tarsier_hf import Tarsier2Processor
from tarsier_hf.processing_tarsier2 import pixel_budget_size
from tarsier_hf.testing_tarsier2 import TINY2_IDS, save_tiny_tarsier2_checkpoint
from tarsier_hf.video_io import sample_frame_indices_tarsier2

MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
STD = np.array([0.26862954, 0.26130258, 0.27577711])


@pytest.fixture(scope="module")
def processor(tmp_path_factory):
    path = save_tiny_tarsier2_checkpoint(tmp_path_factory.mktemp("t2p") / "official", max_pixels=112 * 112)
    return Tarsier2Processor.from_pretrained(path)


def official_video_patches(frames, max_pixels, image_min=56 * 56, image_max=112 * 112):
    """The official path written out: duplicate each frame, resize2pixels (smart_resize factor 1), then
    transformers-4.47 Qwen2-VL video preprocessing (resize to multiples of 28, rescale, normalize, temporal pairs)."""
    doubled = [f for frame in frames for f in (frame, frame)]
    resized = []
    for frame in doubled:
        h, w = frame.height, frame.width
        if h * w > max_pixels:
            beta = math.sqrt(h * w / max_pixels)
            h, w = math.floor(h / beta), math.floor(w / beta)
        resized.append(frame.resize((w, h)))
    h, w = resized[0].height, resized[0].width
    hb, wb = round(h / 28) * 28, round(w / 28) * 28
    if hb * wb > image_max:
        beta = math.sqrt(h * w / image_max)
        hb, wb = math.floor(h / beta / 28) * 28, math.floor(w / beta / 28) * 28
    elif hb * wb < image_min:
        beta = math.sqrt(image_min / (h * w))
        hb, wb = math.ceil(h * beta / 28) * 28, math.ceil(w * beta / 28) * 28
    video = np.stack(
        [
            ((np.asarray(f.resize((wb, hb), Image.BICUBIC), dtype=np.float32) / 255 - MEAN) / STD).transpose(2, 0, 1)
            for f in resized
        ]
    ).astype(np.float32)
    t, gh, gw = video.shape[0] // 2, hb // 14, wb // 14
    patches = video.reshape(t, 2, 3, gh // 2, 2, 14, gw // 2, 2, 14).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return patches.reshape(t * gh * gw, 3 * 2 * 14 * 14), (t, gh, gw)


def test_frames_duplication_resize_and_patches_match_the_official_path(processor):
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (30, 90, 160, 3), dtype=np.uint8)
    budget = 100 * 100  # forces the pre-resize: 160x90 → smart_resize(factor=1) → 133x74
    out = processor(
        text="Describe the video in detail.", videos=[clip], num_frames=5, max_pixels=budget, return_tensors="pt"
    )
    indices = sample_frame_indices_tarsier2(30, 5)
    assert indices == [0, 7, 14, 22, 29]
    expected, grid = official_video_patches([Image.fromarray(clip[i]) for i in indices], budget)
    assert out["image_grid_thw"].tolist() == [list(grid)] and grid[0] == 5  # one temporal patch per frame
    np.testing.assert_allclose(out["pixel_values"].numpy(), expected, atol=1e-5)
    # tokens per frame: the merged grid, (h/2)*(w/2)
    assert int((out["input_ids"] == TINY2_IDS["<|image_pad|>"]).sum()) == grid[0] * grid[1] * grid[2] // 4


def test_short_clips_give_each_frame_once():
    assert sample_frame_indices_tarsier2(5, 16) == [0, 1, 2, 3, 4]
    assert sample_frame_indices_tarsier2(100, 1) == [0]


def test_pixel_budget_rule():
    assert pixel_budget_size(1080, 1920, 460800) == (509, 905)  # the official 1080p frame: 509x905
    assert pixel_budget_size(480, 640, 460800) == (480, 640)  # inside the budget: unchanged
    assert pixel_budget_size(10, 10, 460800, min_pixels=400) == (20, 20)


def test_per_sample_budget_lowers_the_frame_budget(processor):
    processor = Tarsier2Processor(processor.image_processor, processor.tokenizer, max_pixels_per_sample=16 * 56 * 56)
    clip = np.full((8, 112, 112, 3), 128, dtype=np.uint8)
    # 8 frames duplicated = 16 images: budget 56*56 per frame instead of 460800
    out = processor(text="Describe.", videos=[clip], num_frames=8, return_tensors="pt")
    assert out["image_grid_thw"].tolist() == [[8, 4, 4]]


def test_prompt_is_the_chat_template_on_the_official_messages(processor):
    clip = np.zeros((4, 56, 56, 3), dtype=np.uint8)  # 4 frames x (4x4 patches → 2x2 merged = 4 tokens)
    out = processor(text="Describe the video in detail.", videos=[clip], num_frames=4, return_tensors="pt")
    expected = (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|>"
        + "<|image_pad|>" * 16
        + "<|vision_end|>Describe the video in detail.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert processor.tokenizer.decode(out["input_ids"][0]) == expected
    # the lmms-eval path: apply_chat_template then the processor gives the same ids
    messages = [
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Describe the video in detail."}]}
    ]
    rendered = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    again = processor(text=rendered, videos=[clip], num_frames=4, return_tensors="pt")
    assert torch.equal(again["input_ids"], out["input_ids"])
    assert torch.equal(out["mm_token_type_ids"], (out["input_ids"] == TINY2_IDS["<|image_pad|>"]).long())
    # Tarsier's "<video>\n{instruction}" idiom (tarsier describe) gives the official [video, text] prompt too
    idiom = processor(text="<video>\nDescribe the video in detail.", videos=[clip], num_frames=4, return_tensors="pt")
    assert torch.equal(idiom["input_ids"], out["input_ids"])


def test_images_take_one_temporal_patch(processor):
    image = np.random.default_rng(1).integers(0, 256, (70, 84, 3), dtype=np.uint8)
    out = processor(text="<image>What is this?", images=[image], return_tensors="pt")
    assert out["image_grid_thw"].tolist() == [[1, 4, 6]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"text": "<video><video>Describe.", "videos": [np.zeros((2, 56, 56, 3), np.uint8)]},
            "2 <video> placeholder.*but 1 video",
        ),
        ({"text": "Describe.", "videos": [np.zeros((2, 56, 56, 3), np.uint8)], "max_pixels": 0}, "max_pixels"),
        (
            {"text": "Describe.", "videos": [np.zeros((2, 56, 56, 3), np.uint8)], "min_pixels": 10**6},
            "min_pixels=1000000 must not exceed",
        ),
        (
            {"text": "Describe.", "videos": [np.zeros((2, 56, 56, 3), np.uint8)], "max_pixels": 100},
            "too small for Qwen2-VL's 28-pixel grid",
        ),
        ({"text": "Describe.", "videos": [np.zeros((2, 56, 56, 3), np.uint8)], "num_frames": 0}, "num_frames"),
    ],
)
def test_bad_inputs_raise_clear_errors(processor, kwargs, message):
    with pytest.raises(ValueError, match=message):
        processor(return_tensors="pt", **kwargs)


def test_oversized_sequences_are_refused(processor):
    small = Tarsier2Processor(processor.image_processor, processor.tokenizer, max_seq_len=64)
    with pytest.raises(ValueError, match="above max_seq_len=64"):
        small(text="Describe.", videos=[np.zeros((16, 112, 112, 3), np.uint8)], return_tensors="pt")
