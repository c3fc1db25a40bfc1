"""Freezing, top-k layers, LoRA restricted to the language model, FSDP wrap classes, resume-layout loading."""

import pytest
import torch
from accelerate.utils.dataclasses import get_module_class_from_name
from safetensors.torch import load_file

from tarsier_hf.testing import TINY_IMAGE_TOKEN_ID, save_tiny_checkpoint, tiny_model
from trl_recipes.model_setup import (
    configure_trainable,
    lora_target_modules,
    trainable_summary,
)

PER_FRAME = 7


def _batch(frames: int = 2):
    torch.manual_seed(0)
    text = [1, 5, 6] + [TINY_IMAGE_TOKEN_ID] * (PER_FRAME * frames) + [7, 8, 9, 2]
    input_ids = torch.tensor([text])
    labels = input_ids.clone()
    labels[0, : 3 + PER_FRAME * frames] = -100
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "labels": labels,
        "pixel_values": torch.randn(frames, 3, 28, 28),
    }


def _record_requires_grad(module, store):
    return module.register_forward_hook(lambda _m, _i, out: store.append(out.last_hidden_state.requires_grad))


def test_frozen_towers_get_no_gradient_and_no_graph():
    model = tiny_model().train()
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    configure_trainable(model)
    vision, projector = model.model.vision_tower, model.model.multi_modal_projector
    assert not any(p.requires_grad for p in vision.parameters())
    assert not any(p.requires_grad for p in projector.parameters())
    assert all(p.requires_grad for p in model.model.language_model.parameters())
    assert model.lm_head.weight.requires_grad
    seen = []
    hook = _record_requires_grad(vision, seen)
    model(**_batch()).loss.backward()
    hook.remove()
    assert seen == [False]  # the ViT ran under no_grad: no graph, nothing for checkpointing to replay
    assert all(p.grad is None for p in vision.parameters()) and all(p.grad is None for p in projector.parameters())
    # the newline / end-of-image rows of embed_tokens do get gradients (they are appended to every frame)
    embed_grad = model.model.language_model.embed_tokens.weight.grad
    assert embed_grad[model.config.image_newline_idx].abs().sum() > 0
    assert embed_grad[model.config.image_new_idx].abs().sum() > 0
    assert all(p.grad is not None for p in model.model.language_model.layers.parameters())


def test_unfrozen_tower_trains():
    model = tiny_model().train()
    configure_trainable(model, freeze_vision_tower=False, freeze_projector=False)
    model(**_batch()).loss.backward()
    assert all(p.grad is not None for p in model.model.vision_tower.encoder.layers[0].parameters())
    assert model.model.multi_modal_projector.linear_1.weight.grad is not None


def test_top_k_layers_and_embeddings_flag():
    model = tiny_model()
    configure_trainable(model, train_llm_layers=1, train_embeddings=False)
    layers = model.model.language_model.layers
    assert not any(p.requires_grad for p in layers[0].parameters())
    assert all(p.requires_grad for p in layers[1].parameters())
    assert not model.model.language_model.embed_tokens.weight.requires_grad
    assert model.model.language_model.norm.weight.requires_grad and model.lm_head.weight.requires_grad
    summary = trainable_summary(model)
    assert summary["trainable"] == summary["trainable_llm"]
    with pytest.raises(ValueError, match=r"train_llm_layers must be in \[1, 2\]"):
        configure_trainable(tiny_model(), train_llm_layers=3)


def test_lora_only_in_language_model():
    from peft import LoraConfig, get_peft_model

    model = tiny_model()
    targets = lora_target_modules(model, "all-linear")
    assert targets and all(t.startswith("model.language_model.layers.") for t in targets)
    # peft's own "all-linear" and suffix lists would also hit CLIP (q_proj/k_proj/v_proj/fc1 exist in both towers)
    suffix = lora_target_modules(model, ["q_proj", "v_proj"])
    assert len(suffix) == 4 and all("language_model" in t for t in suffix)
    assert lora_target_modules(model, ["q_proj"], train_llm_layers=1) == [
        "model.language_model.layers.1.self_attn.q_proj"
    ]
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=targets))
    lora_params = [name for name, p in peft_model.named_parameters() if "lora_" in name]
    assert lora_params and all("language_model" in name for name in lora_params)
    trainable = [name for name, p in peft_model.named_parameters() if p.requires_grad]
    assert set(trainable) == set(lora_params)


@pytest.mark.parametrize(
    "target",
    ["fc1", "linear_1", "vision_tower.encoder.layers.0.self_attn.q_proj", "out_proj"],
)
def test_lora_on_the_towers_is_an_error(target):
    with pytest.raises(ValueError, match="restricted to the language model"):
        lora_target_modules(tiny_model(), [target])


def test_lora_target_matching_nothing_is_an_error():
    with pytest.raises(ValueError, match="matches no linear layer"):
        lora_target_modules(tiny_model(), ["not_a_module"])


def test_fsdp_wrap_classes_resolve():
    model = tiny_model()
    assert model._no_split_modules == {
        "LlamaDecoderLayer",
        "CLIPEncoderLayer",
        "CLIPVisionEmbeddings",
    }
    for name in model._no_split_modules:  # what accelerate's transformer-based auto-wrap does with each name
        assert get_module_class_from_name(model, name) is not None, name


def test_fsdp2_auto_wrap_policy_builds():
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy

    plugin = FullyShardedDataParallelPlugin(fsdp_version=2, auto_wrap_policy="transformer_based_wrap")
    model = tiny_model()
    policy = fsdp2_prepare_auto_wrap_policy(plugin, model)
    wrapped = {type(m).__name__ for m in model.modules() if policy(m)}
    assert {"LlamaDecoderLayer", "CLIPEncoderLayer"} <= wrapped


def test_load_state_dict_takes_the_saved_checkpoint_layout(tmp_path):
    """What Trainer does on resume: ``model.load_state_dict(load_file(checkpoint/model.safetensors), False)``."""
    saved = load_file(save_tiny_checkpoint(tmp_path / "ckpt", seed=1) / "model.safetensors")
    assert any(key.startswith("language_model.model.") for key in saved)  # the official layout on disk
    model = tiny_model(seed=2)
    result = model.load_state_dict(saved, False)
    assert not result.missing_keys and not result.unexpected_keys
    reference = tiny_model(seed=1).state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(value, reference[key]), key
    assert not model.load_state_dict(reference).missing_keys  # native keys still load
