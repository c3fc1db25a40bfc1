"""Inputs the model must refuse or handle: image-token positions without frames, ``pixel_values_videos``, layer
indices in ``output_hidden_states``, and the processor's tokenizer length warning."""

import logging

import pytest
import torch
from transformers import DynamicCache

from tarsier_hf import TarsierProcessor
from tarsier_hf.testing import TINY_IMAGE_TOKEN_ID, save_tiny_checkpoint, tiny_model

PER_FRAME = 7  # a 28 px frame with 14 px patches: 2 rows x (2 + 1) + 1


@pytest.fixture(scope="module")
def model():
    return tiny_model().eval()


def prompt_ids(num_frames=2, text_len=5):
    generator = torch.Generator().manual_seed(0)
    text = torch.randint(3, TINY_IMAGE_TOKEN_ID, (1, text_len), generator=generator)
    image = torch.full((1, num_frames * PER_FRAME), TINY_IMAGE_TOKEN_ID)
    return torch.cat([torch.tensor([[1]]), image, text], dim=1)


def frames(n):
    return torch.randn(n, 3, 28, 28, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("entry", ["forward", "generate"])
def test_image_positions_without_frames_is_an_error(model, entry):
    input_ids = prompt_ids(num_frames=2)
    with pytest.raises(ValueError, match=rf"{2 * PER_FRAME} image-token positions .* but no frames were given"):
        if entry == "forward":
            model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids))
        else:
            model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=2)


@pytest.mark.parametrize("entry", ["forward", "generate"])
def test_pixel_values_videos_is_refused_with_the_name_to_use(model, entry):
    input_ids = prompt_ids(num_frames=2)
    # generate refuses it before the model runs ("model_kwargs are not used by the model: ['pixel_values_videos']").
    message = r"Pass the frames as pixel_values instead" if entry == "forward" else r"not used .*'pixel_values_videos'"
    with pytest.raises(ValueError, match=message):
        if entry == "forward":
            model(input_ids=input_ids, pixel_values_videos=frames(2))
        else:
            model.generate(input_ids=input_ids, pixel_values_videos=frames(2).unsqueeze(0), max_new_tokens=2)


def test_text_only_prompts_need_no_frames(model):
    input_ids = prompt_ids(num_frames=0)
    logits = model(input_ids=input_ids).logits
    assert logits.shape == (1, input_ids.shape[1], model.config.text_config.vocab_size)


def test_a_decode_step_may_carry_the_image_token_id(model):
    """The model can generate the <image> id itself; a decode step (non-empty cache) must not be refused."""
    input_ids = prompt_ids(num_frames=1)
    cache = DynamicCache(config=model.config.text_config)
    with torch.no_grad():
        model(input_ids=input_ids, pixel_values=frames(1), cache=cache, use_cache=True)
        step = model(input_ids=torch.tensor([[TINY_IMAGE_TOKEN_ID]]), cache=cache, use_cache=True)
    assert step.logits.shape[1] == 1 and torch.isfinite(step.logits).all()


def test_frames_and_image_positions_still_work_after_the_check(model):
    input_ids = prompt_ids(num_frames=2)
    with torch.no_grad():
        with_frames = model(input_ids=input_ids, pixel_values=frames(2)).logits
        other_frames = model(input_ids=input_ids, pixel_values=frames(2) + 1).logits
    assert not torch.allclose(with_frames, other_frames)  # the frames reach the LLM


def test_layer_indices_in_output_hidden_states_select_llm_layers(model):
    """transformers >= 5.24: output_hidden_states=[indices] captures those LLM layers only. Stock LLaVA raises a
    TypeError here (its vision tower is asked for the LLM's indices and misses vision_feature_layer)."""
    inputs = {"input_ids": prompt_ids(num_frames=1), "pixel_values": frames(1)}
    with torch.no_grad():
        everything = model(**inputs, output_hidden_states=True)
        selected = model(**inputs, output_hidden_states=[0, -1])
    count = len(everything.hidden_states)
    assert len(selected.hidden_states) == count
    for index, hidden in enumerate(selected.hidden_states):
        if index in (0, count - 1):
            torch.testing.assert_close(hidden, everything.hidden_states[index])
        else:
            assert hidden is None
    torch.testing.assert_close(selected.logits, everything.logits)


def test_processor_does_not_warn_about_expected_image_token_length(tmp_path, caplog):
    """8 frames of 601 positions are longer than the tokenizer's model_max_length by design; no warning for that."""
    processor = TarsierProcessor.from_pretrained(save_tiny_checkpoint(tmp_path / "ckpt"))
    processor.tokenizer.model_max_length = 16
    video = [torch.zeros(28, 28, 3, dtype=torch.uint8)] * 4
    with caplog.at_level(logging.WARNING):
        inputs = processor(text="<video>\nDescribe the video.", videos=[video], return_tensors="pt")
    assert inputs["input_ids"].shape[1] > 4 * PER_FRAME > processor.tokenizer.model_max_length
    assert "Token indices sequence length is longer" not in caplog.text
