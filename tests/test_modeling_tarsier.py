"""Tarsier model: token layout, official-checkpoint loading, generation, loss, bad input."""

import pytest
import torch
import torch.nn.functional as F
from huggingface_hub.errors import StrictDataclassError
from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText

from tarsier_hf import TarsierConfig, TarsierForConditionalGeneration, TarsierModel
from tarsier_hf.testing import (
    TINY_IMAGE_NEW_ID,
    TINY_IMAGE_NEWLINE_ID,
    TINY_IMAGE_TOKEN_ID,
    TINY_PAD_TOKEN_ID,
    build_tiny_tokenizer,
    tiny_config,
    tiny_model,
)


def expanded_prompt(num_frames, text="Describe the video in detail.", per_frame=7):
    return "USER: " + "<image>" * (per_frame * num_frames) + f" {text} ASSISTANT:"


def frames(n, size=28, seed=0):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def capture_llm_inputs(model):
    captured = {}

    def hook(module, args, kwargs):
        captured["inputs_embeds"] = kwargs["inputs_embeds"].detach().clone()

    handle = model.model.language_model.register_forward_pre_hook(hook, with_kwargs=True)
    return captured, handle


# ---------------------------------------------------------------------------------------------------- layout


@pytest.mark.parametrize("image_size, expected", [(28, 7), (42, 13), (56, 21), (70, 31)])
def test_positions_per_frame_for_grid_sizes(image_size, expected):
    model = tiny_model(vision={"image_size": image_size})
    side = image_size // 14
    assert model.config.num_positions_per_frame == side * (side + 1) + 1 == expected
    features = model.get_image_features(pixel_values=frames(3, image_size)).pooler_output
    assert [f.shape for f in features] == [torch.Size([expected, 32])] * 3


def test_official_sized_config_gives_601_positions():
    assert TarsierConfig().num_positions_per_frame == 601
    assert TarsierConfig().image_seq_length == 601


def test_newline_and_end_of_image_embeddings_sit_after_each_row_and_frame():
    model = tiny_model()
    tokenizer = build_tiny_tokenizer()
    inputs = tokenizer(expanded_prompt(2), return_tensors="pt")
    pixel_values = frames(2)
    captured, handle = capture_llm_inputs(model)
    with torch.no_grad():
        model(**inputs, pixel_values=pixel_values)
    handle.remove()

    embeds = captured["inputs_embeds"][0]
    table = model.get_input_embeddings().weight
    image_positions = (inputs.input_ids[0] == TINY_IMAGE_TOKEN_ID).nonzero().flatten()
    assert len(image_positions) == 14 and image_positions.diff().eq(1).all()
    merged = embeds[image_positions].view(2, 7, -1)

    with torch.no_grad():
        hidden = model.model.vision_tower(pixel_values, output_hidden_states=True).hidden_states[-2][:, 1:]
        patches = model.model.multi_modal_projector(hidden)  # (2 frames, 4 patches, hidden), row-major
    for f in range(2):
        # row 0: patch 0, patch 1, newline; row 1: patch 2, patch 3, newline; then end-of-image
        torch.testing.assert_close(merged[f, 0], patches[f, 0])
        torch.testing.assert_close(merged[f, 1], patches[f, 1])
        torch.testing.assert_close(merged[f, 2], table[TINY_IMAGE_NEWLINE_ID])
        torch.testing.assert_close(merged[f, 3], patches[f, 2])
        torch.testing.assert_close(merged[f, 4], patches[f, 3])
        torch.testing.assert_close(merged[f, 5], table[TINY_IMAGE_NEWLINE_ID])
        torch.testing.assert_close(merged[f, 6], table[TINY_IMAGE_NEW_ID])
    text_positions = inputs.input_ids[0] != TINY_IMAGE_TOKEN_ID
    torch.testing.assert_close(embeds[text_positions], table[inputs.input_ids[0][text_positions]])


