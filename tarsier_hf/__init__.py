"""Tarsier as a native transformers model.

Importing this package registers ``model_type="tarsier"`` and ``"tarsier2"`` with ``AutoConfig``, ``AutoModel``,
``AutoModelForImageTextToText`` and ``AutoProcessor`` as soon as transformers is imported (at once if it already is),
and teaches ``from_pretrained`` the official checkpoints' key layout.

The package itself imports nothing heavy: the classes load on first access (PEP 562), so ``tarsier --help`` and
command-line errors answer without importing torch or transformers.
"""

import importlib
import sys

from ._import_hooks import call_after_import

__version__ = "0.1.0"

# Public name -> submodule that defines it.
_EXPORTS = {
    "TarsierConfig": "configuration_tarsier",
    "TarsierModel": "modeling_tarsier",
    "TarsierForConditionalGeneration": "modeling_tarsier",
    "TarsierProcessor": "processing_tarsier",
    "Tarsier2Config": "configuration_tarsier2",
    "Tarsier2Model": "modeling_tarsier2",
    "Tarsier2ForConditionalGeneration": "modeling_tarsier2",
    "Tarsier2Processor": "processing_tarsier2",
}
__all__ = [
    "Tarsier2Config",
    "Tarsier2ForConditionalGeneration",
    "Tarsier2Model",
    "Tarsier2Processor",
    "TarsierConfig",
    "TarsierForConditionalGeneration",
    "TarsierModel",
    "TarsierProcessor",
    "register_auto_classes",
]

_CLASS_MODULES = sorted(set(_EXPORTS.values()))
_registered = False
_registering = False


def register_auto_classes() -> None:
    """Register the Tarsier classes with the transformers Auto classes (idempotent)."""
    global _registered, _registering
    if _registered or _registering:
        return
    _registering = True  # the imports below run our modules, whose import hooks call back here
    try:
        from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor

        from .configuration_tarsier import TarsierConfig
        from .configuration_tarsier2 import Tarsier2Config
        from .modeling_tarsier import TarsierForConditionalGeneration, TarsierModel
        from .modeling_tarsier2 import Tarsier2ForConditionalGeneration, Tarsier2Model
        from .processing_tarsier import TarsierProcessor
        from .processing_tarsier2 import Tarsier2Processor

        for model_type, config, model, generation_model, processor in (
            ("tarsier", TarsierConfig, TarsierModel, TarsierForConditionalGeneration, TarsierProcessor),
            ("tarsier2", Tarsier2Config, Tarsier2Model, Tarsier2ForConditionalGeneration, Tarsier2Processor),
        ):
            AutoConfig.register(model_type, config, exist_ok=True)
            AutoModel.register(config, model, exist_ok=True)
            AutoModelForImageTextToText.register(config, generation_model, exist_ok=True)
            AutoProcessor.register(config, processor, exist_ok=True)
        _registered = True
    finally:
        _registering = False


def _register_when_ready(module) -> None:
    """Import hook: register once transformers is imported and none of our class modules is half-run.

    ``from tarsier_hf.processing_tarsier import TarsierProcessor`` imports transformers from inside
    ``processing_tarsier``; registering right then would import ``processing_tarsier`` again while it is still
    running (ImportError). So a module still running defers the registration, and each class module calls back here
    when it has finished."""
    if _registered or "transformers" not in sys.modules:
        return
    for name in _CLASS_MODULES:
        running = sys.modules.get(f"{__name__}.{name}")
        if running is not None and running is not module and getattr(running.__spec__, "_initializing", False):
            return
    register_auto_classes()


def __getattr__(name: str):
    if name in _EXPORTS:
        register_auto_classes()
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


# Register as soon as transformers and our classes can be imported (now, if transformers already is), so that
# ``import tarsier_hf`` followed by an Auto class works in either order, while ``tarsier --help`` imports neither.
for _name in _CLASS_MODULES:
    call_after_import(f"{__name__}.{_name}", _register_when_ready)
call_after_import("transformers", _register_when_ready)
