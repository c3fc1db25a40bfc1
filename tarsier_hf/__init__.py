"""Tarsier as a native transformers model.

Importing this package registers ``model_type="tarsier"`` with ``AutoConfig``, ``AutoModel``,
``AutoModelForImageTextToText`` and ``AutoProcessor``, and teaches ``from_pretrained`` the official checkpoints' key
layout.
"""

from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor

from .configuration_tarsier import TarsierConfig
from .modeling_tarsier import TarsierForConditionalGeneration, TarsierModel
from .processing_tarsier import TarsierProcessor

__version__ = "0.1.0"
__all__ = ["TarsierConfig", "TarsierModel", "TarsierForConditionalGeneration", "TarsierProcessor"]

AutoConfig.register("tarsier", TarsierConfig, exist_ok=True)
AutoModel.register(TarsierConfig, TarsierModel, exist_ok=True)
AutoModelForImageTextToText.register(TarsierConfig, TarsierForConditionalGeneration, exist_ok=True)
AutoProcessor.register(TarsierConfig, TarsierProcessor, exist_ok=True)