def official_merge_logits(model, text_before, text_after, pixel_values, tokenizer):
    """The official transformers-4 Tarsier forward, re-implemented independently: the text holds ONE <image> id
    per frame, replaced by that frame's projected patches with newline / end-of-image embeddings appended."""
    ids = tokenizer(text_before + "<image>" * len(pixel_values) + text_after, return_tensors="pt").input_ids[0]
    embed = model.get_input_embeddings()
    hidden = model.model.vision_tower(pixel_values, output_hidden_states=True).hidden_states[-2][:, 1:]
    features = model.model.multi_modal_projector(hidden)
    side = int(features.shape[1] ** 0.5)
    newline = embed.weight[TINY_IMAGE_NEWLINE_ID]
    end = embed.weight[TINY_IMAGE_NEW_ID]
    pieces, frame = [], 0
    for token in ids.tolist():
        if token == TINY_IMAGE_TOKEN_ID:
            rows = [torch.cat([features[frame, r * side : (r + 1) * side], newline[None]]) for r in range(side)]
            pieces.append(torch.cat(rows + [end[None]]))
            frame += 1
        else:
            pieces.append(embed.weight[token][None])
    inputs_embeds = torch.cat(pieces)[None]
    out = model.model.language_model(inputs_embeds=inputs_embeds)
    return model.lm_head(out.last_hidden_state)


def test_logits_match_an_independent_implementation_of_the_official_forward():
    model = tiny_model(vision={"image_size": 42})
    tokenizer = build_tiny_tokenizer()
    pixel_values = frames(3, 42, seed=1)
    with torch.no_grad():
        expected = official_merge_logits(model, "USER: ", " Describe the video. ASSISTANT:", pixel_values, tokenizer)
        inputs = tokenizer(expanded_prompt(3, "Describe the video.", per_frame=13), return_tensors="pt")
        actual = model(**inputs, pixel_values=pixel_values).logits
    assert actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------------- loading


def test_official_layout_loads_with_no_missing_or_unexpected_keys_and_identical_tensors(official_checkpoint):
    loaded, info = TarsierForConditionalGeneration.from_pretrained(official_checkpoint, output_loading_info=True)
    assert info == {"missing_keys": set(), "unexpected_keys": set(), "mismatched_keys": set(), "error_msgs": []}
    assert loaded.config.model_type == "tarsier"
    assert (loaded.config.image_newline_idx, loaded.config.image_new_idx) == (TINY_IMAGE_NEWLINE_ID, TINY_IMAGE_NEW_ID)
    reference = tiny_model(seed=0).state_dict()
    state = loaded.state_dict()
    assert state.keys() == reference.keys()
    for key, tensor in reference.items():
        assert torch.equal(state[key], tensor), key


def test_save_and_reload_round_trip(tmp_path):
    model = tiny_model(seed=5)
    model.save_pretrained(tmp_path)
    reloaded, info = AutoModelForImageTextToText.from_pretrained(tmp_path, output_loading_info=True)
    assert isinstance(reloaded, TarsierForConditionalGeneration)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    inputs = build_tiny_tokenizer()(expanded_prompt(2), return_tensors="pt")
    with torch.no_grad():
        a = model(**inputs, pixel_values=frames(2)).logits
        b = reloaded(**inputs, pixel_values=frames(2)).logits
    assert torch.equal(a, b)


def test_auto_classes_resolve_to_tarsier(native_checkpoint):
    assert isinstance(AutoConfig.from_pretrained(native_checkpoint), TarsierConfig)
    assert isinstance(AutoModel.from_pretrained(native_checkpoint), TarsierModel)
    model = AutoModelForImageTextToText.from_pretrained(native_checkpoint)
    assert isinstance(model, TarsierForConditionalGeneration)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), tiny_model().state_dict().values()))


