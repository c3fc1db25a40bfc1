# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Tarsier2: Qwen2-VL with the official wrapper's position rule and checkpoint layout.

What the official code does (bytedance/tarsier, branch ``main``):

- ``models/modeling_tarsier.py::TarsierForConditionalGeneration`` wraps a Qwen2-VL ViT (``vision_tower``, with its
  patch merger) and a Qwen2-VL decoder (``language_model``, ``models/modeling_qwen2_vl_fast.py::Qwen2VLForCausalLM``).
  For a ``qwen2_vl`` text config ``forward`` runs ``vision_tower(pixel_values, image_grid_thw)`` and scatters the
  features into the ``image_token_index`` positions; videos are frame sequences through the *image* path
  (``pixel_values`` / ``image_grid_thw`` with ``t`` = number of temporal patches). The wrapper also builds a LLaVA
  ``multi_modal_projector`` (``projection_head`` defaults to ``"MLP"``) that this path never calls.
- ``Qwen2VLForCausalLM.get_rope_index``: text is 1-D; a vision block gets ``(t, h, w)`` indices offset by the
  position where it starts; the text after a vision block starts at **(max position so far) + 1**. transformers 5
  advances by ``max(h, w)`` instead, which differs as soon as a video has more temporal patches than its merged
  grid side (``t > max(h, w)``): 16 frames of a 4x4-token grid, for instance. :meth:`Tarsier2Model.get_rope_index`
  reproduces the official rule.
- ``TarsierForConditionalGeneration.prepare_inputs_for_generation``: decode step positions are the last prompt
  position + 1, + 2, ... — what transformers' ``rope_deltas`` give, so generation needs no override.

Official weights are keyed ``vision_tower.*``, ``language_model.model.*``, ``language_model.lm_head.*`` (and
``multi_modal_projector.*``, unused, ignored on load); transformers 5 Qwen2-VL keys them ``model.visual.*``,
``model.language_model.*``, ``lm_head.*``. The renaming is registered below (it also reverses on save).

