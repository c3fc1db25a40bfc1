# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Frames → ``pixel_values`` as Tarsier was trained, without torchvision.

Default path (the official pixels): each frame is made square — stretched to ``max(w, h)`` with Pillow's default
resize filter, or padded with the CLIP mean colour — then run through the checkpoint's CLIP image processor (its
PIL backend, ``CLIPImageProcessorPil``: bicubic resize of the shortest edge, center crop, rescale, normalize).
Frames are processed in a thread pool (Pillow releases the GIL), which changes no pixel.

Fast path (opt-in): one Pillow bicubic resize per frame straight to the processor's resize size, then the crop and
the normalization on the whole batch in torch. With ``square_mode="pad"`` that *is* the official pipeline (identical
pixels). With the default stretch it skips the intermediate ``max(w, h)`` square; measured deviation from the
official pixels (``benchmarks/processor.py``, bounded in ``tests/test_processing_tarsier.py``): at most 1 grey
level (0.015 in normalized units), mean 0.08 levels, on the 1920x800 demo clip; at most 7 levels, mean 0.11, on a
synthetic 720p clip with added noise. Frames smaller than the model's 336 px deviate more (up to ~20 levels on
pure noise), since the official path then upsamples twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

try:
    from PIL import Image
except ImportError as error:  # transformers' remote-code check would say "pip install PIL"; the package is pillow
    raise ImportError("Pillow is not installed (pip install pillow)") from error

__all__ = ["SQUARE_MODES", "FramePreprocessor", "make_square"]

SQUARE_MODES = ("stretch", "pad")


def make_square(image: Image.Image, mode: str = "stretch", fill: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """``"stretch"``: resize to ``max(w, h)`` squared with Pillow's default filter (as the official code, which
    calls ``resize`` without a filter). ``"pad"``: centre the image on a ``fill``-coloured square."""
    width, height = image.size
    side = max(width, height)
    if width == height:
        return image
    if mode == "stretch":
        return image.resize((side, side))
    if mode == "pad":
        square = Image.new(image.mode, (side, side), fill)
        square.paste(image, ((side - width) // 2, (side - height) // 2))
        return square
    raise ValueError(f"square_mode must be one of {SQUARE_MODES}, got {mode!r}")


def mean_colour(image_processor) -> tuple[int, int, int]:
    """The padding colour of the official code: ``int(255 * mean)`` per channel."""
    return tuple(int(channel * 255) for channel in image_processor.image_mean)


class FramePreprocessor:
    """The pixel pipeline split into a per-frame step (``__call__``, thread-safe, can run while other frames are
    still decoding) and a batch step (:meth:`stack`).

    Default: ``__call__`` squares the frame and runs the CLIP image processor → ``(3, H, W)`` float32.
    ``fast=True``: ``__call__`` does one bicubic resize to the processor's resize size → ``(S, S, 3)`` uint8, and
    :meth:`stack` center-crops and normalizes the whole batch in torch.
    """

    def __init__(self, image_processor, square_mode: str = "stretch", fast: bool = False):
        if square_mode not in SQUARE_MODES:
            raise ValueError(f"square_mode must be one of {SQUARE_MODES}, got {square_mode!r}")
        self.image_processor = image_processor
        self.square_mode = square_mode
        self.fast = fast
        self.fill = mean_colour(image_processor)
        self.resize_side = _resize_side(image_processor) if fast else None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        image = Image.fromarray(frame)
        if self.fast:
            if self.square_mode == "pad":
                image = make_square(image, "pad", self.fill)
            side = self.resize_side
            return np.asarray(image.resize((side, side), Image.Resampling.BICUBIC))
        square = make_square(image, self.square_mode, self.fill)
        return self.image_processor(square, return_tensors="np")["pixel_values"][0]

    def stack(self, processed: Sequence[np.ndarray]) -> torch.Tensor:
        """``(n, 3, H, W)`` float32 from the per-frame outputs."""
        if not self.fast:
            return torch.from_numpy(np.stack(processed).astype(np.float32, copy=False))
        crop = self.image_processor.crop_size
        top, left = (self.resize_side - crop.height) // 2, (self.resize_side - crop.width) // 2
        pixels = torch.from_numpy(np.stack(processed)[:, top : top + crop.height, left : left + crop.width])
        mean = torch.tensor(self.image_processor.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(self.image_processor.image_std, dtype=torch.float32).view(1, 3, 1, 1)
        return (pixels.permute(0, 3, 1, 2).float() * float(self.image_processor.rescale_factor) - mean) / std

    def map(self, frames: Sequence[np.ndarray], max_workers: int | None = None) -> list[np.ndarray]:
        """The per-frame step over already-decoded frames, in a thread pool (Pillow releases the GIL)."""
        workers = max(1, min(len(frames), max_workers or os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(self, frames))


def _resize_side(image_processor) -> int:
    size = image_processor.size
    side = size.shortest_edge or (size.height if size.height == size.width else None)
    if not side:
        raise ValueError(
            f"the fast path needs a square resize (size.shortest_edge or equal height/width), the image processor has "
            f"size={size!r}"
        )
    return side
