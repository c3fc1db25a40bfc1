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

Configuration problems (a missing config or mixture file, contradictory flags, a model folder that does not exist,
bf16 without a bf16 GPU, a dataset without the columns its converter needs) are found before any model is loaded
and reported by :func:`cli` as one line on stderr with exit status 2, as argparse does; failures after that (loading
the weights, training) keep their tracebacks.
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
from enum import Enum
from pathlib import Path

__all__ = ["EXIT_CONFIG_ERROR", "TarsierScriptArguments", "cli", "main", "make_parser", "prepare", "train"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
EXIT_CONFIG_ERROR = 2  # argparse's status for a bad command line
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
    from trl import ModelConfig, TrlParser

    from trl_recipes.sft_config import TarsierSFTConfig

    # A short usage line: argparse prints it above each command-line error, and the generated one runs to 300 lines.
    usage = (
        "%(prog)s --config CONFIG.yaml --model_name_or_path MODEL (--mixture MIX.yaml | --dataset_name DATA) "
        "[--option VALUE ...]; --help lists the options"
    )
    return TrlParser((TarsierScriptArguments, TarsierSFTConfig, ModelConfig), usage=usage)


def _shipped_config(argv: list[str]) -> list[str]:
    """Resolve ``--config``: a local file, else a shipped config of that name (``--config stage2.yaml``).

    ``--config=FILE`` becomes ``--config FILE`` (the form ``TrlParser`` reads). Raises ``ValueError`` when the value
    is missing or names neither a file nor a shipped config.
    """
    resolved: list[str] = []
    argv = list(argv)
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--config" or arg.startswith("--config="):
            if arg == "--config":
                if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                    raise ValueError("--config needs a YAML file")
                value, i = argv[i + 1], i + 2
            else:
                value, i = arg.split("=", 1)[1], i + 1
            if not os.path.isfile(value):
                if not (CONFIG_DIR / value).is_file():
                    shipped = ", ".join(sorted(path.name for path in CONFIG_DIR.glob("*.yaml")))
                    raise ValueError(f"config file {value!r} not found (shipped configs: {shipped})")
                value = str(CONFIG_DIR / value)
            resolved += ["--config", value]
        else:
            resolved.append(arg)
            i += 1
    return resolved


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
    """Every check that does not need the model or the data: fails before anything is loaded.

    Raises ``ValueError`` naming the flag; sets ``training_args.gradient_accumulation_steps`` from
    ``global_batch_size``.
    """
    if not model_args.model_name_or_path:
        raise ValueError("give --model_name_or_path (a checkpoint folder or a Hub model id)")
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


def build_model(script_args, training_args, model_args, model_source: str | None = None):
    """The model from ``model_source`` (default ``model_args.model_name_or_path``), frozen or LoRA-wrapped."""
    import torch

    from tarsier_hf import TarsierForConditionalGeneration
    from trl_recipes.model_setup import (
        configure_trainable,
        lora_target_modules,
        trainable_summary,
    )

    dtype = model_args.dtype if model_args.dtype in (None, "auto") else getattr(torch, model_args.dtype)
    source = model_source or model_args.model_name_or_path
    model = TarsierForConditionalGeneration.from_pretrained(
        source,
        revision=_revision(source, model_args),
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
        "lr_scheduler_type": training_args.lr_scheduler_type,
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
    path.write_text(json.dumps(_plain(record), indent=2, default=str))
    return path


def _plain(value):
    """``value`` with every enum replaced by its value (``SchedulerType.COSINE`` → ``"cosine"``), recursively."""
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _revision(source: str, model_args) -> str | None:
    """The revision applies to the Hub id the user gave, not to a resolved local snapshot folder."""
    return model_args.model_revision if source == model_args.model_name_or_path else None


def prepare(script_args, training_args, model_args):
    """The configuration phase: the arguments, the model's location, the data and the trainable parts, checked
    without loading any weights.

    Returns ``(model_source, dataset)``: the folder or Hub id to load from (``tarsier_hf.model_source``, the check
    ``tarsier describe`` makes) and the :class:`~trl_recipes.data.MixtureDataset`. Raises ``ValueError`` (or
    ``OSError`` from reading the data files) naming the problem; :func:`cli` reports those as configuration errors.
    """
    from tarsier_hf.model_source import ModelSourceError, check_model_source

    check_args(script_args, training_args, model_args)
    try:
        model_source = check_model_source(model_args.model_name_or_path, model_args.model_revision)
    except ModelSourceError as error:
        raise ValueError(f"--model_name_or_path {error}") from error
    dataset = build_dataset(script_args)
    check_model_options(script_args, model_args, model_source)
    return model_source, dataset


def check_model_options(script_args, model_args, model_source: str) -> None:
    """``train_llm_layers`` and the LoRA targets checked against the architecture, on a skeleton built from the
    checkpoint's config on the meta device (no weights read, no memory used). Raises ``ValueError``."""
    if not (model_args.use_peft or script_args.train_llm_layers is not None):
        return
    import torch

    from tarsier_hf import TarsierForConditionalGeneration
    from trl_recipes.model_setup import configure_trainable, lora_target_modules

    config = TarsierForConditionalGeneration.config_class.from_pretrained(
        model_source, revision=_revision(model_source, model_args)
    )
    with torch.device("meta"):
        skeleton = TarsierForConditionalGeneration(config)
    configure_trainable(skeleton, train_llm_layers=script_args.train_llm_layers)
    if model_args.use_peft:
        lora_target_modules(skeleton, model_args.lora_target_modules or "all-linear", script_args.train_llm_layers)


def main(script_args, training_args, model_args) -> None:
    """Check (:func:`prepare`), then :func:`train`; configuration problems raise ``ValueError``."""
    train(script_args, training_args, model_args, *prepare(script_args, training_args, model_args))


def train(script_args, training_args, model_args, model_source: str, dataset) -> None:
    """Load the processor and model from ``model_source``, train on ``dataset``, save the model, processor,
    ``tarsier_training.json`` and (with ``hub_cards``) a model card to ``output_dir``."""
    from tarsier_hf import TarsierProcessor
    from trl_recipes.collator import TarsierVideoCollator
    from trl_recipes.trainer import TarsierSFTTrainer

    processor = TarsierProcessor.from_pretrained(model_source, revision=_revision(model_source, model_args))
    model = build_model(script_args, training_args, model_args, model_source)

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
    _end_distributed(trainer)


def _end_distributed(trainer) -> None:
    """Tear the process group down while every rank is still running.

    Left to interpreter exit, the DDP reducer's last reference drops after a rank has returned, and gloo's
    ``~ProcessGroupGloo`` then joins a worker thread that waits for a peer which has already exited: seen on CPU
    runs as a rank that finished training and never exits (futex wait in ``Reducer`` -> ``~ProcessGroupGloo``).
    Dropping the DDP wrapper first and destroying the group after a barrier destructs it on all ranks together.
    """
    import gc

    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    trainer.model_wrapped = None  # the DistributedDataParallel wrapper; its reducer holds the process group
    trainer.accelerator.free_memory()
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


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
    """Command-line entry (``tarsier-sft``, ``python -m trl_recipes.sft_tarsier``).

    Everything up to loading the model (``--config``, parsing, :func:`prepare`) is the configuration phase: a
    ``ValueError``, ``OSError`` or YAML error raised there ends the program with one line on stderr,
    ``<prog>: error: <message>``, and exit status :data:`EXIT_CONFIG_ERROR` (2), as argparse does for a bad
    command line. Errors after it keep their tracebacks.
    """
    import faulthandler
    import signal

    import yaml

    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>` prints every thread's stack: find where a rank hangs
        try:
            faulthandler.register(signal.SIGUSR1, all_threads=True)
        except ValueError:  # io.UnsupportedOperation: stderr without a file descriptor (a notebook, a capture)
            pass
    try:
        argv = _shipped_config(sys.argv[1:] if argv is None else argv)
        script_args, training_args, model_args = make_parser().parse_args_and_config(args=argv)
        model_source, dataset = prepare(script_args, training_args, model_args)
    except (ValueError, OSError, yaml.YAMLError) as error:
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "tarsier-sft"
        print(f"{prog}: error: {_one_line(error)}", file=sys.stderr, flush=True)
        sys.exit(EXIT_CONFIG_ERROR)
    train(script_args, training_args, model_args, model_source, dataset)


def _one_line(error: BaseException) -> str:
    """An exception's message on one line (an ``OSError`` as ``file: reason``)."""
    if isinstance(error, OSError) and error.filename and error.strerror:
        return f"{error.filename}: {error.strerror}"
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return text or type(error).__name__


if __name__ == "__main__":
    cli()
