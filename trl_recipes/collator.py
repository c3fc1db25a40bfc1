# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Rows of :class:`trl_recipes.data.MixtureDataset` → a Tarsier training batch. Runs in the dataloader workers.

Per row: frames are sampled with a ``random.Random`` seeded from ``(seed, sample id, epoch)`` and decoded with
``tarsier_hf.video_io`` (video files, lists of frame files, images); the conversation is rendered with the
processor's chat template (Vicuna turns, ``{% generation %}`` around each assistant answer and its ``</s>``); the
processor expands every ``<image>`` to its image-token positions and turns frames into ``pixel_values``. Labels are
the tokens inside the generation spans; everything else is ``-100``.

A row longer than ``max_length`` is, with ``overlong="truncate"``, cut at ``max_length`` in its text only — if the
cut would fall inside (or before) the image tokens, or leave no label, the row is skipped; with ``overlong="skip"``
it is skipped. A row whose media cannot be read is skipped with a warning unless ``strict_data``. Skipped rows are
counted in ``batch["data_stats"]`` (the trainer pops it before the forward and logs it); a batch whose rows were all
skipped becomes a one-token batch without labels (zero loss, zero gradient).

Batch: ``input_ids``/``attention_mask``/``labels`` ``(B, L)`` int64, right-padded (pad id, 0, -100);
``pixel_values`` ``(sum of frames, 3, H, W)`` float32 in row order (absent when no row has visuals);
``data_stats``: ``{"skipped_media", "skipped_overlong", "truncated", "frames", "tokens", "label_tokens", "ids", "epochs"}``
(``ids``/``epochs``: sample id and epoch of each row kept).
"""

from __future__ import annotations

import logging
import re

import numpy as np
import torch
from transformers.utils.chat_template_utils import render_jinja_template

from tarsier_hf.video_io import MediaError, frames_from_decoded, load_frames

from .data import FrameSpec, sample_rng

__all__ = ["TarsierVideoCollator"]

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
_PLACEHOLDER = re.compile(r"<video>|<image>")


class TarsierVideoCollator:
    """Callable ``list[row] -> batch`` (see the module docstring).

    Args:
        processor: a :class:`tarsier_hf.TarsierProcessor` (its tokenizer, image processor and chat template).
        max_length: token limit per row, image tokens included (``None``: no limit).
        overlong: ``"truncate"`` (text only) or ``"skip"``.
        strict_data: raise on unreadable media instead of skipping the row.
        video_backend: ``video_io`` backend (``"auto"``, ``"decord"``, ``"pyav"``).
    """

    def __init__(
        self,
        processor,
        max_length: int | None = None,
        overlong: str = "truncate",
        strict_data: bool = False,
        video_backend: str = "auto",
    ):
        if overlong not in ("truncate", "skip"):
            raise ValueError(f"overlong must be 'truncate' or 'skip', got {overlong!r}")
        self.processor = processor
        self.max_length = max_length
        self.overlong = overlong
        self.strict_data = strict_data
        self.video_backend = video_backend
        self.pad_token_id = processor.tokenizer.pad_token_id
        self.image_token_id = processor.image_token_id

    # ------------------------------------------------------------------------------------------------ batch

    def __call__(self, rows: list[dict]) -> dict:
        stats = {
            "skipped_media": 0,
            "skipped_overlong": 0,
            "truncated": 0,
            "frames": 0,
            "tokens": 0,
            "label_tokens": 0,
            "ids": [],
            "epochs": [],
        }
        samples = []
        for row in rows:
            try:
                frames = self._frames(row)
            except (MediaError, OSError) as error:
                if self.strict_data:
                    raise
                logger.warning("skipping sample %s: %s", row.get("id"), error)
                stats["skipped_media"] += 1
                continue
            sample = self.encode(row, frames)
            if sample is None:
                stats["skipped_overlong"] += 1
                continue
            stats["truncated"] += int(sample.pop("truncated"))
            stats["frames"] += 0 if sample.get("pixel_values") is None else len(sample["pixel_values"])
            samples.append(sample)
            stats["ids"].append(row.get("id"))
            stats["epochs"].append(row.get("epoch", 0))
        batch = self._pad(samples)
        stats["tokens"] = int(batch["attention_mask"].sum())
        stats["label_tokens"] = int((batch["labels"] != IGNORE_INDEX).sum())
        batch["data_stats"] = stats
        return batch

    def _pad(self, samples: list[dict]) -> dict:
        if not samples:  # every row skipped: one BOS token, nothing to learn
            bos = self.processor.tokenizer.bos_token_id
            return {
                "input_ids": torch.tensor([[bos]]),
                "attention_mask": torch.ones(1, 1, dtype=torch.long),
                "labels": torch.full((1, 1), IGNORE_INDEX),
            }
        length = max(len(s["input_ids"]) for s in samples)
        input_ids = torch.full((len(samples), length), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(samples), length), dtype=torch.long)
        labels = torch.full((len(samples), length), IGNORE_INDEX, dtype=torch.long)
        for i, sample in enumerate(samples):
            n = len(sample["input_ids"])
            input_ids[i, :n] = sample["input_ids"]
            attention_mask[i, :n] = 1
            labels[i, :n] = sample["labels"]
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "labels": labels,
        }
        pixels = [s["pixel_values"] for s in samples if s.get("pixel_values") is not None]
        if pixels:
            batch["pixel_values"] = torch.cat(pixels)
        return batch

    # ------------------------------------------------------------------------------------------------ media

    def _frames(self, row: dict) -> dict:
        """``{"video": (n, H, W, 3) uint8 | None, "images": [(H, W, 3) uint8, ...]}``."""
        spec = row.get("frames") or FrameSpec()
        rng = sample_rng(row.get("seed", 0), row["id"], row.get("epoch", 0))
        video = row.get("video")
        decoded = None
        if isinstance(video, str):
            decoded = load_frames(
                video,
                start_time=row.get("start"),
                end_time=row.get("end"),
                sampler=spec.sampler_fn(rng),
                backend=self.video_backend,
            )
        elif isinstance(video, list) and video and isinstance(video[0], str):  # frame files of one video
            indices = spec.sampler_fn(rng)(len(video))
            decoded = np.stack([load_frames(video[i])[0] for i in indices])
        elif video is not None:  # decoded frames (e.g. a Hub dataset with an image-list feature)
            decoded = np.stack(frames_from_decoded(video, sampler=spec.sampler_fn(rng), source=str(row["id"])))
        images = []
        for image in row.get("images") or []:
            images.append(load_frames(image)[0] if isinstance(image, str) else frames_from_decoded(image)[0])
        return {"video": decoded, "images": images}

    # ------------------------------------------------------------------------------------------------- text

    def _messages(self, row: dict, frames: dict) -> list[dict]:
        """Normalise contents to block lists; put visuals without a placeholder before the first user text."""
        messages = [dict(m) for m in row["messages"]]
        if not messages or not any(m.get("role") == "assistant" for m in messages):
            raise ValueError(f"sample {row.get('id')!r}: messages need at least one assistant turn")
        placeholders = []
        for message in messages:
            content = message.get("content")
            if isinstance(content, str):
                blocks, last = [], 0
                for match in _PLACEHOLDER.finditer(content):
                    if content[last : match.start()].strip():
                        blocks.append(
                            {
                                "type": "text",
                                "text": content[last : match.start()].strip(),
                            }
                        )
                    blocks.append({"type": match.group()[1:-1]})
                    last = match.end()
                if content[last:].strip() or not blocks:
                    blocks.append({"type": "text", "text": content[last:].strip()})
                message["content"] = blocks
            placeholders += [b["type"] for b in message["content"] if b.get("type") in ("video", "image")]
        wanted = (["video"] if frames["video"] is not None else []) + ["image"] * len(frames["images"])
        if not placeholders and wanted:
            first_user = next(m for m in messages if m.get("role") == "user")
            first_user["content"] = [{"type": kind} for kind in wanted] + list(first_user["content"])
        elif sorted(placeholders) != sorted(wanted):
            raise ValueError(
                f"sample {row.get('id')!r}: the messages have placeholders {placeholders} but the row gives "
                f"{len(wanted) - len(frames['images'])} video(s) and {len(frames['images'])} image(s)"
            )
        return messages

    def encode(self, row: dict, frames: dict) -> dict | None:
        """One row → ``{"input_ids", "labels", "pixel_values", "truncated"}`` (1-D tensors), or ``None`` when it
        must be skipped for length."""
        processor = self.processor
        messages = self._messages(row, frames)
        rendered, generation = render_jinja_template(
            conversations=[messages],
            chat_template=processor.chat_template,
            return_assistant_tokens_mask=True,
            **processor.tokenizer.special_tokens_map,
        )
        text, spans = rendered[0], generation[0]
        # The processor takes the frames in placeholder order: a video as a (n, H, W, 3) array, images one by one.
        order = [m.group() for m in _PLACEHOLDER.finditer(text)]
        images = list(frames["images"])
        encoded = processor(
            text=text,
            videos=[frames["video"]] if "<video>" in order else None,
            images=images or None,
            return_offsets_mapping=True,
            return_text_replacement_offsets=True,
            wrap_prompt=False,
            return_tensors="pt",
        )
        input_ids = encoded["input_ids"][0]
        offsets = encoded["offset_mapping"][0].tolist()
        spans = [_shift_span(span, encoded["text_replacement_offsets"][0]) for span in spans]
        labels = torch.full_like(input_ids, IGNORE_INDEX)
        for position, (start, end) in enumerate(offsets):
            if end > start and any(start < span_end and end > span_start for span_start, span_end in spans):
                labels[position] = input_ids[position]
        truncated = False
        if self.max_length is not None and len(input_ids) > self.max_length:
            image_positions = (input_ids == self.image_token_id).nonzero()
            last_image = int(image_positions.max()) if len(image_positions) else -1
            if self.overlong == "skip" or last_image >= self.max_length:
                return None
            input_ids, labels = input_ids[: self.max_length], labels[: self.max_length]
            truncated = True
        if not (labels != IGNORE_INDEX).any():
            return None
        return {
            "input_ids": input_ids,
            "labels": labels,
            "pixel_values": encoded.get("pixel_values"),
            "truncated": truncated,
        }


def _shift_span(span: tuple[int, int], replacements: list[dict]) -> tuple[int, int]:
    """Map a character span of the rendered text to the text after placeholder expansion."""
    start, end = span
    shift_start = shift_end = 0
    for rep in replacements:
        old_start, old_end = rep["span"]
        delta = (rep["new_span"][1] - rep["new_span"][0]) - (old_end - old_start)
        if old_end <= start:
            shift_start += delta
        if old_end <= end:
            shift_end += delta
    return start + shift_start, end + shift_end
