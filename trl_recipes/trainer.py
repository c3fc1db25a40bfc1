# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""``SFTTrainer`` with Tarsier's data statistics in the logs.

The collator attaches ``data_stats`` to each batch (skipped and truncated rows, frames, tokens). This trainer takes
it off before the forward and adds to every training log, per device: ``frames_per_second``,
``tokens_per_second``, ``samples_skipped`` (running total over all ranks, corrupt media + overlong),
``samples_truncated`` and, on GPUs with a known peak (or ``peak_tflops``), ``mfu`` and ``mfu_llm``. With ``log_sample_ids``, each rank appends ``{"step", "ids", "epochs"}`` per micro-batch to
``output_dir/sample_ids_rank{rank}.jsonl`` (to audit data order and sharding).
"""

from __future__ import annotations

import json
import math
import os
import time

import torch
from transformers import TrainerCallback
from trl import SFTTrainer

from .metrics import peak_tflops, step_flops

__all__ = ["MixtureEpochCallback", "TarsierSFTTrainer"]

_COUNTS = (
    "skipped_media",
    "skipped_overlong",
    "truncated",
    "frames",
    "tokens",
    "label_tokens",
    "rows",
)


class MixtureEpochCallback(TrainerCallback):
    """Tell the :class:`~trl_recipes.data.MixtureDataset` which epoch starts, so frame and prompt seeds follow the
    epoch. ``on_epoch_begin`` runs before the epoch's dataloader iterator (and its worker processes) is created; on
    resume, ``state.epoch`` is the checkpoint's fractional epoch, whose integer part is the epoch being resumed."""

    def __init__(self, mixture):
        self.mixture = mixture

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.mixture.set_epoch(math.floor((state.epoch or 0.0) + 1e-6))


class TarsierSFTTrainer(SFTTrainer):
    def __init__(
        self,
        *args,
        peak_tflops: float | None = None,
        vision_trained: bool = False,
        log_sample_ids: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        mixture = getattr(self.train_dataset, "mixture", None)
        if mixture is not None:
            self.add_callback(MixtureEpochCallback(mixture))
        self._sample_log = (
            os.path.join(
                self.args.output_dir,
                f"sample_ids_rank{self.accelerator.process_index}.jsonl",
            )
            if log_sample_ids
            else None
        )
        self._window = dict.fromkeys(_COUNTS, 0)
        self._window_padded = self._window_sequences = 0
        self._totals = {"skipped": 0, "truncated": 0}
        self._window_start = time.perf_counter()
        self._peak_tflops = peak_tflops
        self._vision_trained = vision_trained

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        stats = inputs.pop("data_stats", None)
        if stats is not None and model.training:
            for key in _COUNTS[:-1]:
                self._window[key] += stats[key]
            self._window["rows"] += 1
            if self._sample_log is not None:
                os.makedirs(self.args.output_dir, exist_ok=True)
                with open(self._sample_log, "a", encoding="utf-8") as handle:
                    handle.write(
                        json.dumps({"step": self.state.global_step, "ids": stats["ids"], "epochs": stats["epochs"]})
                        + "\n"
                    )
            self._window_padded += inputs["input_ids"].numel()
            self._window_sequences += inputs["input_ids"].shape[0]
        return super().compute_loss(
            model,
            inputs,
            return_outputs=return_outputs,
            num_items_in_batch=num_items_in_batch,
        )

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self.model.training:
            logs.update(self._throughput_logs())
        super().log(logs, start_time)

    def _throughput_logs(self) -> dict[str, float]:
        elapsed = max(time.perf_counter() - self._window_start, 1e-9)
        window = self._window
        device = self.accelerator.device
        counts = torch.tensor(
            [window["skipped_media"] + window["skipped_overlong"], window["truncated"]],
            device=device,
        )
        counts = self.accelerator.reduce(counts, reduction="sum").tolist()
        self._totals["skipped"] += int(counts[0])
        self._totals["truncated"] += int(counts[1])
        logs = {
            "samples_skipped": self._totals["skipped"],
            "samples_truncated": self._totals["truncated"],
            "frames_per_second": window["frames"] / elapsed,
            "tokens_per_second": window["tokens"] / elapsed,
        }
        peak = self._peak_tflops or peak_tflops(device)
        if peak and window["rows"]:
            seq_len = self._window_padded / max(self._window_sequences, 1)
            flops = step_flops(
                self.model,
                self._window_padded,
                seq_len,
                window["frames"],
                self._vision_trained,
            )
            logs["mfu"] = flops["total"] / elapsed / (peak * 1e12)
            logs["mfu_llm"] = flops["llm"] / elapsed / (peak * 1e12)
        self._window = dict.fromkeys(_COUNTS, 0)
        self._window_padded = self._window_sequences = 0
        self._window_start = time.perf_counter()
        return logs
