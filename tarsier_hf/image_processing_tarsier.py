# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Frames → ``pixel_values`` as Tarsier was trained, without torchvision.

Default path (the official pixels): each frame is made square — stretched to ``max(w, h)`` with Pillow's default
resize filter, or padded with the CLIP mean colour — then run through the checkpoint's CLIP image processor (its
PIL backend, ``CLIPImageProcessorPil``: bicubic resize of the shortest edge, center crop, rescale, normalize).
Frames are processed in a thread pool (Pillow releases the GIL), which changes no pixel.

Fast path (opt-in): one Pillow bicubic resize per frame straight to the processor's resize size, then the crop and
the normalization on the whole batch in torch. Skipping the intermediate ``max(w, h)`` square changes a pixel by at
most about one grey level (``benchmarks/processor.py`` measures it; ``tests/test_processing_tarsier.py`` bounds it).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

__all__ = ["SQUARE_MODES", "make_square", "official_pixel_values", "fast_pixel_values"]

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


def _workers(num_frames: int, max_workers: int | None) -> int:
    return max(1, min(num_frames, max_workers or os.cpu_count() or 1))


def official_pixel_values(
    frames: Sequence[np.ndarray], image_processor, square_mode: str = "stretch", max_workers: int | None = None
) -> torch.Tensor:
    """``(n, 3, H, W)`` float32: square each ``(h, w, 3)`` uint8 frame, then the CLIP image processor."""
    if square_mode not in SQUARE_MODES:
        raise ValueError(f"square_mode must be one of {SQUARE_MODES}, got {square_mode!r}")
    fill = mean_colour(image_processor)

    def process(frame: np.ndarray) -> np.ndarray:
        square = make_square(Image.fromarray(frame), square_mode, fill)
        return image_processor(square, return_tensors="np")["pixel_values"][0]

    with ThreadPoolExecutor(_workers(len(frames), max_workers)) as pool:
        processed = list(pool.map(process, frames))
    return torch.from_numpy(np.stack(processed).astype(np.float32, copy=False))


def fast_pixel_values(
    frames: Sequence[np.ndarray], image_processor, square_mode: str = "stretch", max_workers: int | None = None
) -> torch.Tensor:
    """``(n, 3, H, W)`` float32 approximating :func:`official_pixel_values` with one resize per frame."""
    if square_mode not in SQUARE_MODES:
        raise ValueError(f"square_mode must be one of {SQUARE_MODES}, got {square_mode!r}")
    resize_side = _resize_side(image_processor)
    crop_height, crop_width = image_processor.crop_size.height, image_processor.crop_size.width
    fill = mean_colour(image_processor)

    def resize(frame: np.ndarray) -> np.ndarray:
        image = Image.fromarray(frame)
        if square_mode == "pad":
            image = make_square(image, "pad", fill)
        return np.asarray(image.resize((resize_side, resize_side), Image.Resampling.BICUBIC))

    with ThreadPoolExecutor(_workers(len(frames), max_workers)) as pool:
        resized = np.stack(list(pool.map(resize, frames)))
    top, left = (resize_side - crop_height) // 2, (resize_side - crop_width) // 2
    pixels = torch.from_numpy(resized[:, top : top + crop_height, left : left + crop_width]).permute(0, 3, 1, 2)
    mean = torch.tensor(image_processor.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(image_processor.image_std, dtype=torch.float32).view(1, 3, 1, 1)
    return (pixels.float() * float(image_processor.rescale_factor) - mean) / std


def _resize_side(image_processor) -> int:
    size = image_processor.size
    side = size.shortest_edge or (size.height if size.height == size.width else None)
    if not side:
        raise ValueError(
            f"the fast path needs a square resize (size.shortest_edge or equal height/width), the image processor has "
            f"size={dict(size.items()) if hasattr(size, 'items') else size}"
        )
    return side
