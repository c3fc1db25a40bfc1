"""Tarsier as a native transformers model.

Importing a class from this package (``from tarsier_hf import TarsierForConditionalGeneration``) registers
``model_type="tarsier"`` with ``AutoConfig``, ``AutoModel``, ``AutoModelForImageTextToText`` and ``AutoProcessor``
(so does ``import tarsier_hf`` when transformers is already imported, or :func:`register_auto_classes`), and teaches
``from_pretrained`` the official checkpoints' key layout.

The package itself imports nothing heavy: the classes load on first access (PEP 562), so ``tarsier --help`` and
command-line errors answer without importing torch or transformers.
"""

import importlib
import sys

__version__ = "0.1.0"

# Public name -> submodule that defines it.
_EXPORTS = {
    "TarsierConfig": "configuration_tarsier",
    "TarsierModel": "modeling_tarsier",
    "TarsierForConditionalGeneration": "modeling_tarsier",
    "TarsierProcessor": "processing_tarsier",
}
__all__ = [
    "TarsierConfig",
    "TarsierForConditionalGeneration",
    "TarsierModel",
    "TarsierProcessor",
    "register_auto_classes",
]

_registered = False


def register_auto_classes() -> None:
    """Register the Tarsier classes with the transformers Auto classes (idempotent)."""
    global _registered
    if _registered:
        return
    from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor

    from .configuration_tarsier import TarsierConfig
    from .modeling_tarsier import TarsierForConditionalGeneration, TarsierModel
    from .processing_tarsier import TarsierProcessor

    AutoConfig.register("tarsier", TarsierConfig, exist_ok=True)
    AutoModel.register(TarsierConfig, TarsierModel, exist_ok=True)
    AutoModelForImageTextToText.register(TarsierConfig, TarsierForConditionalGeneration, exist_ok=True)
    AutoProcessor.register(TarsierConfig, TarsierProcessor, exist_ok=True)
    _registered = True


def __getattr__(name: str):
    if name in _EXPORTS:
        register_auto_classes()
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if "transformers" in sys.modules:  # transformers is loaded anyway: register now, as an eager import would
    register_auto_classes()
