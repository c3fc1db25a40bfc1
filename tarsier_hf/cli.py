# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""The ``tarsier`` command.

``tarsier describe PATH... [--model ID_OR_DIR] [--frames 8] [--prompt TEXT] [--max-new-tokens 512] [--device auto]
[--dtype auto] [--json]`` prints one description per video / GIF / image (folders expand to the media files
directly inside them). Every input is decoded once before the model loads, so a missing, unsupported or broken
file stops the run with exit status 2 before anything is printed.
"""

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from .video_io import DEFAULT_NUM_FRAMES, MediaError, find_media_files, load_frames, media_kind

__all__ = ["DEFAULT_MODEL", "main"]

DEFAULT_MODEL = "omni-research/Tarsier-7b"
# The official quick start's prompts (tasks/inference_quick_start.py).
DEFAULT_VIDEO_PROMPT = "Describe the video in detail."
DEFAULT_IMAGE_PROMPT = "Describe the image in detail."

EXIT_BAD_INPUT = 2
EXIT_MODEL_ERROR = 1


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tarsier", description="Tarsier video description models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    describe = commands.add_parser(
        "describe",
        help="describe videos, GIFs and images",
        description="Print a description of each video, GIF or image (folders expand to their media files).",
    )
    describe.add_argument("paths", nargs="+", metavar="PATH", help="media files or folders of them")
    describe.add_argument("--model", default=DEFAULT_MODEL, help=f"Hub id or local folder (default: {DEFAULT_MODEL})")
    describe.add_argument(
        "--frames", type=_positive_int, default=DEFAULT_NUM_FRAMES, help="frames sampled per video (default: 8)"
    )
    describe.add_argument(
        "--prompt",
        default=None,
        help=f"instruction (default: {DEFAULT_VIDEO_PROMPT!r}, or {DEFAULT_IMAGE_PROMPT!r} for images)",
    )
    describe.add_argument("--max-new-tokens", type=_positive_int, default=512, help="default: 512")
    describe.add_argument("--device", default="auto", help="auto (GPU if any), cpu, cuda, cuda:1, mps ...")
    describe.add_argument("--dtype", default="auto", help="auto (bf16/fp16 on GPU, fp32 on CPU), bf16, fp16, fp32")
    describe.add_argument("--json", action="store_true", help='one JSON object per line: {"path", "description"}')
    describe.set_defaults(run=describe_command)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


def expand_inputs(paths) -> list[Path]:
    """Files as given, folders replaced by their media files; raises :class:`MediaError` for anything unusable."""
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(find_media_files(path))
        elif not path.exists():
            raise MediaError(f"{path}: file not found")
        else:
            media_kind(path)
            files.append(path)
    return files


def prompt_for(path: Path, instruction: str | None) -> str:
    """The official quick start's prompt: ``<video>\\n`` + instruction (a still image is a one-frame video)."""
    if instruction is None:
        instruction = DEFAULT_IMAGE_PROMPT if media_kind(path) == "image" else DEFAULT_VIDEO_PROMPT
    return "<video>\n" + instruction.replace("<image>", "").replace("<video>", "").strip()


def describe_command(args) -> int:
    try:
        files = expand_inputs(args.paths)
        for path in tqdm(files, desc="Checking inputs", unit="file", disable=len(files) < 2, file=sys.stderr):
            load_frames(path, args.frames)
    except MediaError as error:
        print(f"tarsier describe: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT

    import torch

    from .loading import load_tarsier

    try:
        model, processor = load_tarsier(args.model, device=args.device, dtype=args.dtype)
    except (OSError, ValueError) as error:
        print(f"tarsier describe: error: cannot load model {args.model!r}: {error}", file=sys.stderr)
        return EXIT_MODEL_ERROR

    for path in tqdm(files, desc="Describing", unit="file", disable=len(files) < 2, file=sys.stderr):
        inputs = processor(
            text=prompt_for(path, args.prompt), videos=str(path), num_frames=args.frames, return_tensors="pt"
        )
        inputs = inputs.to(model.device)
        with torch.inference_mode():
            output = model.generate(
                **inputs,
                max_new_tokens=args.max_new_tokens,
                do_sample=False,
                pad_token_id=processor.tokenizer.pad_token_id,
            )
        description = processor.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()
        if args.json:
            line = json.dumps({"path": str(path), "description": description}, ensure_ascii=False)
        else:
            line = description if len(files) == 1 else f"{path}: {description}"
        tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
