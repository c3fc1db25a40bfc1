"""The device, dtype and device-map names that :func:`tarsier_hf.loading.load_tarsier` accepts, checked as text.

Standard library only: the command lines (``tarsier describe``, ``tarsier-convert``) check what the user typed
with these before torch or transformers is imported, and :mod:`tarsier_hf.loading` uses the same tables, so both
refuse the same values with the same message. Whether a syntactically valid device exists on this machine
(``cuda:3`` on a one-GPU host) is only known to torch: :func:`tarsier_hf.loading.resolve_device` checks that.
"""

from __future__ import annotations

import re

__all__ = [
    "DEVICE_MAP_STRATEGIES",
    "DEVICE_TYPES",
    "DTYPE_NAMES",
    "check_device",
    "check_device_map",
    "check_dtype",
]

# Accelerator types a model can run on: torch's own plus "npu" (registered by torch_npu). "auto" picks one.
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "hpu", "npu")
# What a user may call each torch dtype → the torch attribute.
DTYPE_NAMES = {
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
}
# Strategies transformers' ``from_pretrained(device_map=...)`` accepts besides a device name.
DEVICE_MAP_STRATEGIES = ("auto", "balanced", "balanced_low_0", "sequential")

_DEVICE = re.compile(rf"^(?:{'|'.join(DEVICE_TYPES)})(?::(?:0|[1-9][0-9]*))?$")


def check_device(device: str) -> str:
    """``device`` unchanged when it is ``auto`` or ``TYPE`` / ``TYPE:N`` with a known type.

    Raises:
        ValueError: anything else, in one line naming the value and the accepted forms.
    """
    if device == "auto" or _DEVICE.match(device or ""):
        return device
    raise ValueError(f"unknown device {device!r}: use auto, {', '.join(DEVICE_TYPES)}, or TYPE:N such as cuda:1")


def check_dtype(dtype: str) -> str:
    """``dtype`` unchanged when it is ``auto`` or a name of :data:`DTYPE_NAMES`.

    Raises:
        ValueError: anything else, naming the value and the accepted names.
    """
    if dtype == "auto" or dtype in DTYPE_NAMES:
        return dtype
    raise ValueError(f"unknown dtype {dtype!r}: use auto, {', '.join(sorted(DTYPE_NAMES))}")


def check_device_map(device_map: str) -> str:
    """``device_map`` unchanged when it is a strategy of :data:`DEVICE_MAP_STRATEGIES` or a device name
    (``cuda:0``: the whole model there).

    Raises:
        ValueError: anything else, naming the value and the accepted forms.
    """
    if device_map in DEVICE_MAP_STRATEGIES or (device_map != "auto" and _DEVICE.match(device_map or "")):
        return device_map
    raise ValueError(
        f"unknown device map {device_map!r}: use {', '.join(DEVICE_MAP_STRATEGIES)}, or a device such as cuda:0"
    )
