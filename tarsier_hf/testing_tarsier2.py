"""Tiny, fully offline Tarsier2 checkpoints for tests and examples.

A byte-level BPE tokenizer with Qwen2-VL's special tokens (trained with ``tokenizers`` on a few sentences), a
2-layer Qwen2-VL ViT (patch 14, 2x2 merge, temporal patch 2) and a 2-layer M-RoPE decoder, random weights, and the
official Qwen2-VL ``preprocessor_config.json`` with a small pixel range. Checkpoints are written in the official
layout (``model_type: "llava"`` with a ``qwen2_vl`` ``text_config``, keys ``vision_tower.*``,
``language_model.model.*``, ``language_model.lm_head.*`` and the official wrapper's unused
``multi_modal_projector.*``) or in this package's native one.
"""

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from .configuration_tarsier2 import Tarsier2Config
from .modeling_tarsier2 import Tarsier2ForConditionalGeneration

__all__ = [
    "TINY2_VOCAB_SIZE",
    "build_tiny_qwen_tokenizer",
    "save_tiny_tarsier2_checkpoint",
    "tiny2_config",
    "tiny2_model",
    "tiny2_preprocessor_config",
    "to_official_tarsier2_state_dict",
]

TINY2_BASE_VOCAB = 320
TINY2_VOCAB_SIZE = 384
# Qwen2-VL's special tokens, in Qwen2-VL's order, right after the base vocabulary (Qwen2-VL-7B: 151643...).
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
TINY2_IDS = {token: TINY2_BASE_VOCAB + i for i, token in enumerate(SPECIAL_TOKENS)}

_CORPUS = [
    "Describe the video in detail.",
    "You are a helpful assistant.",
    "A man walks into the room and sits down on a chair.",
    "A woman is singing on a stage while the crowd claps their hands.",
    "The camera pans to the left, showing a dog running across the green field.",
    "Someone pours water from a bottle into a glass, and then drinks it.",
    "user assistant system",
]


def build_tiny_qwen_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer shaped like Qwen2's: no BOS, ``<|endoftext|>`` pads, ``<|im_end|>`` ends a turn,
    and Qwen2-VL's vision tokens as special tokens right after the base vocabulary."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY2_BASE_VOCAB, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(_CORPUS * 20, trainer=trainer)
    if tokenizer.get_vocab_size() != TINY2_BASE_VOCAB:
        raise RuntimeError(
            f"tiny tokenizer trained to {tokenizer.get_vocab_size()} tokens, expected {TINY2_BASE_VOCAB}"
        )
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=32768, padding_side="left")
    fast.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS})
    fast.add_special_tokens({"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"})
    for token, expected in TINY2_IDS.items():
        assert fast.convert_tokens_to_ids(token) == expected, token
    return fast


def tiny2_config(**overrides) -> Tarsier2Config:
    """A few-hundred-KB Tarsier2 config: ViT of 2 blocks (embed 32) merging to the decoder width, decoder of 2 layers
    (hidden 32, 4 heads of 8, M-RoPE sections 2/1/1). ``vision`` / ``text`` dict overrides go to the sub-configs."""
    vision = {
        "depth": 2,
        "embed_dim": 32,
        "hidden_size": 32,
        "num_heads": 4,
        "mlp_ratio": 2,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "in_channels": 3,
        "hidden_act": "quick_gelu",
    }
    text = {
        "vocab_size": TINY2_VOCAB_SIZE,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "rope_scaling": {"type": "mrope", "mrope_section": [2, 1, 1]},
        "rope_theta": 1000000.0,
        "bos_token_id": TINY2_IDS["<|endoftext|>"],
        "eos_token_id": TINY2_IDS["<|im_end|>"],
        "pad_token_id": TINY2_IDS["<|endoftext|>"],
        "rms_norm_eps": 1e-6,
    }
    vision.update(overrides.pop("vision", {}))
    text.update(overrides.pop("text", {}))
    kwargs = {
        "image_token_id": TINY2_IDS["<|image_pad|>"],
        "video_token_id": TINY2_IDS["<|video_pad|>"],
        "vision_start_token_id": TINY2_IDS["<|vision_start|>"],
        "vision_end_token_id": TINY2_IDS["<|vision_end|>"],
    }
    kwargs.update(overrides)
    return Tarsier2Config(vision_config=vision, text_config=text, **kwargs)


def tiny2_model(seed: int = 0, **config_overrides) -> Tarsier2ForConditionalGeneration:
    """Random tiny model; the same seed gives identical weights."""
    torch.manual_seed(seed)
    return Tarsier2ForConditionalGeneration(tiny2_config(**config_overrides)).eval()


def tiny2_preprocessor_config(min_pixels: int = 56 * 56, max_pixels: int = 112 * 112) -> dict:
    """The official checkpoints' ``preprocessor_config.json`` (Qwen2-VL's, transformers-4 keys) with a small range."""
    return {
        "image_processor_type": "Qwen2VLImageProcessor",
        "do_resize": True,
        "resample": 3,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "do_convert_rgb": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "min_pixels": min_pixels,
        "max_pixels": max_pixels,
        "patch_size": 14,
        "temporal_patch_size": 2,
        "merge_size": 2,
    }


