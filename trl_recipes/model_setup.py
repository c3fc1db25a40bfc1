# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Which parts of Tarsier train: frozen towers, all or top-k LLM layers, embeddings, LoRA on the LLM only.

Paper setting (both stages): CLIP-ViT and the projector frozen, every LLM layer trained. Ablations: only the top k
decoder layers (plus the final norm and ``lm_head``), or LoRA adapters. The row-newline and end-of-image vectors
Tarsier appends to each frame are rows of the LLM's ``embed_tokens``, so training them means training the
embedding table (``train_embeddings``).

A frozen vision tower / projector runs under ``torch.no_grad``: no autograd graph is recorded through the ViT (with
gradient checkpointing on, checkpointed CLIP layers would otherwise store their inputs and re-run in backward).
"""

from __future__ import annotations

import functools
import re

import torch

__all__ = [
    "configure_trainable",
    "lora_target_modules",
    "run_without_grad",
    "trainable_summary",
]


def run_without_grad(module: torch.nn.Module) -> None:
    """Make ``module.forward`` run under ``torch.no_grad`` (instance-level; idempotent)."""
    if getattr(module, "_tarsier_no_grad", False):
        return
    forward = module.forward

    @functools.wraps(forward)
    def forward_without_grad(*args, **kwargs):
        with torch.no_grad():
            return forward(*args, **kwargs)

    module.forward = forward_without_grad
    module._tarsier_no_grad = True


def _parts(model):
    base = model.model
    return (
        base.vision_tower,
        base.multi_modal_projector,
        base.language_model,
        model.lm_head,
    )


def configure_trainable(
    model,
    freeze_vision_tower: bool = True,
    freeze_projector: bool = True,
    train_llm_layers: int | None = None,
    train_embeddings: bool = True,
) -> None:
    """Set ``requires_grad`` on a :class:`~tarsier_hf.TarsierForConditionalGeneration` (no LoRA).

    ``train_llm_layers``: ``None`` trains every decoder layer, the final norm and ``lm_head``; ``k`` trains the top
    ``k`` layers, the final norm and ``lm_head``. Raises ``ValueError`` for ``k`` outside ``[1, num_layers]``."""
    vision, projector, language_model, lm_head = _parts(model)
    layers = language_model.layers
    if train_llm_layers is not None and not 1 <= train_llm_layers <= len(layers):
        raise ValueError(f"train_llm_layers must be in [1, {len(layers)}] (the LLM's layers), got {train_llm_layers}")
    first_trained = 0 if train_llm_layers is None else len(layers) - train_llm_layers
    vision.requires_grad_(not freeze_vision_tower)
    projector.requires_grad_(not freeze_projector)
    language_model.requires_grad_(False)
    for layer in list(layers)[first_trained:]:
        layer.requires_grad_(True)
    language_model.norm.requires_grad_(True)
    language_model.embed_tokens.requires_grad_(train_embeddings)
    lm_head.requires_grad_(True)
    if freeze_vision_tower:
        run_without_grad(vision)
    if freeze_vision_tower and freeze_projector:
        run_without_grad(projector)


def lora_target_modules(model, targets, train_llm_layers: int | None = None) -> list[str]:
    """Full names of the language model's modules that LoRA should wrap.

    ``targets``: ``"all-linear"`` (every ``nn.Linear`` of the decoder layers), or a list of module-name suffixes /
    regular expressions as peft takes them (``["q_proj", "v_proj"]``). Only modules inside the LLM's decoder layers
    (the top ``train_llm_layers`` when set) are returned. Raises ``ValueError`` when an entry names a module of the
    vision tower or projector (LoRA on the towers is not supported: they are frozen in Tarsier's recipe) or matches
    nothing."""
    vision, projector, language_model, _ = _parts(model)
    prefix = _module_name(model, language_model)
    layers = language_model.layers
    first = 0 if train_llm_layers is None else len(layers) - train_llm_layers
    linear_names = [
        f"{prefix}.layers.{index}.{name}"
        for index, layer in enumerate(layers)
        if index >= first
        for name, module in layer.named_modules()
        if isinstance(module, torch.nn.Linear)
    ]
    if targets in (None, "all-linear", ["all-linear"]):
        return linear_names
    if isinstance(targets, str):
        targets = [targets]
    tower_prefixes = tuple(_module_name(model, part) + "." for part in (vision, projector))
    tower_names = [name for name, _ in model.named_modules() if name.startswith(tower_prefixes)]
    chosen = []
    for target in targets:
        matches = [name for name in linear_names if _peft_match(name, target)]
        tower_hits = [name for name in tower_names if _peft_match(name, target)]
        if tower_hits and not matches:
            raise ValueError(
                f"LoRA target {target!r} names modules of the vision tower / projector (e.g. {tower_hits[0]!r}); "
                "LoRA is restricted to the language model, whose towers stay frozen in Tarsier's recipe"
            )
        if not matches:
            raise ValueError(f"LoRA target {target!r} matches no linear layer of the language model")
        chosen += [name for name in matches if name not in chosen]
    return chosen


def _peft_match(name: str, target: str) -> bool:
    return name == target or name.endswith("." + target) or re.fullmatch(target, name) is not None


def _module_name(model, module) -> str:
    return next(name for name, m in model.named_modules() if m is module)


def trainable_summary(model) -> dict[str, int]:
    """Trainable / total parameter counts, overall and per part (for logs and tests)."""
    counts = {"trainable": 0, "total": 0}
    for name, parameter in model.named_parameters():
        counts["total"] += parameter.numel()
        if parameter.requires_grad:
            counts["trainable"] += parameter.numel()
            part = (
                "vision_tower" if "vision_tower" in name else "projector" if "multi_modal_projector" in name else "llm"
            )
            counts[f"trainable_{part}"] = counts.get(f"trainable_{part}", 0) + parameter.numel()
    return counts
