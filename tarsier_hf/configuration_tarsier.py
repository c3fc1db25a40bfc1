# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Tarsier model configuration.

Tarsier (arXiv 2407.00634) is LLaVA-1.5 shaped (CLIP-ViT-L/14-336 → 2-layer GELU MLP → LLaMA) with two extra
token ids whose input embeddings are appended to each frame's patch features: ``image_newline_idx`` after every
row of patches and ``image_new_idx`` ("[end-of-image]") after the frame.

The official Hub checkpoints (``omni-research/Tarsier-7b``/``-34b``) store this config with ``model_type: "llava"``;
``TarsierConfig.from_pretrained`` reads them as well.
"""

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, LlavaConfig
from transformers.configuration_utils import SubConfigSpec

__all__ = ["TarsierConfig", "positions_per_frame"]

_TARSIER_ARCHITECTURE = "TarsierForConditionalGeneration"


def positions_per_frame(rows: int, cols: int) -> int:
    """LLM positions one frame occupies: each row of patches plus its newline, then one end-of-image token."""
    return rows * (cols + 1) + 1


@strict
class TarsierConfig(LlavaConfig):
    r"""
    Configuration of [`TarsierForConditionalGeneration`]. Everything [`LlavaConfig`] holds, plus:

    image_newline_idx (`int`, *optional*, defaults to 32002):
        Token id whose input embedding is appended after every row of patch features.
    image_new_idx (`int`, *optional*, defaults to 32003):
        Token id whose input embedding ("[end-of-image]") is appended after every frame.

    Example:

    ```python
    >>> from tarsier_hf import TarsierConfig, TarsierForConditionalGeneration
    >>> config = TarsierConfig()  # Tarsier-7B shaped: CLIP-L/14-336 + LLaMA-7B
    >>> config.num_positions_per_frame
    601
    ```"""

    model_type = "tarsier"
    sub_configs_defaults = {
        **LlavaConfig.sub_configs_defaults,
        # Vicuna-7B's 32000 tokens + <image>, <pad>, newline, end-of-image, padded to 32064 as in Tarsier-7B.
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="llama", init_kwargs={"vocab_size": 32064}),
    }

    image_token_index: int = 32000
    image_newline_idx: int = 32002
    image_new_idx: int = 32003
    image_seq_length: int = 601

    def __post_init__(self, **kwargs):
        # The official configs say `model_type: "llava"` and carry transformers-4 keys this class does not use.
        kwargs.pop("model_type", None)
        kwargs.pop("ignore_index", None)
        kwargs.pop("vocab_size", None)
        super().__post_init__(**kwargs)
        self.image_seq_length = self.num_positions_per_frame

    @classmethod
    def get_config_dict(cls, *args, **kwargs):
        config_dict, kwargs = super().get_config_dict(*args, **kwargs)
        # An official Tarsier config is "llava" by type but Tarsier by architecture: read it as ours, silently.
        # A plain LLaVA config keeps its type, so transformers still warns that it is not a Tarsier checkpoint.
        if config_dict.get("model_type") == "llava" and _TARSIER_ARCHITECTURE in (
            config_dict.get("architectures") or []
        ):
            config_dict = {**config_dict, "model_type": cls.model_type}
        return config_dict, kwargs

    def validate_architecture(self):
        """Part of `@strict` validation: the special ids must index the LLM's embedding table."""
        super().validate_architecture()
        vocab_size = self.text_config.vocab_size
        for name in ("image_token_index", "image_newline_idx", "image_new_idx"):
            value = getattr(self, name)
            if not 0 <= value < vocab_size:
                raise ValueError(
                    f"TarsierConfig.{name}={value} is outside the text model's vocabulary "
                    f"(text_config.vocab_size={vocab_size}); it must be in [0, {vocab_size - 1}]."
                )
        if self.vision_feature_select_strategy != "default":
            raise ValueError(
                f"Tarsier needs vision_feature_select_strategy='default' (CLS dropped, a rows x cols grid of "
                f"patches), got {self.vision_feature_select_strategy!r}."
            )

    @property
    def patches_per_side(self) -> int:
        return self.vision_config.image_size // self.vision_config.patch_size

    @property
    def num_positions_per_frame(self) -> int:
        side = self.patches_per_side
        return positions_per_frame(side, side)