# Half-precision logits against float32, measured on this tiny model (CPU, torch 2.13; 5 pixel seeds x 1 and 2
# frames): max |error| 0.0045 in bf16 and 0.00054 in fp16, against a logit standard deviation of 0.11. The
# tolerance is the measured maximum x 2 (margin for other inputs and CPU kernels); rtol=0 so it is that bound.
HALF_PRECISION_ATOL = {torch.bfloat16: 2 * 0.0045, torch.float16: 2 * 0.00054}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_device_map_and_default_attention(native_checkpoint, dtype):
    model = TarsierForConditionalGeneration.from_pretrained(native_checkpoint, dtype=dtype, device_map="cpu")
    reference_model = tiny_model()
    assert model.config._attn_implementation == "sdpa"
    assert {p.dtype for p in model.parameters()} == {dtype}
    tokenizer = build_tiny_tokenizer()
    for num_frames, seed in ((1, 0), (2, 1)):
        inputs = tokenizer(expanded_prompt(num_frames), return_tensors="pt")
        with torch.no_grad():
            logits = model(**inputs, pixel_values=frames(num_frames, seed=seed).to(dtype)).logits
            reference = reference_model(**inputs, pixel_values=frames(num_frames, seed=seed)).logits
        assert logits.dtype == dtype
        torch.testing.assert_close(logits.float(), reference, atol=HALF_PRECISION_ATOL[dtype], rtol=0)
    with torch.no_grad():  # the processor's float32 pixels need no cast: the vision tower casts them
        assert torch.equal(model(**inputs, pixel_values=frames(2, seed=1)).logits, logits)
    # Greedy generation gives the float32 tokens.
    inputs = tokenizer(expanded_prompt(1), return_tensors="pt")
    out = model.generate(**inputs, pixel_values=frames(1).to(dtype), max_new_tokens=8, do_sample=False)
    expected = reference_model.generate(**inputs, pixel_values=frames(1), max_new_tokens=8, do_sample=False)
    assert out.shape[1] == inputs.input_ids.shape[1] + 8
    assert out.tolist() == expected.tolist()


# ---------------------------------------------------------------------------------------------------- generation


def test_generate_encodes_frames_once_at_prefill():
    model = tiny_model()
    calls = []
    model.model.vision_tower.register_forward_hook(lambda *args: calls.append(1))
    inputs = build_tiny_tokenizer()(expanded_prompt(2), return_tensors="pt")
    out = model.generate(**inputs, pixel_values=frames(2), max_new_tokens=6, do_sample=False)
    assert out.shape[1] == inputs.input_ids.shape[1] + 6
    assert len(calls) == 1


def test_batched_left_padded_greedy_equals_one_by_one():
    model = tiny_model(seed=7)
    tokenizer = build_tiny_tokenizer()
    tokenizer.padding_side = "left"
    prompts = [
        expanded_prompt(1, "Hi."),
        expanded_prompt(3, "Describe the video in detail, please."),
        expanded_prompt(2, "What happens?"),
    ]
    clips = [frames(1, seed=1), frames(3, seed=2), frames(2, seed=3)]
    kwargs = dict(max_new_tokens=8, do_sample=False, pad_token_id=TINY_PAD_TOKEN_ID)

    single = []
    for prompt, clip in zip(prompts, clips):
        inputs = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**inputs, pixel_values=clip, **kwargs)
        single.append(out[0, inputs.input_ids.shape[1] :].tolist())

    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    assert (batch.attention_mask[:, 0] == 0).any(), "the batch must actually be left padded"
    out = model.generate(**batch, pixel_values=torch.cat(clips), **kwargs)
    rows = out[:, batch.input_ids.shape[1] :].tolist()
    assert [row[: len(expected)] for row, expected in zip(rows, single)] == single
    # a sequence that stopped early (at EOS) is only padded afterwards
    for row, expected in zip(rows, single):
        assert len(expected) == 8 or (expected[-1] == 2 and set(row[len(expected) :]) <= {TINY_PAD_TOKEN_ID})


