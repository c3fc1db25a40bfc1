# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Throughput and model-FLOPs utilisation (MFU) for Tarsier training steps.

FLOPs per step (the usual dense-transformer estimate, PaLM appendix B):

- LLM: ``6 * N_llm * tokens + 12 * layers * hidden * seq_len * tokens`` (forward + backward; attention term with
  the batch's mean padded length), whether or not every layer is trained: activation gradients still flow through
  frozen layers below trained ones, so ``6N`` slightly overestimates top-k and LoRA runs.
- Vision tower: ``2 * N_vit * patches`` forward only when frozen (``6 * N_vit * patches`` when trained).

MFU = FLOPs per second / peak dense bf16 FLOPs of the device. Peaks come from the vendor data sheets below (dense,
no sparsity); pass ``peak_tflops`` for other hardware. CPUs have no entry: MFU is not reported there.
"""

from __future__ import annotations

import torch

__all__ = ["PEAK_BF16_TFLOPS", "peak_tflops", "step_flops"]

# Dense bf16 tensor-core peaks (TFLOP/s), SXM parts where there are several form factors.
PEAK_BF16_TFLOPS = {
    "H200": 989.5,
    "H100": 989.5,
    "H800": 989.5,
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.1,
    "L4": 121.0,
    "A10": 125.0,
    "B200": 2250.0,
}


def peak_tflops(device: torch.device | str | None = None) -> float | None:
    """Dense bf16 peak of the current CUDA device from :data:`PEAK_BF16_TFLOPS`, ``None`` when unknown or on CPU."""
    if not torch.cuda.is_available() or (device is not None and torch.device(device).type != "cuda"):
        return None
    name = torch.cuda.get_device_name(device).upper()
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key in name.replace("NVIDIA", ""):
            return PEAK_BF16_TFLOPS[key]
    return None


def _parameter_count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def step_flops(model, tokens: int, seq_len: float, frames: int, vision_trained: bool = False) -> dict[str, float]:
    """Estimated FLOPs of one forward+backward over ``tokens`` LLM positions (padding included) of mean length
    ``seq_len`` and ``frames`` frames. Returns ``{"llm": ..., "vision": ..., "total": ...}``."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    tarsier = base.model
    text_config = base.config.text_config
    n_llm = _parameter_count(tarsier.language_model) + _parameter_count(base.lm_head)
    llm = 6 * n_llm * tokens + 12 * text_config.num_hidden_layers * text_config.hidden_size * seq_len * tokens
    patches = base.config.patches_per_side**2 + 1
    vision = (6 if vision_trained else 2) * (_parameter_count(tarsier.vision_tower)) * patches * frames
    vision += 6 * _parameter_count(tarsier.multi_modal_projector) * patches * frames
    return {"llm": float(llm), "vision": float(vision), "total": float(llm + vision)}
