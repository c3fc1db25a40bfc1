"""Greedy generation for one left-padded batch, with the vision tower run in bounded chunks.

The frames of a batch (``batch_size x frames`` of them) go through the vision tower ``vision_chunk`` frames at a
time (:func:`encode_frames`), so its activation memory stays bounded whatever the batch size; the features are
handed to ``generate`` as ``mm_encoder_outputs`` (transformers' pre-encoded multimodal input), which is what
``generate`` itself would compute from ``pixel_values`` in one piece.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from transformers.modeling_outputs import BaseModelOutputWithPooling

__all__ = ["GenerationSettings", "encode_frames", "generate_batch"]


@dataclass(frozen=True)
class GenerationSettings:
    """``max_new_tokens``: tokens generated per input at most. ``vision_chunk``: frames per vision-tower call.
    ``static_cache``: a static KV cache (with it transformers compiles the decoding step on CUDA: ``--compile``)."""

    max_new_tokens: int = 512
    vision_chunk: int = 32
    static_cache: bool = False


def encode_frames(model, pixel_values: torch.Tensor, chunk: int) -> BaseModelOutputWithPooling:
    """``pixel_values`` ``(frames, 3, H, W)`` → ``pooler_output``: one ``(positions_per_frame, hidden)`` tensor per
    frame, computed ``chunk`` frames at a time."""
    features = []
    with torch.inference_mode():
        for part in pixel_values.split(chunk):
            output = model.get_image_features(pixel_values=part.to(model.device), return_dict=True)
            features.extend(output.pooler_output)
    return BaseModelOutputWithPooling(pooler_output=features)


def generate_batch(model, tokenizer, batch, settings: GenerationSettings) -> tuple[list[str], list[int], float]:
    """Greedy descriptions of the decoded items of ``batch`` (:class:`~.batching.Batch`): ``(texts, new token
    counts, seconds)``; ``seconds`` covers vision encoding and generation."""
    start = time.perf_counter()
    device = model.device
    options = {"cache_implementation": "static"} if settings.static_cache else {}
    with torch.inference_mode():
        image_outputs = encode_frames(model, batch.pixel_values, settings.vision_chunk)
        output = model.generate(
            input_ids=batch.input_ids.to(device),
            attention_mask=batch.attention_mask.to(device),
            mm_encoder_outputs={"image": image_outputs},
            max_new_tokens=settings.max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            **options,
        )
    generated = output[:, batch.input_ids.shape[1] :].cpu()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    texts = [t.strip() for t in tokenizer.batch_decode(generated, skip_special_tokens=True)]
    counts = _new_token_counts(generated, model.generation_config.eos_token_id)
    return texts, counts, seconds


def _new_token_counts(generated: torch.Tensor, eos_token_id) -> list[int]:
    """Tokens each row generated, up to and including its first end-of-sequence token (rows that stop early are
    padded afterwards)."""
    eos = set([eos_token_id] if isinstance(eos_token_id, int) else (eos_token_id or []))
    counts = []
    for row in generated.tolist():
        count = 0
        for token in row:
            count += 1
            if token in eos:
                break
        counts.append(count)
    return counts
