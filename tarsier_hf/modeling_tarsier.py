# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Tarsier: LLaVA with per-row newline and per-frame "[end-of-image]" embeddings.

Each frame is encoded by the vision tower on its own and projected by the 2-layer MLP, exactly as in LLaVA. Tarsier
then appends, from the LLM's own input-embedding table (no new parameters), the embedding of
``config.image_newline_idx`` after every row of patches and the embedding of ``config.image_new_idx`` after the
frame: a ``rows x cols`` grid becomes ``rows * (cols + 1) + 1`` LLM positions. The processor expands each
``<image>`` placeholder to that many image-token ids, so merging is LLaVA's ``masked_scatter``.

Generation follows transformers 5: ``generate`` calls :meth:`TarsierModel.get_image_features` once at prefill and
feeds the result back as ``mm_encoder_outputs``; decode steps never see pixels.

This file (with ``configuration_tarsier.py``) is also what ``tarsier-convert`` ships for ``trust_remote_code``,
so it imports nothing from the ``tarsier_hf`` package.
"""

import torch
from transformers import LlavaForConditionalGeneration, LlavaModel
from transformers.conversion_mapping import get_model_conversion_mapping, register_checkpoint_conversion_mapping
from transformers.core_model_loading import WeightConverter, WeightRenaming, rename_source_key
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.utils.generic import can_return_tuple

from .configuration_tarsier import TarsierConfig

__all__ = ["TarsierModel", "TarsierForConditionalGeneration"]


def _register_official_checkpoint_layout():
    """Teach ``from_pretrained`` the official (transformers 4.x LLaVA) key layout.

    Official weights are keyed ``language_model.model.*``, ``language_model.lm_head.*``, ``vision_tower.*`` and
    ``multi_modal_projector.*``; transformers 5 LLaVA keeps them under ``model.`` with ``lm_head`` at the top.
    Registering by model type and class name (rather than relying on transformers' built-in "llava" entry) makes
    the renaming apply to this code when it runs as ``trust_remote_code`` too, and reverses it on save.
    """
    top_level = [
        WeightRenaming(source_patterns=r"^language_model.lm_head", target_patterns="lm_head"),
        WeightRenaming(source_patterns=r"^language_model", target_patterns="model.language_model"),
        WeightRenaming(source_patterns=r"^vision_tower", target_patterns="model.vision_tower"),
        WeightRenaming(source_patterns=r"^multi_modal_projector", target_patterns="model.multi_modal_projector"),
    ]
    base_model = [WeightRenaming(source_patterns=r"^language_model.model", target_patterns="language_model")]
    register_checkpoint_conversion_mapping("tarsier", top_level, overwrite=True)
    register_checkpoint_conversion_mapping("TarsierModel", base_model, overwrite=True)


_register_official_checkpoint_layout()


class TarsierModel(LlavaModel):
    config: TarsierConfig
    config_class = TarsierConfig
    input_modalities = ("image", "video", "text")

    def post_init(self):
        """Keep in ``_no_split_modules`` only the layer classes this model contains. transformers gathers the set
        from every sub-model's class attribute, and ``CLIPPreTrainedModel`` lists ``CLIPTextEmbeddings``, which a
        vision-only tower never builds; accelerate's FSDP transformer-based auto-wrap resolves every name in the set
        and fails on that one. What remains is the LLM decoder layer, ``CLIPEncoderLayer`` and the CLIP embeddings."""
        super().post_init()
        present = {type(module).__name__ for module in self.modules()}
        self._no_split_modules = {name for name in self._no_split_modules if name in present}

    @can_return_tuple
    def get_image_features(
        self,
        pixel_values: torch.Tensor,
        vision_feature_layer: int | list[int] | None = None,
        vision_feature_select_strategy: str | None = None,
        **kwargs,
    ) -> tuple | BaseModelOutputWithPooling:
        """Encode frames ``(num_frames, 3, H, W)``; ``pooler_output`` is one ``(positions_per_frame, hidden)``
        tensor per frame: the projected patches row by row, each row followed by the newline embedding, then the
        end-of-image embedding."""
        kwargs.pop("image_sizes", None)
        kwargs["return_dict"] = True
        if isinstance(kwargs.get("output_hidden_states"), (list, tuple)):
            # Layer indices asked of the whole model select the language model's hidden states (transformers >= 5.24
            # layer-selective capture); the vision tower must still capture vision_feature_layer, so it records all
            # of its (few) layers rather than the LLM's indices.
            kwargs["output_hidden_states"] = True
        image_outputs = super().get_image_features(
            pixel_values,
            vision_feature_layer=vision_feature_layer,
            vision_feature_select_strategy=vision_feature_select_strategy,
            **kwargs,
        )
        patch_size = self.config.vision_config.patch_size
        rows, cols = pixel_values.shape[-2] // patch_size, pixel_values.shape[-1] // patch_size
        patch_features = torch.stack(image_outputs.pooler_output)
        image_outputs.pooler_output = list(self.add_split_tokens(patch_features, rows, cols))
        return image_outputs

    def add_split_tokens(self, patch_features: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
        """``(frames, rows*cols, hidden)`` → ``(frames, rows*(cols+1)+1, hidden)``."""
        num_frames, num_patches, hidden = patch_features.shape
        if num_patches != rows * cols:
            raise ValueError(
                f"The vision tower returned {num_patches} patch features per frame, expected a {rows}x{cols} grid "
                f"({rows * cols}) for {rows * self.config.vision_config.patch_size}x"
                f"{cols * self.config.vision_config.patch_size} pixels."
            )
        embed = self.get_input_embeddings()
        device = embed.weight.device
        newline = embed(torch.tensor(self.config.image_newline_idx, device=device)).to(patch_features.device)
        end_of_image = embed(torch.tensor(self.config.image_new_idx, device=device)).to(patch_features.device)
        # torch.cat promotes mixed dtypes, as the official implementation does when the towers differ in dtype.
        grid = patch_features.view(num_frames, rows, cols, hidden)
        grid = torch.cat([grid, newline.expand(num_frames, rows, 1, hidden)], dim=2)
        frames = grid.reshape(num_frames, rows * (cols + 1), hidden)
        return torch.cat([frames, end_of_image.expand(num_frames, 1, hidden)], dim=1)

    def forward(self, input_ids=None, pixel_values=None, mm_encoder_outputs=None, **kwargs):
        """LLaVA's forward, after checking that image-token positions come with frames.

        Raises ``ValueError`` when the text holds image-token positions at prefill but neither ``pixel_values`` nor
        precomputed ``mm_encoder_outputs`` are given (they would silently run on the ``<image>`` token's text
        embedding), and when ``pixel_values_videos`` is passed: Tarsier reads every frame, of videos and images
        alike, from ``pixel_values`` ``(num_frames, 3, H, W)``."""
        if kwargs.get("pixel_values_videos") is not None:
            raise ValueError(
                "Tarsier takes video frames as pixel_values of shape (num_frames, 3, H, W), one <image> placeholder "
                "per frame (TarsierProcessor returns them so); pixel_values_videos is not read. Pass the frames as "
                "pixel_values instead."
            )
        if pixel_values is None and not mm_encoder_outputs and input_ids is not None and _is_prefill(kwargs):
            n_image_tokens = int((input_ids == self.config.image_token_id).sum())
            if n_image_tokens:
                raise ValueError(
                    f"The text has {n_image_tokens} image-token positions (id {self.config.image_token_id}) but no "
                    "frames were given: pass the pixel_values returned by TarsierProcessor together with its "
                    "input_ids."
                )
        return super().forward(
            input_ids=input_ids, pixel_values=pixel_values, mm_encoder_outputs=mm_encoder_outputs, **kwargs
        )

    def get_placeholder_mask(
        self, input_ids: torch.LongTensor, inputs_embeds: torch.Tensor, image_features: torch.Tensor
    ) -> torch.Tensor:
        if input_ids is None:
            image_embedding = self.get_input_embeddings()(
                torch.tensor(self.config.image_token_id, dtype=torch.long, device=inputs_embeds.device)
            )
            special_image_mask = (inputs_embeds == image_embedding).all(-1)
        else:
            special_image_mask = input_ids == self.config.image_token_id
        n_image_tokens = int(special_image_mask.sum())
        n_image_features = image_features.shape[0]
        if n_image_tokens != n_image_features:
            per_frame = self.config.num_positions_per_frame
            raise ValueError(
                f"The text has {n_image_tokens} image-token positions (id {self.config.image_token_id}) but the "
                f"frames produce {n_image_features} image features ({n_image_features / per_frame:g} frames x "
                f"{per_frame} positions per {self.config.vision_config.image_size}px frame). Each <image> "
                f"placeholder must stand for exactly one frame and be expanded to {per_frame} image tokens "
                "(TarsierProcessor does this)."
            )
        return special_image_mask.unsqueeze(-1).expand_as(inputs_embeds).to(inputs_embeds.device)


def _is_prefill(forward_kwargs: dict) -> bool:
    """Whether a forward pass starts from an empty KV cache (training, a plain forward, or generate's first step).

    Decode steps may legitimately carry the image-token id (the model can generate it) without frames."""
    cache = forward_kwargs.get("cache", forward_kwargs.get("past_key_values"))
    return cache is None or cache.get_seq_length() == 0


class TarsierForConditionalGeneration(LlavaForConditionalGeneration):
    config: TarsierConfig
    config_class = TarsierConfig
    input_modalities = ("image", "video", "text")

    def __init__(self, config: TarsierConfig):
        # Skip LlavaForConditionalGeneration.__init__ so that only the Tarsier base model is built.
        super(LlavaForConditionalGeneration, self).__init__(config)
        self.model = TarsierModel(config)
        self.lm_head = torch.nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """``nn.Module.load_state_dict`` that also takes the key layout ``save_pretrained`` writes (the official
        ``language_model.model.*`` / ``vision_tower.*`` keys, see :func:`_register_official_checkpoint_layout`).

        Keys are renamed with the same conversion rules ``from_pretrained`` applies; keys already in this module's
        layout are left as they are. Without this, transformers' ``Trainer`` resuming from a checkpoint folder
        (``load_state_dict(state_dict, strict=False)``) matched no key and silently kept the initial weights."""
        conversions = get_model_conversion_mapping(self)
        renamings = [c for c in conversions if isinstance(c, WeightRenaming)]
        converters = [c for c in conversions if isinstance(c, WeightConverter)]
        own_keys = set(self.state_dict())
        renamed = {}
        for key, tensor in state_dict.items():
            if key not in own_keys:
                key = rename_source_key(key, renamings, converters)[0]
            renamed[key] = tensor
        return super().load_state_dict(renamed, strict=strict, assign=assign)