# ---------------------------------------------------------------------------------------------------- training


def test_loss_counts_only_labelled_text_positions():
    model = tiny_model()
    inputs = build_tiny_tokenizer()(expanded_prompt(2) + " A dog runs.", return_tensors="pt")
    labels = inputs.input_ids.clone()
    labels[labels == TINY_IMAGE_TOKEN_ID] = -100
    answer_start = labels.shape[1] - 5
    labels[:, :answer_start] = -100
    out = model(**inputs, pixel_values=frames(2), labels=labels)

    logits = out.logits[0, :-1]
    targets = labels[0, 1:]
    keep = targets != -100
    assert keep.sum() == 5
    expected = F.cross_entropy(logits[keep].float(), targets[keep])
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    assert model.model.multi_modal_projector.linear_1.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------------------------------------------- bad input


def test_placeholder_count_mismatch_names_both_counts():
    model = tiny_model()
    inputs = build_tiny_tokenizer()(expanded_prompt(2), return_tensors="pt")
    with pytest.raises(ValueError, match=r"14 image-token positions.*21 image features"):
        model(**inputs, pixel_values=frames(3))


def test_unexpanded_placeholder_is_rejected():
    model = tiny_model()
    inputs = build_tiny_tokenizer()("USER: <image> Describe. ASSISTANT:", return_tensors="pt")
    with pytest.raises(ValueError, match=r"1 image-token positions.*7 image features.*expanded to 7"):
        model(**inputs, pixel_values=frames(1))


@pytest.mark.parametrize("field", ["image_token_index", "image_newline_idx", "image_new_idx"])
def test_special_ids_outside_vocabulary_fail_at_construction(field):
    with pytest.raises(StrictDataclassError, match=rf"{field}=384 is outside the text model's vocabulary"):
        tiny_config(**{field: 384})


def test_full_feature_strategy_is_rejected():
    with pytest.raises(StrictDataclassError, match="vision_feature_select_strategy='default'"):
        tiny_config(vision_feature_select_strategy="full")


def test_beam_search_expands_multi_frame_features_per_sample():
    model = tiny_model(seed=9)
    tokenizer = build_tiny_tokenizer()
    prompts = [expanded_prompt(1, "Hi."), expanded_prompt(3, "What happens in the video?")]
    clips = [frames(1, seed=4), frames(3, seed=5)]
    kwargs = dict(
        max_new_tokens=5, do_sample=False, num_beams=2, num_return_sequences=2, pad_token_id=TINY_PAD_TOKEN_ID
    )
    single = []
    for prompt, clip in zip(prompts, clips):
        inputs = tokenizer(prompt, return_tensors="pt")
        single += model.generate(**inputs, pixel_values=clip, **kwargs)[:, inputs.input_ids.shape[1] :].tolist()
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    out = model.generate(**batch, pixel_values=torch.cat(clips), **kwargs)[:, batch.input_ids.shape[1] :].tolist()
    assert [row[: len(expected)] for row, expected in zip(out, single)] == single


def test_official_config_reads_as_tarsier_without_a_type_mismatch_warning(official_checkpoint, tmp_path):
    from transformers.testing_utils import CaptureLogger
    from transformers.utils import logging

    logger = logging.get_logger("transformers.configuration_utils")
    with CaptureLogger(logger) as captured:
        config = TarsierConfig.from_pretrained(official_checkpoint)
    assert config.model_type == "tarsier" and "model of type" not in captured.out

    plain_llava = tiny_config().to_dict() | {"model_type": "llava", "architectures": ["LlavaForConditionalGeneration"]}
    (tmp_path / "llava").mkdir()
    (tmp_path / "llava" / "config.json").write_text(__import__("json").dumps(plain_llava))
    with CaptureLogger(logger) as captured:
        TarsierConfig.from_pretrained(tmp_path / "llava")
    assert "model of type `llava`" in captured.out