This file (with ``configuration_tarsier2.py``) is what ``tarsier-convert`` ships for ``trust_remote_code``, so it
imports nothing from the ``tarsier_hf`` package.
"""

import itertools

import torch
from transformers import Qwen2VLForConditionalGeneration, Qwen2VLModel
from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import WeightRenaming

from .configuration_tarsier2 import Tarsier2Config

__all__ = ["Tarsier2ForConditionalGeneration", "Tarsier2Model"]

# The official wrapper's unused LLaVA projector (see module docstring); its weights are in the official checkpoints.
_UNUSED_OFFICIAL_KEYS = [r"^multi_modal_projector\."]


def _register_official_checkpoint_layout():
    """Teach ``from_pretrained`` the official key layout (and ``save_pretrained`` its reverse)."""
    top_level = [
        WeightRenaming(source_patterns=r"^language_model.lm_head", target_patterns="lm_head"),
        WeightRenaming(source_patterns=r"^language_model.model", target_patterns="model.language_model"),
        WeightRenaming(source_patterns=r"^vision_tower", target_patterns="model.visual"),
    ]
    register_checkpoint_conversion_mapping("tarsier2", top_level, overwrite=True)


_register_official_checkpoint_layout()


class Tarsier2Model(Qwen2VLModel):
    config: Tarsier2Config
    config_class = Tarsier2Config
    _keys_to_ignore_on_load_unexpected = _UNUSED_OFFICIAL_KEYS

    def get_rope_index(
        self,
        input_ids: torch.LongTensor,
        mm_token_type_ids: torch.IntTensor,
        image_grid_thw: torch.LongTensor | None = None,
        video_grid_thw: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """M-RoPE positions by the official rule (``Qwen2VLForCausalLM.get_rope_index`` in bytedance/tarsier
        ``models/modeling_qwen2_vl_fast.py``): a text run continues from ``max(previous positions) + 1``; a vision
        block of grid ``(t, H, W)`` (``h = H / merge``, ``w = W / merge``) starting at ``s`` gets
        ``(s + i, s + j, s + k)`` for ``i < t, j < h, k < w`` in ``t, h, w`` order.

        Args:
            input_ids: ``(batch, seq)``; only its shape, device and (with ``attention_mask``) length are used.
            mm_token_type_ids: ``(batch, seq)``; 0 text, 1 image tokens, 2 video tokens (the processor's).
            image_grid_thw / video_grid_thw: ``(n, 3)`` in placeholder order over the batch.
            attention_mask: ``(batch, seq)``; padded positions get 0 and are skipped.

        Returns:
            ``position_ids`` ``(3, batch, seq)`` (long) and ``rope_deltas`` ``(batch, 1)``: ``max + 1 - length``
            per row, so decode step ``k`` gets position ``max + 1 + k`` (the official ``position_ids[:, -1] + 1``).

        Raises:
            ValueError: a vision run's length does not match the grids given for it.
        """
        merge = self.config.vision_config.spatial_merge_size
        batch_size, seq_len = input_ids.shape
        position_ids = torch.zeros(3, batch_size, seq_len, dtype=input_ids.dtype, device=input_ids.device)
        grids = {
            1: iter(image_grid_thw if image_grid_thw is not None else []),
            2: iter(video_grid_thw if video_grid_thw is not None else []),
        }
        deltas = []
        for row in range(batch_size):
            token_types = mm_token_type_ids[row]
            keep = attention_mask[row].bool() if attention_mask is not None else torch.ones_like(token_types).bool()
            chunks, next_position = [], 0
            for modality, run in itertools.groupby(token_types[keep].tolist()):
                length = len(list(run))
                if modality == 0:
                    chunks.append(torch.arange(length, device=input_ids.device).expand(3, -1) + next_position)
                    next_position += length
                    continue
                while length > 0:  # adjacent vision blocks of one modality form one run: split it by their grids
                    grid = next(grids[modality], None)
                    if grid is None:
                        raise ValueError(f"row {row} has more vision tokens than the grids given for them")
                    block = self.get_vision_position_ids(next_position, grid, 1, merge, device=input_ids.device)
                    if block.shape[1] > length:
                        raise ValueError(
                            f"row {row}: a vision run of {length} tokens cannot hold a grid {grid.tolist()} "
                            f"({block.shape[1]} tokens after the {merge}x{merge} merge)"
                        )
                    chunks.append(block)
                    next_position = int(block.max()) + 1  # the official rule: max previous position + 1
                    length -= block.shape[1]
            positions = torch.cat(chunks, dim=1)
            position_ids[:, row, keep] = positions.to(position_ids.dtype)
            deltas.append(int(positions.max()) + 1 - int(keep.sum()))
        return position_ids, torch.tensor(deltas, device=input_ids.device).unsqueeze(1)

    def get_placeholder_mask(self, input_ids, inputs_embeds, image_features=None, video_features=None):
        """Qwen2-VL's masks, with an error that says how the placeholder count should have been made."""
        for features, token_id, name in (
            (image_features, self.config.image_token_id, "image"),
            (video_features, self.config.video_token_id, "video"),
        ):
            if features is None or input_ids is None:
                continue
            found, needed = int((input_ids == token_id).sum()), features.shape[0]
            if found != needed:
                raise ValueError(
                    f"The text has {found} {name}-token positions (id {token_id}) but the frames produce {needed} "
                    f"{name} features. Each visual placeholder must be expanded to (grid_t * grid_h * grid_w) / "
                    f"{self.config.vision_config.spatial_merge_size**2} tokens of its {name}_grid_thw row "
                    "(Tarsier2Processor does this)."
                )
        return super().get_placeholder_mask(
            input_ids, inputs_embeds, image_features=image_features, video_features=video_features
        )


class Tarsier2ForConditionalGeneration(Qwen2VLForConditionalGeneration):
    config: Tarsier2Config
    config_class = Tarsier2Config
    _keys_to_ignore_on_load_unexpected = _UNUSED_OFFICIAL_KEYS

    def __init__(self, config: Tarsier2Config):
        # Skip Qwen2VLForConditionalGeneration.__init__ so that only the Tarsier2 base model is built.
        super(Qwen2VLForConditionalGeneration, self).__init__(config)
        self.model = Tarsier2Model(config)
        self.lm_head = torch.nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()
