# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Tarsier2 model configuration: a Qwen2-VL config read from the official LLaVA-style checkpoints.

Tarsier2 (arXiv 2501.07888) is Qwen2-VL-7B (its ViT with the 2x2 patch merger, its M-RoPE decoder) fine-tuned for
video description. The official checkpoints (``omni-research/Tarsier2-Recap-7b``, ``omni-research/Tarsier2-7b-0115``)
store the config of the official wrapper (bytedance/tarsier ``models/modeling_tarsier.py``, ``LlavaConfig``):
``model_type: "llava"``, ``architectures: ["TarsierForConditionalGeneration"]``, the Qwen2-VL decoder config as
``text_config`` (``model_type: "qwen2_vl"``, with the vision token ids) and the ViT config as ``vision_config``.
The image token is the wrapper's ``image_token_index``. LLaVA keys that the Qwen2-VL path of the official wrapper
never reads (``image_newline_idx``, ``projector_hidden_act``, ``vision_feature_layer``, ...) are dropped.

``Tarsier2Config.from_pretrained`` reads both those official configs and the native ones ``save_pretrained`` writes
(``model_type: "tarsier2"``). This file is also shipped by ``tarsier-convert`` for ``trust_remote_code``: it imports
nothing from the ``tarsier_hf`` package.
"""

from huggingface_hub.dataclasses import strict
from transformers import Qwen2VLConfig

__all__ = ["Tarsier2Config", "is_official_tarsier2_config", "official_config_to_native"]

_OFFICIAL_ARCHITECTURE = "TarsierForConditionalGeneration"
# Keys of the official LlavaConfig that its Qwen2-VL path does not use (no projector, no newline tokens).
_UNUSED_LLAVA_KEYS = (
    "ignore_index",
    "projector_hidden_act",
    "vision_feature_select_strategy",
    "vision_feature_layer",
    "image_newline_idx",
    "image_new_idx",
    "projection_head",
    "vocab_size",
    "auto_map",
)
# Keys of transformers-4.4x Qwen2-VL configs that describe the runtime, not the model; "attn_implementation" would
# otherwise force flash-attention 2 on every sub-model.
_RUNTIME_KEYS = ("attn_implementation", "_attn_implementation", "auto_map", "_name_or_path", "architectures")
_TOKEN_ID_KEYS = ("vision_start_token_id", "vision_end_token_id", "video_token_id")


def is_official_tarsier2_config(config_dict: dict) -> bool:
    """An official Tarsier2 ``config.json``: LLaVA by type, Tarsier by architecture, a Qwen2-VL decoder inside."""
    text_type = (config_dict.get("text_config") or {}).get("model_type")
    return (
        config_dict.get("model_type") == "llava"
        and _OFFICIAL_ARCHITECTURE in (config_dict.get("architectures") or [])
        and text_type in ("qwen2_vl", "qwen2_vl_text")
    )


def official_config_to_native(config_dict: dict) -> dict:
    """Rewrite an official Tarsier2 ``config.json`` dict as a ``tarsier2`` one (a Qwen2-VL config).

    The vision token ids live in the official ``text_config`` (the official ``Qwen2VLForCausalLM.get_rope_index``
    reads ``vision_start_token_id`` there); the image token is the wrapper's ``image_token_index`` (the official
    ``TarsierForConditionalGeneration.forward`` masks ``input_ids == config.image_token_index``)."""
    native = {k: v for k, v in config_dict.items() if k not in _UNUSED_LLAVA_KEYS and k != "image_token_index"}
    text = {k: v for k, v in (config_dict.get("text_config") or {}).items() if k not in _RUNTIME_KEYS}
    vision = {k: v for k, v in (config_dict.get("vision_config") or {}).items() if k not in _RUNTIME_KEYS}
    for key in _TOKEN_ID_KEYS:
        if key in text:
            native[key] = text.pop(key)
    text.pop("image_token_id", None)
    if "image_token_index" in config_dict:
        native["image_token_id"] = config_dict["image_token_index"]
    text["model_type"] = "qwen2_vl_text"
    vision["model_type"] = "qwen2_vl_vision"
    native.update(model_type="tarsier2", architectures=["Tarsier2ForConditionalGeneration"])
    native["text_config"], native["vision_config"] = text, vision
    return native


@strict
class Tarsier2Config(Qwen2VLConfig):
    r"""
    Configuration of [`Tarsier2ForConditionalGeneration`]: exactly [`Qwen2VLConfig`] (``text_config``,
    ``vision_config``, ``image_token_id``, ``vision_start_token_id``, ...). Only the position-id rule and the
    checkpoint layout differ from Qwen2-VL, and those live in the model class.

    Example:

    ```python
    >>> from tarsier_hf import Tarsier2Config
    >>> config = Tarsier2Config()  # Qwen2-VL-7B shaped, like Tarsier2-7B
    >>> config.vision_config.spatial_merge_size
    2
    ```"""

    model_type = "tarsier2"

    @classmethod
    def get_config_dict(cls, *args, **kwargs):
        config_dict, kwargs = super().get_config_dict(*args, **kwargs)
        # An official Tarsier2 config is "llava" by type: read it as ours, silently. Tarsier-1 configs (LLaMA
        # decoder) and plain LLaVA configs keep their type, so transformers still warns about the mismatch.
        if is_official_tarsier2_config(config_dict):
            config_dict = official_config_to_native(config_dict)
        return config_dict, kwargs
