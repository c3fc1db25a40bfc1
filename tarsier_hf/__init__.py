"""Tarsier as a native transformers model.

Importing this package registers ``model_type="tarsier"`` with ``AutoConfig``, ``AutoModel`` and
``AutoModelForImageTextToText``, and teaches ``from_pretrained`` the official checkpoints' key layout.
"""

from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText

from .configuration_tarsier import TarsierConfig
from .modeling_tarsier import TarsierForConditionalGeneration, TarsierModel

__version__ = "0.1.0"
__all__ = ["TarsierConfig", "TarsierModel", "TarsierForConditionalGeneration"]

AutoConfig.register("tarsier", TarsierConfig, exist_ok=True)
AutoModel.register(TarsierConfig, TarsierModel, exist_ok=True)
AutoModelForImageTextToText.register(TarsierConfig, TarsierForConditionalGeneration, exist_ok=True)

from transformers import AutoProcessor  # noqa: E402  (issue 3: TarsierProcessor registration)
from .processing_tarsier import TarsierProcessor  # noqa: E402
AutoProcessor.register(TarsierConfig, TarsierProcessor, exist_ok=True)