def to_official_tarsier2_state_dict(model: Tarsier2ForConditionalGeneration, seed: int = 0) -> dict:
    """Key the weights as the official checkpoints do (written independently of the loader's renaming rules), plus
    the official wrapper's unused LLaVA projector (``linear_1``: vision ``hidden_size`` → text ``hidden_size``,
    ``linear_2``: text → text)."""
    renamed = {}
    for key, tensor in model.state_dict().items():
        if key == "lm_head.weight":
            key = "language_model.lm_head.weight"
        elif key.startswith("model.language_model."):
            key = "language_model.model." + key.removeprefix("model.language_model.")
        elif key.startswith("model.visual."):
            key = "vision_tower." + key.removeprefix("model.visual.")
        else:
            raise KeyError(f"unexpected parameter {key}")
        renamed[key] = tensor.detach().clone().contiguous()
    generator = torch.Generator().manual_seed(seed)
    vision_out, text_hidden = model.config.vision_config.hidden_size, model.config.text_config.hidden_size
    for name, shape in (
        ("linear_1.weight", (text_hidden, vision_out)),
        ("linear_1.bias", (text_hidden,)),
        ("linear_2.weight", (text_hidden, text_hidden)),
        ("linear_2.bias", (text_hidden,)),
    ):
        renamed[f"multi_modal_projector.{name}"] = torch.randn(shape, generator=generator)
    return renamed


def official_tarsier2_config_dict(config: Tarsier2Config) -> dict:
    """The official ``config.json``: the wrapper's LlavaConfig around transformers-4.47 Qwen2-VL configs."""
    text = config.text_config
    text_dict = {
        "model_type": "qwen2_vl",
        "vocab_size": text.vocab_size,
        "hidden_size": text.hidden_size,
        "intermediate_size": text.intermediate_size,
        "num_hidden_layers": text.num_hidden_layers,
        "num_attention_heads": text.num_attention_heads,
        "num_key_value_heads": text.num_key_value_heads,
        "hidden_act": text.hidden_act,
        "max_position_embeddings": text.max_position_embeddings,
        "rms_norm_eps": text.rms_norm_eps,
        "rope_theta": text.rope_parameters["rope_theta"],
        "rope_scaling": {"type": "mrope", "mrope_section": list(text.rope_parameters["mrope_section"])},
        "bos_token_id": text.bos_token_id,
        "eos_token_id": text.eos_token_id,
        "pad_token_id": text.pad_token_id,
        "use_sliding_window": False,
        "sliding_window": 4096,
        "max_window_layers": text.num_hidden_layers,
        "attn_implementation": "flash_attention_2",
        "tie_word_embeddings": False,
        "spatial_merge_size": 2,
        "vision_start_token_id": config.vision_start_token_id,
        "vision_end_token_id": config.vision_end_token_id,
        "image_token_id": config.image_token_id,
        "video_token_id": config.video_token_id,
        "torch_dtype": "float32",
    }
    vision = config.vision_config
    vision_dict = {
        "model_type": "qwen2_vl",
        "depth": vision.depth,
        "embed_dim": vision.embed_dim,
        "hidden_size": vision.hidden_size,
        "hidden_act": vision.hidden_act,
        "mlp_ratio": vision.mlp_ratio,
        "num_heads": vision.num_heads,
        "in_channels": vision.in_channels,
        "patch_size": vision.patch_size,
        "spatial_merge_size": vision.spatial_merge_size,
        "temporal_patch_size": vision.temporal_patch_size,
        "attn_implementation": "flash_attention_2",
    }
    return {
        "architectures": ["TarsierForConditionalGeneration"],
        "model_type": "llava",
        "ignore_index": -100,
        "image_token_index": config.image_token_id,
        "image_newline_idx": 32002,
        "image_new_idx": 32003,
        "projector_hidden_act": "gelu",
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default",
        "torch_dtype": "float32",
        "transformers_version": "4.47.0",
        "text_config": text_dict,
        "vision_config": vision_dict,
    }


def save_tiny_tarsier2_checkpoint(
    path, layout: str = "official", seed: int = 0, max_pixels: int = 112 * 112, **config_overrides
) -> Path:
    """Write a tiny random Tarsier2 checkpoint (weights, config, tokenizer, preprocessor config) to ``path``.

    ``layout="official"`` reproduces the Hub repos (``model_type: "llava"``, official keys, unused projector);
    ``layout="native"`` is what this package's ``save_pretrained`` writes (``model_type: "tarsier2"``), with the
    processor config and chat template."""
    if layout not in ("official", "native"):
        raise ValueError(f"layout must be 'official' or 'native', got {layout!r}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model = tiny2_model(seed=seed, **config_overrides)
    if layout == "native":
        model.save_pretrained(path)
    else:
        save_file(to_official_tarsier2_state_dict(model, seed), path / "model.safetensors", metadata={"format": "pt"})
        (path / "config.json").write_text(json.dumps(official_tarsier2_config_dict(model.config), indent=2))
    build_tiny_qwen_tokenizer().save_pretrained(path)
    (path / "preprocessor_config.json").write_text(json.dumps(tiny2_preprocessor_config(max_pixels=max_pixels)))
    if layout == "native":
        from .processing_tarsier2 import Tarsier2Processor

        Tarsier2Processor.from_pretrained(path).save_pretrained(path)
    return path
