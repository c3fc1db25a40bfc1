"""One way to load a Tarsier checkpoint for inference, shared by ``tarsier describe`` and the lmms-eval plugin.

``load_tarsier`` takes an official repo (``omni-research/Tarsier-7b``, ``omni-research/Tarsier2-Recap-7b``), a
converted native checkpoint or a local directory, detects the family from its ``config.json`` (:func:`model_family`:
Tarsier's LLaMA decoder or Tarsier2's Qwen2-VL one), and picks what a user would: the GPU when there is one, bf16 on
GPUs that support it (fp16 otherwise, fp32 on CPU), flash-attention 2 when it is installed and the model is on a
CUDA device, SDPA otherwise.
"""

import json
from pathlib import Path

import torch
from transformers.utils import cached_file, is_flash_attn_2_available

from .configuration_tarsier2 import is_official_tarsier2_config
from .modeling_tarsier import TarsierForConditionalGeneration
from .modeling_tarsier2 import Tarsier2ForConditionalGeneration

__all__ = [
    "FAMILIES",
    "FAMILY_NUM_FRAMES",
    "default_attn_implementation",
    "load_tarsier",
    "model_family",
    "resolve_device",
    "resolve_dtype",
]

FAMILIES = {"tarsier": TarsierForConditionalGeneration, "tarsier2": Tarsier2ForConditionalGeneration}
# Frames per video by default: Tarsier's inference code samples 8, Tarsier2's config (tarser2_default_config.yaml) 16.
FAMILY_NUM_FRAMES = {"tarsier": 8, "tarsier2": 16}

_DTYPES = {
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
}


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"``, ``"mps"`` or ``"cpu"`` (the first available); an explicit device is checked.

    Raises:
        ValueError: the device is not a torch device name, or it is not available here (no CUDA GPU, a GPU index
            beyond the GPUs present, no MPS), in one line naming the device.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise ValueError(f"device {device!r}: no CUDA GPU is available (torch {torch.__version__}, {build})")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"device {device!r}: there are only {count} CUDA GPU(s) (cuda:0 to cuda:{count - 1})")
    elif parsed.type == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise ValueError(f"device {device!r}: MPS (Apple GPU) is not available")
    return device


def resolve_dtype(dtype: str | torch.dtype = "auto", device: str = "cpu") -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}: use auto, {', '.join(sorted(_DTYPES))}")
    return _DTYPES[dtype]


def default_attn_implementation(device: str, dtype: torch.dtype) -> str:
    """flash-attention 2 where it can run (installed, CUDA, half precision), SDPA everywhere else."""
    half = dtype in (torch.bfloat16, torch.float16)
    return "flash_attention_2" if half and device.startswith("cuda") and is_flash_attn_2_available() else "sdpa"


def model_family(config_dict: dict) -> str:
    """``"tarsier2"`` for Tarsier2 configs (official: LLaVA type around a ``qwen2_vl`` decoder; native:
    ``model_type: "tarsier2"``), ``"tarsier"`` otherwise (official LLaVA/LLaMA configs and native ``tarsier``)."""
    if config_dict.get("model_type") == "tarsier2" or is_official_tarsier2_config(config_dict):
        return "tarsier2"
    return "tarsier"


def _read_config(model_id: str, revision: str | None) -> dict:
    config_file = cached_file(model_id, "config.json", revision=revision)
    return json.loads(Path(config_file).read_text(encoding="utf-8"))


def load_tarsier(
    model_id: str,
    device: str = "auto",
    dtype: str | torch.dtype = "auto",
    attn_implementation: str | None = None,
    device_map: str | dict | None = None,
    revision: str | None = None,
    **processor_kwargs,
):
    """Return ``(model, processor)`` in eval mode. ``device_map`` (e.g. ``"auto"`` to shard a 34B model over several
    GPUs) takes precedence over ``device``; ``processor_kwargs`` (e.g. ``num_frames``) go to the processor, whose
    default ``num_frames`` is the family's (8 for Tarsier, 16 for Tarsier2; ``processor.num_frames``)."""
    from .processing_tarsier import TarsierProcessor
    from .processing_tarsier2 import Tarsier2Processor

    family = model_family(_read_config(model_id, revision))
    model_class = FAMILIES[family]
    processor_class = Tarsier2Processor if family == "tarsier2" else TarsierProcessor
    if processor_kwargs.get("num_frames") is None:
        processor_kwargs.pop("num_frames", None)
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    attn_implementation = attn_implementation or default_attn_implementation(device, torch_dtype)
    model = model_class.from_pretrained(
        model_id,
        revision=revision,
        dtype=torch_dtype,
        attn_implementation=attn_implementation,
        device_map=device_map or device,
    )
    processor = processor_class.from_pretrained(model_id, revision=revision, **processor_kwargs)
    return model.eval(), processor
