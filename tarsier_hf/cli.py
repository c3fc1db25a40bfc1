# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""The ``tarsier`` command.

``tarsier describe PATH... [--input-list FILE] [--output FILE.jsonl] [--batch-size N] [--model ID_OR_DIR] ...``
describes videos, GIFs and images (see ``tarsier describe --help`` and :mod:`tarsier_hf.describe`). Several
processes: ``torchrun --nproc_per_node 8 -m tarsier_hf.cli describe ... --output out.jsonl`` (or
``accelerate launch -m tarsier_hf.cli describe ...``).

Exit status: 0 every input described; 1 the model cannot be loaded or run (not found, Hub unreachable, device not
available); 2 unusable command line or inputs (nothing loaded); 3 some inputs failed (listed at the end; the others
were described); 130 interrupted (re-run the same command to continue where it stopped).

This module imports only the standard library (and the torch-free :mod:`tarsier_hf.load_options`) at the top:
``--help`` and argument errors, bad device / dtype names included, answer without torch.
"""

import argparse
import os
import sys

from .load_options import DTYPE_NAMES, check_device, check_device_map

__all__ = ["DEFAULT_MODEL", "EXIT_BAD_INPUT", "EXIT_INPUTS_FAILED", "EXIT_INTERRUPTED", "EXIT_MODEL_ERROR", "main"]

DEFAULT_MODEL = "omni-research/Tarsier-7b"

EXIT_MODEL_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_INPUTS_FAILED = 3
EXIT_INTERRUPTED = 130

_EPILOG = """\
inputs: files, folders (their media files, not recursive), glob patterns ('clips/**/*.mp4', quoted), and
  --input-list files (.txt: one path per line; .jsonl: {"path": ..., "prompt": ...} per line).
output: without --output, descriptions go to stdout (with --json, one JSON record per line). With --output, one JSON
  record per input is appended as it is produced; a re-run skips inputs already there.
several processes: torchrun --nproc_per_node N -m tarsier_hf.cli describe ... --output FILE.jsonl
exit status: 0 all described; 1 model cannot be loaded or run; 2 unusable command line or inputs; 3 some inputs
  failed (listed at the end); 130 interrupted.
"""


def _int_at_least(minimum: int):
    """An argparse ``type``: an integer >= ``minimum``."""

    def convert(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {number}")
        return number

    convert.__name__ = "int"  # argparse names the type in some messages
    return convert


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _checked(check):
    """An argparse ``type`` from a :mod:`~tarsier_hf.load_options` check (its ValueError becomes a usage error)."""

    def convert(value: str) -> str:
        try:
            return check(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = check.__name__.removeprefix("check_")  # argparse names the type in some messages
    return convert


def default_workers() -> int:
    """Background decoding processes: up to 4, leaving a core for the main process."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tarsier", description="Tarsier video description models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    describe = commands.add_parser(
        "describe",
        help="describe videos, GIFs and images",
        description="Describe each video, GIF or image (batched, resumable, one or several processes).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    describe.add_argument("paths", nargs="*", metavar="PATH", help="media files, folders or glob patterns")
    describe.add_argument(
        "--input-list", action="append", default=[], metavar="FILE", help="a .txt or .jsonl list of inputs"
    )
    describe.add_argument("--output", metavar="FILE.jsonl", help="append one JSON record per input; resume from it")
    describe.add_argument("--json", action="store_true", help="stdout: one JSON record per line (without --output)")
    describe.add_argument("--model", default=DEFAULT_MODEL, help=f"Hub id or local folder (default: {DEFAULT_MODEL})")
    describe.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    describe.add_argument(
        "--frames",
        type=_positive_int,
        default=None,
        help="frames sampled per video (default: the model's, 8 for Tarsier)",
    )
    describe.add_argument(
        "--prompt", default=None, help="instruction (default: 'Describe the video in detail.', or '... the image ...')"
    )
    describe.add_argument("--max-new-tokens", type=_positive_int, default=512, help="default: 512")
    describe.add_argument("--batch-size", type=_positive_int, default=1, help="inputs per generate call (default: 1)")
    describe.add_argument(
        "--workers",
        type=_non_negative_int,
        default=None,
        help="background decoding processes (default: min(4, CPUs - 1); 0 decodes in the main process)",
    )
    describe.add_argument(
        "--device", default="auto", type=_checked(check_device), help="auto (GPU if any), cpu, cuda, cuda:1, mps ..."
    )
    describe.add_argument(
        "--device-map",
        default=None,
        type=_checked(check_device_map),
        help="auto, balanced, sequential or a device: spread one large model over several GPUs",
    )
    describe.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", *DTYPE_NAMES],
        metavar="DTYPE",
        help="auto (bf16/fp16 on GPU, fp32 on CPU), bf16, fp16, fp32 (or bfloat16, float16, float32, half, float)",
    )
    describe.add_argument(
        "--attn",
        default="auto",
        choices=["auto", "sdpa", "flash_attention_2", "eager"],
        help="attention kernel (default: flash_attention_2 when installed on CUDA, else sdpa)",
    )
    describe.add_argument(
        "--compile", action="store_true", help="static KV cache; transformers then compiles the decoding step on CUDA"
    )
    describe.add_argument(
        "--vision-chunk", type=_positive_int, default=32, help="frames per vision-tower call (bounds memory; 32)"
    )
    describe.add_argument("--video-backend", default="auto", choices=["auto", "decord", "pyav"], help="default: auto")
    describe.add_argument("--quiet", action="store_true", help="no progress bars (loading nor describing)")
    describe.set_defaults(run=describe_command)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


