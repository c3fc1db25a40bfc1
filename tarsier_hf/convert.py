"""``tarsier-convert SRC DST``: turn an official Tarsier or Tarsier2 checkpoint into a native one.

The official repos (``omni-research/Tarsier-7b``, ``-34b``, ``omni-research/Tarsier2-Recap-7b``,
``Tarsier2-7b-0115``) declare ``model_type: "llava"``, so transformers' Auto classes build a plain LLaVA from them
that silently skips Tarsier's newline / end-of-image tokens (Tarsier) or cannot hold a Qwen2-VL decoder (Tarsier2).
The family is read from the source config (``tarsier_hf.loading.model_family``). The converted checkpoint declares
``model_type: "tarsier"`` / ``"tarsier2"``, stores safetensors, and ships the family's configuration, modeling and
processing files with an ``auto_map``, so it loads with ``AutoModelForImageTextToText`` after ``import tarsier_hf``,
or anywhere with ``trust_remote_code=True``. A Tarsier checkpoint also gets a model card (``README.md``, written by
``hub_cards.model_card``; ``base_model`` is the source when that is a Hub id); a Tarsier2 one keeps the source's
README (the card template describes Tarsier's architecture).

The source is checked like ``tarsier describe --model`` does (:func:`tarsier_hf.model_source.check_model_source`:
"folder not found", a folder without ``config.json``, an unreachable Hub); a corrupt config or weights file is a
one-line error naming the file (:func:`tarsier_hf.loading.load_errors`). torch and transformers are imported only
once the arguments are parsed: ``--help`` and argument errors answer at once.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

# Files of the official repos besides weights and config that a native checkpoint keeps as they are.
# README.md is not among them for Tarsier: the converted checkpoint gets its own model card (hub_cards).
_PASSTHROUGH_FILES = ("preprocessor_config.json", "generation_config.json", "chat_template.jinja")
DTYPES = ("auto", "bfloat16", "float16", "float32")


def _resolve(src: str) -> Path:
    """The local folder of ``src`` (downloaded when it is a Hub id); :class:`ModelSourceError` when there is none."""
    from .model_source import check_model_source

    source = check_model_source(src)
    if Path(source).is_dir():
        return Path(source)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(src, allow_patterns=["*.json", "*.safetensors", "*.model", "*.jinja", "*.txt"]))


def _load_processor(src: Path, family: str):
    from .processing_tarsier import TarsierProcessor
    from .processing_tarsier2 import Tarsier2Processor

    processor_class = Tarsier2Processor if family == "tarsier2" else TarsierProcessor
    return processor_class.from_pretrained(src)


def _save_processor(processor, dst: Path) -> None:
    """Save the processor with its code and an ``auto_map`` entry, so ``AutoProcessor`` loads it anywhere."""
    processor_class = type(processor)
    processor_class.register_for_auto_class()
    try:
        processor.save_pretrained(dst)
    finally:
        processor_class._auto_class = None


def convert(src: str, dst: str, dtype: str = "auto") -> Path:
    """Load ``src`` (official or native layout, local dir or Hub id) and write a native checkpoint to ``dst``.

    Raises:
        ValueError: an unknown ``dtype``; ``dst`` is ``src``; ``src`` not found (:class:`ModelSourceError`); a
            config or weights file that cannot be read (:class:`~tarsier_hf.loading.ModelLoadError`).
        RuntimeError: the weights do not match the family's architecture exactly (missing / unexpected keys).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")
    src_path, dst_path = _resolve(src), Path(dst)  # before torch: a wrong source is refused at once
    if dst_path.resolve() == src_path.resolve():
        raise ValueError("DST must differ from SRC: the conversion rewrites config.json and the weights")
    import torch

    from .loading import FAMILIES, load_errors, model_family, read_checkpoint_config

    family = model_family(read_checkpoint_config(str(src_path))[0])
    model_class = FAMILIES[family]
    config_class = model_class.config_class
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    with load_errors(src_path, "the processor"):  # first: a missing tokenizer fails before anything is written
        processor = _load_processor(src_path, family)
    with load_errors(src_path):
        model, info = model_class.from_pretrained(src_path, dtype=torch_dtype, output_loading_info=True)
    problems = {k: sorted(v) for k, v in info.items() if k != "error_msgs" and v}
    if problems or info.get("error_msgs"):
        raise RuntimeError(f"{src} does not load as a {family} checkpoint exactly: {problems or info['error_msgs']}")

    dst_path.mkdir(parents=True, exist_ok=True)
    config_class.register_for_auto_class()
    model_class.register_for_auto_class("AutoModelForImageTextToText")
    try:
        model.config.architectures = [model_class.__name__]
        model.save_pretrained(dst_path)
    finally:  # register_for_auto_class sets class attributes; do not leak them into later saves in this process
        config_class._auto_class = None
        model_class._auto_class = None
    _save_processor(processor, dst_path)
    for name in _PASSTHROUGH_FILES + (("README.md",) if family != "tarsier" else ()):
        if (src_path / name).exists() and not (dst_path / name).exists():
            shutil.copy2(src_path / name, dst_path / name)
    if family == "tarsier":
        from hub_cards.model_card import write_model_card

        write_model_card(dst_path, replace=True, base_model=None if Path(src).exists() else src)
    return dst_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="tarsier-convert",
        description="Convert an official Tarsier or Tarsier2 checkpoint (model_type 'llava') into a native 'tarsier' / "
        "'tarsier2' checkpoint that AutoModelForImageTextToText loads (with `import tarsier_hf` or "
        "trust_remote_code=True).",
    )
    parser.add_argument(
        "src", help="official checkpoint: local directory or Hub repo id (e.g. omni-research/Tarsier-7b)"
    )
    parser.add_argument("dst", help="output directory")
    parser.add_argument("--dtype", default="auto", choices=DTYPES, help="weights dtype (default: as stored)")
    args = parser.parse_args(argv)
    try:
        out = convert(args.src, args.dst, dtype=args.dtype)
    except (OSError, ValueError, RuntimeError) as error:
        print(f"tarsier-convert: error: {error}", file=sys.stderr)
        return 1
    print(f"wrote native {json.loads((out / 'config.json').read_text())['model_type']} checkpoint to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
