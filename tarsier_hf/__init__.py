"""Tarsier as a native transformers model.

Importing this package registers ``model_type="tarsier"`` and ``"tarsier2"`` with ``AutoConfig``, ``AutoModel``,
``AutoModelForImageTextToText`` and ``AutoProcessor``, and teaches ``from_pretrained`` the official checkpoints' key
layout.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForImageTextToText,
    AutoProcessor,
)

from .configuration_tarsier import TarsierConfig
from .configuration_tarsier2 import Tarsier2Config
from .modeling_tarsier import TarsierForConditionalGeneration, TarsierModel
from .modeling_tarsier2 import Tarsier2ForConditionalGeneration, Tarsier2Model
from .processing_tarsier import TarsierProcessor
from .processing_tarsier2 import Tarsier2Processor

__version__ = "0.1.0"
__all__ = [
    "Tarsier2Config",
    "Tarsier2ForConditionalGeneration",
    "Tarsier2Model",
    "Tarsier2Processor",
    "TarsierConfig",
    "TarsierForConditionalGeneration",
    "TarsierModel",
    "TarsierProcessor",
]

AutoConfig.register("tarsier", TarsierConfig, exist_ok=True)
AutoModel.register(TarsierConfig, TarsierModel, exist_ok=True)
AutoModelForImageTextToText.register(TarsierConfig, TarsierForConditionalGeneration, exist_ok=True)
AutoProcessor.register(TarsierConfig, TarsierProcessor, exist_ok=True)
AutoConfig.register("tarsier2", Tarsier2Config, exist_ok=True)
AutoModel.register(Tarsier2Config, Tarsier2Model, exist_ok=True)
AutoModelForImageTextToText.register(Tarsier2Config, Tarsier2ForConditionalGeneration, exist_ok=True)
AutoProcessor.register(Tarsier2Config, Tarsier2Processor, exist_ok=True)
