# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""``SFTConfig`` whose bf16 check says what to do on a machine without a bf16 GPU.

TRL turns ``bf16`` on unless ``fp16`` is set, and the shipped configs set ``bf16: true`` (Table 7). On a CPU-only
machine ``TrainingArguments`` then stops with "Your setup doesn't support bf16/gpu", raised while the arguments are
parsed, before any of the recipe's own checks. :class:`TarsierSFTConfig` makes the same check first and names the
fix (``--bf16 false``). bf16 is never turned off silently: a GPU node whose CUDA is not visible would otherwise start
a full-size run on the CPU in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers.utils import is_torch_bf16_gpu_available, is_torch_xla_available
from trl import SFTConfig

__all__ = ["TarsierSFTConfig", "bf16_problem"]


def bf16_problem(bf16: bool, use_cpu: bool) -> str | None:
    """Why bf16 mixed precision cannot run here (one line), or ``None``.

    The condition is the one of ``transformers.TrainingArguments``: bf16 needs a bf16-capable accelerator unless
    ``use_cpu`` asks for CPU autocast.
    """
    if not bf16 or use_cpu or is_torch_bf16_gpu_available() or is_torch_xla_available():
        return None
    import torch

    found = "this GPU has no bf16 support (it needs Ampere or newer)" if torch.cuda.is_available() else "no GPU found"
    return (
        f"bf16 mixed precision is on (the shipped configs set bf16: true) but {found}; "
        "pass --bf16 false (with --dtype float32 to train in full precision), e.g. to train on CPU"
    )


@dataclass
class TarsierSFTConfig(SFTConfig):
    """``trl.SFTConfig`` with one change: bf16 on a machine without bf16 support is a ``ValueError`` naming the fix."""

    def __post_init__(self):
        bf16 = (not self.fp16) if self.bf16 is None else self.bf16  # TRL's default, applied by SFTConfig below
        problem = bf16_problem(bool(bf16 or self.bf16_full_eval), bool(self.use_cpu))
        if problem:
            raise ValueError(problem)
        super().__post_init__()
