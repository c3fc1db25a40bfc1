# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Tarsier's two training stages as a TRL SFT script.

```bash
# stage 2 on 8 GPUs (one node), Table 7 settings from the YAML, overrides on the command line
accelerate launch --config_file trl_recipes/accelerate_configs/multi_gpu.yaml -m trl_recipes.sft_tarsier \\
    --config trl_recipes/configs/stage2.yaml --model_name_or_path omni-research/Tarsier-7b \\
    --mixture my_mixture.yaml --output_dir out/
```

Parsed with ``TrlParser`` into (:class:`TarsierScriptArguments`, ``SFTConfig``, ``ModelConfig``): ``--config`` reads
a YAML whose keys are any of their fields; command-line flags override it. Shipped configs live in
``trl_recipes/configs`` and ``trl_recipes/accelerate_configs`` (also inside the installed package; ``--config
stage2.yaml`` finds a shipped config by name).
"""

from __future__ import annotations

if __package__ in (
    None,
    "",
):  # run as a file (python trl_recipes/sft_tarsier.py): make the package importable
    import sys as _sys
    from pathlib import Path as _Path

    _sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["TarsierScriptArguments", "main", "make_parser"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
logger = logging.getLogger("trl_recipes.sft_tarsier")


@dataclass
class TarsierScriptArguments:
    """Recipe options next to ``SFTConfig`` and ``ModelConfig``."""

    stage: int = field(
        default=2,
        metadata={
            "help": "1 (multi-task pre-training) or 2 (instruction tuning); sets "
            "the default frame sampling of datasets that do not give one."
        },
    )
    mixture: str | None = field(default=None, metadata={"help": "Mixture YAML (see trl_recipes/data.py)."})
    dataset_name: str | None = field(
        default=None,
        metadata={"help": "Single dataset instead of a mixture: a JSONL/JSON/Parquet file, a folder or a Hub id."},
    )
    dataset_train_split: str = field(default="train", metadata={"help": "Split of --dataset_name."})
    video_root: str | None = field(
        default=None,
        metadata={"help": "Folder that relative media paths of --dataset_name are under."},
    )
    converter: str | None = field(
        default=None,
        metadata={"help": "caption | label | qa for --dataset_name rows without messages."},
    )
    global_batch_size: int | None = field(
        default=None,
        metadata={"help": "Samples per optimizer step over all processes; sets gradient_accumulation_steps."},
    )
    freeze_vision_tower: bool = field(default=True, metadata={"help": "Keep CLIP-ViT frozen (paper: yes)."})
    freeze_projector: bool = field(default=True, metadata={"help": "Keep the MLP projector frozen (paper: yes)."})
    train_llm_layers: int | None = field(
        default=None,
        metadata={"help": "Train only the top k LLM layers (plus final norm and lm_head); default all."},
    )
    train_embeddings: bool = field(
        default=True,
        metadata={"help": "Train embed_tokens (holds the newline and end-of-image vectors)."},
    )
    overlong: str = field(
        default="truncate",
        metadata={"help": "Rows longer than max_length: 'truncate' (text only, never image tokens) or 'skip'."},
    )
    strict_data: bool = field(
        default=False,
        metadata={"help": "Fail on unreadable media instead of skipping."},
    )
    video_backend: str = field(default="auto", metadata={"help": "auto | decord | pyav."})
    log_sample_ids: bool = field(
        default=False,
        metadata={"help": "Write the sample ids of every micro-batch to output_dir/sample_ids_rank{rank}.jsonl."},
    )
    peak_tflops: float | None = field(
        default=None,
        metadata={"help": "Device bf16 peak for MFU (auto on known GPUs)."},
    )


def make_parser():
    from trl import ModelConfig, SFTConfig, TrlParser

    return TrlParser((TarsierScriptArguments, SFTConfig, ModelConfig))


def _shipped_config(argv: list[str]) -> list[str]:
    """``--config stage2.yaml`` → the packaged file when no such local file exists."""
    argv = list(argv)
    for i, arg in enumerate(argv):
        value, key = (argv[i + 1], i + 1) if arg == "--config" and i + 1 < len(argv) else (None, None)
        if arg.startswith("--config="):
            value, key = arg.split("=", 1)[1], i
        if value and not os.path.exists(value) and (CONFIG_DIR / value).is_file():
            argv[key] = str(CONFIG_DIR / value) if key != i else f"--config={CONFIG_DIR / value}"
    return argv


def gradient_accumulation(global_batch_size: int, world_size: int, per_device: int) -> int:
    """``global = world_size * per_device * accumulation``; raises ``ValueError`` when it does not divide."""
    per_step = world_size * per_device
    if global_batch_size < 1 or global_batch_size % per_step:
        raise ValueError(
            f"global_batch_size={global_batch_size} is not a positive multiple of world_size ({world_size}) x "
            f"per_device_train_batch_size ({per_device}) = {per_step}; pick a global batch that divides, or change "
            "the number of processes / per-device batch"
        )
    return global_batch_size // per_step


def check_args(script_args: TarsierScriptArguments, training_args, model_args) -> None:
    """Every check that does not need the model or the data: fails before anything is loaded."""
    if script_args.stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {script_args.stage}")
    if (script_args.mixture is None) == (script_args.dataset_name is None):
        raise ValueError("give exactly one of --mixture (a mixture YAML) or --dataset_name (one dataset)")
    if script_args.overlong not in ("truncate", "skip"):
        raise ValueError(f"overlong must be 'truncate' or 'skip', got {script_args.overlong!r}")
    if script_args.video_root is not None and not Path(script_args.video_root).is_dir():
        raise ValueError(f"video_root {script_args.video_root!r} is not an existing folder")
    if model_args.use_peft and not (script_args.freeze_vision_tower and script_args.freeze_projector):
        raise ValueError(
            "LoRA (use_peft) is restricted to the language model: the vision tower and projector stay frozen; "
            "drop --freeze_vision_tower false / --freeze_projector false"
        )
    if training_args.dataloader_persistent_workers and training_args.dataloader_num_workers > 0:
        raise ValueError(
            "dataloader_persistent_workers would keep each worker's epoch at 0, so every epoch would sample the same "
            "frames; leave it off"
        )
    if script_args.global_batch_size is not None:
        training_args.gradient_accumulation_steps = gradient_accumulation(
            script_args.global_batch_size,
            training_args.world_size,
            training_args.per_device_train_batch_size,
        )


def build_dataset(script_args: TarsierScriptArguments):
    from trl_recipes.data import MixtureDataset, load_mixture, parse_mixture

    if script_args.mixture is not None:
        path = script_args.mixture
        if not os.path.exists(path) and (CONFIG_DIR / path).is_file():
            path = CONFIG_DIR / path
        config = load_mixture(path, script_args.stage)
    else:
        entry = {
            "name": Path(script_args.dataset_name).stem,
            "path": script_args.dataset_name,
            "split": script_args.dataset_train_split,
            "converter": script_args.converter,
        }
        if script_args.video_root is not None:
            entry["video_root"] = script_args.video_root
        config = parse_mixture({"datasets": [entry]}, script_args.stage)
    return MixtureDataset(config)


def build_model(script_args, training_args, model_args):
    import torch

    from tarsier_hf import TarsierForConditionalGeneration
    from trl_recipes.model_setup import (
        configure_trainable,
        lora_target_modules,
        trainable_summary,
    )

    dtype = model_args.dtype if model_args.dtype in (None, "auto") else getattr(torch, model_args.dtype)
    model = TarsierForConditionalGeneration.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        dtype=dtype if dtype is not None else "auto",
        attn_implementation=model_args.attn_implementation,
    )
    if model_args.use_peft:
        from peft import get_peft_model
        from trl import get_peft_config

        peft_config = get_peft_config(model_args)
        peft_config.target_modules = lora_target_modules(
            model,
            model_args.lora_target_modules or "all-linear",
            script_args.train_llm_layers,
        )
        if script_args.train_embeddings:
            peft_config.modules_to_save = [
                *(peft_config.modules_to_save or []),
                "embed_tokens",
            ]
        model.requires_grad_(False)
        model = get_peft_model(model, peft_config)
        from trl_recipes.model_setup import run_without_grad

        run_without_grad(model.get_base_model().model.vision_tower)
        run_without_grad(model.get_base_model().model.multi_modal_projector)
    else:
        configure_trainable(
            model,
            freeze_vision_tower=script_args.freeze_vision_tower,
            freeze_projector=script_args.freeze_projector,
            train_llm_layers=script_args.train_llm_layers,
            train_embeddings=script_args.train_embeddings,
        )
    logger.info("trainable parameters: %s", trainable_summary(model))
    return model


def write_training_record(output_dir: str, script_args, training_args, model_args, dataset, steps: int) -> Path:
    """``output_dir/tarsier_training.json``: what a model-card writer needs to describe the run."""
    record = {
        "stage": script_args.stage,
        "base_model": model_args.model_name_or_path,
        "datasets": [
            {
                "name": spec.name,
                "path": spec.path,
                "weight": spec.weight,
                "converter": spec.converter,
                "samples_per_epoch": dataset.counts[spec.name],
                "frames": asdict(spec.frames),
            }
            for spec in dataset.config.datasets
        ],
        "mixture": script_args.mixture,
        "global_batch_size": training_args.per_device_train_batch_size
        * training_args.world_size
        * training_args.gradient_accumulation_steps,
        "steps": steps,
        "learning_rate": training_args.learning_rate,
        "lr_scheduler_type": str(training_args.lr_scheduler_type),
        "warmup_steps": training_args.warmup_steps,
        "max_length": training_args.max_length,
        "freeze_vision_tower": script_args.freeze_vision_tower,
        "freeze_projector": script_args.freeze_projector,
        "train_llm_layers": script_args.train_llm_layers,
        "train_embeddings": script_args.train_embeddings,
        "lora": model_args.use_peft,
        "recipe": {key: value for key, value in asdict(script_args).items()},
    }
    path = Path(output_dir) / "tarsier_training.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    return path


def main(script_args, training_args, model_args) -> None:
    from tarsier_hf import TarsierProcessor
    from trl_recipes.collator import TarsierVideoCollator
    from trl_recipes.trainer import TarsierSFTTrainer

    check_args(script_args, training_args, model_args)
    dataset = build_dataset(script_args)
    processor = TarsierProcessor.from_pretrained(model_args.model_name_or_path, revision=model_args.model_revision)
    model = build_model(script_args, training_args, model_args)

    if training_args.ddp_find_unused_parameters is None:
        # With both towers frozen every trainable parameter takes part in every step, text-only batches included;
        # DDP's search for unused parameters (TRL turns it on for vision-language models) would be wasted work.
        training_args.ddp_find_unused_parameters = not (
            script_args.freeze_vision_tower and script_args.freeze_projector
        )
    training_args.remove_unused_columns = False
    training_args.dataset_kwargs = {
        **(training_args.dataset_kwargs or {}),
        "skip_prepare_dataset": True,
    }
    collator = TarsierVideoCollator(
        processor,
        max_length=training_args.max_length,
        overlong=script_args.overlong,
        strict_data=script_args.strict_data,
        video_backend=script_args.video_backend,
    )
    trainer = TarsierSFTTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset.as_hf_dataset(),
        data_collator=collator,
        processing_class=processor,
        peak_tflops=script_args.peak_tflops,
        vision_trained=not script_args.freeze_vision_tower,
        log_sample_ids=script_args.log_sample_ids,
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model(training_args.output_dir)
    if trainer.accelerator.is_main_process:
        processor.save_pretrained(training_args.output_dir)
        write_training_record(
            training_args.output_dir,
            script_args,
            training_args,
            model_args,
            dataset,
            trainer.state.global_step,
        )
        _write_model_card(training_args.output_dir)
    trainer.accelerator.print(f"Model and processor saved to {training_args.output_dir}.")
    trainer.accelerator.wait_for_everyone()
    trainer.end() if hasattr(trainer, "end") else None


def _write_model_card(output_dir: str) -> None:
    """Optional: ``hub_cards`` writes a model card from ``tarsier_training.json`` when that package is present.
    The model is saved by then, so a failing card writer only costs a warning."""
    try:
        from hub_cards.model_card import write_training_card
    except ImportError:
        return
    try:
        write_training_card(output_dir)
    except Exception as error:  # noqa: BLE001 - the trained model must not be lost to a card problem
        logger.warning(
            "model card not written (%s: %s); tarsier_training.json has the run's facts", type(error).__name__, error
        )


def cli(argv: list[str] | None = None) -> None:
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>` prints every thread's stack: find where a rank hangs
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    parser = make_parser()
    argv = _shipped_config(sys.argv[1:] if argv is None else argv)
    script_args, training_args, model_args = parser.parse_args_and_config(args=argv)
    main(script_args, training_args, model_args)


if __name__ == "__main__":
    cli()
