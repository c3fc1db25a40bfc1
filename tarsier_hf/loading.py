"""One way to load a Tarsier checkpoint for inference, shared by ``tarsier describe`` and the lmms-eval plugin.

``load_tarsier`` takes an official repo (``omni-research/Tarsier-7b``, ``omni-research/Tarsier2-Recap-7b``), a
converted native checkpoint or a local directory, detects the family from its ``config.json`` (:func:`model_family`:
Tarsier's LLaMA decoder or Tarsier2's Qwen2-VL one), and picks what a user would: the GPU when there is one, bf16 on
GPUs that support it (fp16 otherwise, fp32 on CPU), flash-attention 2 when it is installed and the model is on a
CUDA device, SDPA otherwise.

Every problem with the checkpoint itself (a config that is not JSON, weights that are truncated or corrupt, missing
tokenizer files, an unreadable file) is a :class:`ModelLoadError` whose message is one line naming the file or
folder and the problem; device and dtype names are checked as text first (:mod:`tarsier_hf.load_options`).
"""

import contextlib
import json
import pickle
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from transformers.utils import cached_file, is_flash_attn_2_available

from .configuration_tarsier2 import is_official_tarsier2_config
from .load_options import DTYPE_NAMES, check_device, check_dtype
from .modeling_tarsier import TarsierForConditionalGeneration
from .modeling_tarsier2 import Tarsier2ForConditionalGeneration

__all__ = [
    "FAMILIES",
    "FAMILY_NUM_FRAMES",
    "ModelLoadError",
    "default_attn_implementation",
    "load_errors",
    "load_tarsier",
    "model_family",
    "read_checkpoint_config",
    "resolve_device",
    "resolve_dtype",
]

FAMILIES = {"tarsier": TarsierForConditionalGeneration, "tarsier2": Tarsier2ForConditionalGeneration}
# Frames per video by default: Tarsier's inference code samples 8, Tarsier2's config (tarser2_default_config.yaml) 16.
FAMILY_NUM_FRAMES = {"tarsier": 8, "tarsier2": 16}

_DTYPES = {name: getattr(torch, attribute) for name, attribute in DTYPE_NAMES.items()}
# Files that hold a tokenizer: fast (tokenizers) JSON, LLaMA's sentencepiece model, GPT-2-style BPE vocabulary (Qwen2).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")
# How a checkpoint's files fail to load: unreadable or missing (OSError), not JSON / not what transformers expects
# (ValueError), corrupt safetensors, corrupt pickled .bin weights (UnpicklingError, EOFError, RuntimeError from
# torch.load's zip reader).
_LOAD_ERRORS = (OSError, ValueError, SafetensorError, pickle.UnpicklingError, EOFError, RuntimeError)


class ModelLoadError(ValueError):
    """The checkpoint's files cannot be loaded; the message (one line) names the file or folder and the problem."""


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"``, ``"mps"`` or ``"cpu"`` (the first available); an explicit device is checked.

    Raises:
        ValueError: the device is not a torch device name, or it is not available here (no CUDA GPU, a GPU index
            beyond the GPUs present, no MPS), in one line naming the device.
    """
    check_device(device)
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
    return _DTYPES[check_dtype(dtype)]


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


def read_checkpoint_config(model_id: str, revision: str | None = None) -> tuple[dict, Path]:
    """``(config dict, checkpoint folder)``; a config that cannot be read or parsed is a :class:`ModelLoadError`."""
    config_file = Path(cached_file(model_id, "config.json", revision=revision))
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ModelLoadError(
            f"{config_file}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    except UnicodeDecodeError:
        raise ModelLoadError(f"{config_file}: not UTF-8 text (a corrupt or binary file)") from None
    except OSError as error:
        raise ModelLoadError(f"{config_file}: cannot read it ({error.strerror or error})") from None
    if not isinstance(config, dict):
        raise ModelLoadError(f"{config_file}: expected a JSON object, got {type(config).__name__}")
    return config, config_file.parent


@contextlib.contextmanager
def load_errors(folder: str | Path, part: str = "the model"):
    """Turn a failure to load ``part`` (``"the model"``, ``"the processor"``) from the checkpoint ``folder`` into a
    :class:`ModelLoadError` naming the file and the problem (which weights file is corrupt; that the tokenizer files
    are missing), in one line. The original exception is chained (``__cause__``)."""
    try:
        yield
    except ModelLoadError:
        raise
    except _LOAD_ERRORS as error:
        raise ModelLoadError(_explain(error, Path(folder), part)) from error


def _explain(error: BaseException, folder: Path, part: str) -> str:
    if isinstance(error, SafetensorError):
        for weights in sorted(folder.glob("*.safetensors")):
            try:
                with safe_open(weights, framework="pt"):
                    pass
            except (SafetensorError, OSError) as problem:
                return f"{weights}: corrupt or truncated weights file ({_one_line(problem)}); download or copy it again"
        return f"{folder}: corrupt weights ({_one_line(error)})"
    if part == "the processor" and folder.is_dir() and not any((folder / name).is_file() for name in TOKENIZER_FILES):
        return (
            f"{folder}: no tokenizer files ({', '.join(TOKENIZER_FILES[:-1])} or {TOKENIZER_FILES[-1]}); "
            "copy them from the original checkpoint"
        )
    text = _one_line(error)
    return text if str(folder) in text else f"{folder}: cannot load {part}: {text}"


def _one_line(error: BaseException) -> str:
    """The whole message of ``error`` on one line (never cut: the useful part is often on the later lines)."""
    return " ".join(str(error).split()) or type(error).__name__


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
    default ``num_frames`` is the family's (8 for Tarsier, 16 for Tarsier2; ``processor.num_frames``).

    The processor is loaded first (seconds), so a checkpoint without tokenizer files fails before its weights load.

    Raises:
        ValueError: an unknown or unavailable device, an unknown dtype (:func:`resolve_device`, :func:`resolve_dtype`).
        ModelLoadError: the checkpoint's config, tokenizer or weights cannot be read (one line naming the file).
        OSError: the checkpoint cannot be found or downloaded (transformers' message).
    """
    from .processing_tarsier import TarsierProcessor
    from .processing_tarsier2 import Tarsier2Processor

    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    config, folder = read_checkpoint_config(model_id, revision)
    family = model_family(config)
    model_class = FAMILIES[family]
    processor_class = Tarsier2Processor if family == "tarsier2" else TarsierProcessor
    if processor_kwargs.get("num_frames") is None:
        processor_kwargs.pop("num_frames", None)
    attn_implementation = attn_implementation or default_attn_implementation(device, torch_dtype)
    with load_errors(folder, "the processor"):
        processor = processor_class.from_pretrained(model_id, revision=revision, **processor_kwargs)
    with load_errors(folder, "the model"):
        model = model_class.from_pretrained(
            model_id,
            revision=revision,
            dtype=torch_dtype,
            attn_implementation=attn_implementation,
            device_map=device_map or device,
        )
    return model.eval(), processor