def _error(message: str) -> None:
    print(f"tarsier describe: error: {message}", file=sys.stderr)


def describe_command(args) -> int:
    from .describe.inputs import InputError, collect_inputs

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not args.output:
        _error(f"{world_size} processes need --output FILE.jsonl (each writes a shard, the main process merges them)")
        return EXIT_BAD_INPUT
    if world_size > 1 and args.device_map:
        _error("--device-map spreads one model over the GPUs of one process; do not combine it with torchrun")
        return EXIT_BAD_INPUT
    try:
        inputs = collect_inputs(args.paths, args.input_list)
    except InputError as error:
        _error(str(error))
        return EXIT_BAD_INPUT

    if args.output:
        from .describe.records import check_output

        try:
            check_output(args.output)  # unwritable, or a file that is not a describe output: stop before loading
        except (ValueError, OSError) as error:
            _error(f"--output: {error}")
            return EXIT_BAD_INPUT

    from .model_source import ModelSourceError, check_model_source

    try:
        source = check_model_source(args.model, args.revision)
    except ModelSourceError as error:
        _error(f"cannot load the model: {error}")
        return EXIT_MODEL_ERROR

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the tokenizer is used before workers fork
    if args.quiet:
        _silence_progress_bars()
    from .describe.runner import DescribeOptions, Distributed, describe
    from .loading import load_tarsier, resolve_device

    distributed = Distributed.from_env()
    try:
        return _run(args, inputs, source, distributed, describe, DescribeOptions, load_tarsier, resolve_device)
    finally:
        distributed.close()


def _run(args, inputs, source, distributed, describe, DescribeOptions, load_tarsier, resolve_device) -> int:
    import json

    from .describe.generation import GenerationSettings

    device = args.device
    if distributed.world_size > 1 and device in ("auto", "cuda"):
        import torch

        device = f"cuda:{distributed.local_rank}" if torch.cuda.is_available() else "cpu"
    try:
        device = resolve_device(device)
        model, processor = load_tarsier(
            source,
            device=device,
            dtype=args.dtype,
            attn_implementation=None if args.attn == "auto" else args.attn,
            device_map=args.device_map,
            revision=args.revision if source == args.model else None,
        )
    except (OSError, ValueError, ImportError) as error:  # loading.ModelLoadError is a ValueError
        _error(f"cannot load the model {args.model!r}: {' '.join(str(error).split()) or type(error).__name__}")
        return EXIT_MODEL_ERROR

    options = DescribeOptions(
        num_frames=args.frames,
        prompt=args.prompt,
        batch_size=args.batch_size,
        workers=default_workers() if args.workers is None else args.workers,
        video_backend=args.video_backend,
        model_name=args.model,
        generation=GenerationSettings(
            max_new_tokens=args.max_new_tokens, vision_chunk=args.vision_chunk, static_cache=args.compile
        ),
    )
    emit = None
    if not args.output:

        def emit(record: dict) -> None:
            if args.json:
                line = json.dumps(record, ensure_ascii=False)
            else:
                line = record["description"] if len(inputs) == 1 else f"{record['path']}: {record['description']}"
            print(line, flush=True)

    try:
        summary = describe(
            model,
            processor,
            inputs,
            options,
            output=args.output,
            emit=emit,
            distributed=distributed,
            progress=not args.quiet,
        )
    except KeyboardInterrupt:
        where = f"; re-run the same command to continue ({args.output} keeps what was done)" if args.output else ""
        _error(f"interrupted{where}")
        return EXIT_INTERRUPTED
    except ValueError as error:  # e.g. an --output file that is not a describe output
        _error(str(error))
        return EXIT_BAD_INPUT
    except RuntimeError as error:  # the model failed on the device (out of memory alone is an input failure)
        first_line = (str(error).strip().splitlines() or [""])[0]
        _error(f"generation failed: {type(error).__name__}: {first_line}")
        return EXIT_MODEL_ERROR
    if distributed.is_main:
        _report(summary, args.output)
    return EXIT_INPUTS_FAILED if summary.failed else 0


def _silence_progress_bars() -> None:
    """``--quiet``: no "Loading weights" bar from transformers, no download bars from huggingface_hub."""
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as transformers_logging

    disable_progress_bars()
    transformers_logging.disable_progress_bar()


def _report(summary, output) -> None:
    parts = [f"described {summary.described} of {summary.total} inputs"]
    if summary.skipped:
        parts.append(f"{summary.skipped} already in {output}")
    if summary.failed:
        parts.append(f"{len(summary.failed)} failed")
    if output or summary.failed or summary.skipped:
        print(f"tarsier describe: {', '.join(parts)}", file=sys.stderr)
    for _path, error in summary.failed:
        print(f"  failed: {error}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
