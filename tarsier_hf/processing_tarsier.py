# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""TarsierProcessor: text + videos / GIFs / images → ``input_ids`` and ``pixel_values`` for Tarsier.

What it reproduces from the official pipeline (bytedance/tarsier ``dataset/processor.py``):

- every ``<video>`` placeholder becomes one ``<image>`` per sampled frame (8 by default, ``video_io``);
  with no placeholder in the text the frames go first (``"<image>...<image> " + text``);
- a text that is not already a ``USER: ... ASSISTANT:`` turn is wrapped as ``"USER: {text} ASSISTANT: "`` and the
  tokenizer adds BOS, so ``input_ids`` equal the official ones once image tokens are expanded;
- every ``<image>`` is expanded to ``rows * (cols + 1) + 1`` image-token ids (601 for 336 px / patch 14) — the
  positions the model fills with patch features, row newlines and the end-of-image embedding;
- pixels: stretch to a square (or pad with the mean colour), then the checkpoint's CLIP image processor
  (``image_processing_tarsier``).

The same prompt format ships as the processor's chat template, with ``{% generation %}`` around assistant turns.
"""

import json
import os
import re
from pathlib import Path

import numpy as np
import torch
from transformers import AutoImageProcessor, AutoTokenizer, CLIPVisionConfig
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ImagesKwargs, ProcessingKwargs, ProcessorMixin, VideosKwargs
from transformers.utils import cached_file

from .image_processing_tarsier import FramePreprocessor
from .video_io import (
    DEFAULT_NUM_FRAMES,
    MediaError,
    check_num_frames,
    frames_from_decoded,
    load_frames,
    map_frames,
    media_kind,
)

try:
    from PIL import Image
except ImportError as error:  # transformers' remote-code check would say "pip install PIL"; the package is pillow
    raise ImportError("Pillow is not installed (pip install pillow)") from error

__all__ = ["DEFAULT_CHAT_TEMPLATE", "TarsierProcessor"]

# Vicuna-v1 turns as the official code writes them (tools/conversation.py, dataset/processor.py): "USER: " + user
# text + " ", "ASSISTANT: " + answer + "</s>"; the generation prompt is "ASSISTANT: " (with the trailing space, as
# the official inference and benchmark code sends it). Content blocks are joined by a newline, except consecutive
# images/videos, so [video, text] renders "<video>\n{text}" like the official quick start.
DEFAULT_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}"
    "{%- set blocks = [{'type': 'text', 'text': message['content']}] -%}"
    "{%- else -%}{%- set blocks = message['content'] -%}{%- endif -%}"
    "{%- set ns = namespace(text='', previous='') -%}"
    "{%- for block in blocks -%}"
    "{%- set is_text = block['type'] == 'text' -%}"
    "{%- if ns.previous and (is_text or ns.previous == 'text') -%}{%- set ns.text = ns.text ~ '\n' -%}{%- endif -%}"
    "{%- if is_text -%}{%- set ns.text = ns.text ~ block['text'] -%}"
    "{%- else -%}{%- set ns.text = ns.text ~ '<' ~ block['type'] ~ '>' -%}{%- endif -%}"
    "{%- set ns.previous = 'text' if is_text else 'visual' -%}"
    "{%- endfor -%}"
    "{%- if message['role'] == 'system' -%}{{ ns.text ~ ' ' }}"
    "{%- elif message['role'] == 'user' -%}{{ 'USER: ' ~ ns.text ~ ' ' }}"
    "{%- elif message['role'] == 'assistant' -%}{{ 'ASSISTANT: ' }}"
    "{%- generation -%}{{ ns.text ~ eos_token }}{%- endgeneration -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'ASSISTANT: ' }}{%- endif -%}"
)

_VICUNA_TURN = re.compile(r"USER:(.*)ASSISTANT:(.*)", re.DOTALL)
_LEADING_USER = re.compile(r"\s*USER:\s*")


class TarsierImagesKwargs(ImagesKwargs, total=False):
    """``square_mode``: ``"stretch"`` (official default) or ``"pad"`` (mean colour). ``fast_resize``: one resize
    per frame straight to the model's size instead of the official two (see ``image_processing_tarsier``)."""

    square_mode: str | None
    fast_resize: bool | None


class TarsierVideosKwargs(VideosKwargs, total=False):
    """``start_time``/``end_time`` (seconds; one value for every video, or one per video) trim before sampling;
    ``video_backend`` is ``"auto"``, ``"decord"`` or ``"pyav"``."""

    start_time: int | float | list | None
    end_time: int | float | list | None
    video_backend: str | None


class TarsierProcessorKwargs(ProcessingKwargs, total=False):
    images_kwargs: TarsierImagesKwargs
    videos_kwargs: TarsierVideosKwargs
    wrap_prompt: bool


class TarsierProcessor(ProcessorMixin):
    r"""Tarsier processor: a CLIP image processor and a LLaMA tokenizer plus Tarsier's frame sampling, prompt format
    and image-token expansion.

    Args:
        image_processor: the checkpoint's CLIP image processor (loaded with the PIL backend, the official pixels).
        tokenizer: the checkpoint's tokenizer; it must know ``image_token``.
        patch_size (`int`): the vision tower's patch size; read from the checkpoint's ``config.json`` when loading
            a checkpoint that has no processor config (the official Hub repos).
        num_frames (`int`, defaults to 8): frames sampled from each video file.
        wrap_prompt (`bool`, defaults to `True`): wrap texts that are not ``USER: ... ASSISTANT:`` turns as
            ``"USER: {text} ASSISTANT: "``, as the official inference code does.
        image_token, video_token: the placeholders in the text.
        chat_template: Jinja template; defaults to the official Vicuna format (:data:`DEFAULT_CHAT_TEMPLATE`).

    Call with ``text`` and ``videos`` (paths, or decoded frames: a list of PIL images / an array ``(T, H, W, C)`` /
    a tensor) and/or ``images``. Per-call options: ``num_frames``, ``start_time``, ``end_time``, ``video_backend``,
    ``square_mode``, ``fast_resize``, ``wrap_prompt``, and the tokenizer's (``padding``, ``padding_side``,
    ``truncation``, ``max_length``, ``return_tensors``, ...).
    """

    valid_processor_kwargs = TarsierProcessorKwargs
    skip_tensor_conversion = ["text_replacement_offsets"]

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        patch_size: int | None = None,
        num_frames: int = DEFAULT_NUM_FRAMES,
        wrap_prompt: bool = True,
        image_token: str = "<image>",
        video_token: str = "<video>",
        chat_template: str | None = None,
        **kwargs,
    ):
        self.patch_size = patch_size
        self.num_frames = num_frames
        self.wrap_prompt = wrap_prompt
        self.image_token = image_token
        self.video_token = video_token
        super().__init__(image_processor, tokenizer, chat_template=chat_template or DEFAULT_CHAT_TEMPLATE, **kwargs)
        image_token_id = tokenizer.convert_tokens_to_ids(image_token)
        if image_token_id is None or image_token_id == tokenizer.unk_token_id:
            raise ValueError(
                f"The tokenizer has no {image_token!r} token; Tarsier's tokenizer adds it as a special token."
            )
        self.image_token_id = image_token_id

    # ------------------------------------------------------------------------------------------------- loading

    @classmethod
    def _get_arguments_from_pretrained(cls, pretrained_model_name_or_path, processor_dict=None, **kwargs):
        # The official pixels come from the CLIP processor's PIL backend; with torchvision installed
        # AutoImageProcessor would otherwise pick the torchvision one, whose bicubic differs.
        image_processor = AutoImageProcessor.from_pretrained(pretrained_model_name_or_path, backend="pil", **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs)
        return [image_processor, tokenizer]

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        processor = super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        if processor.patch_size is None:
            processor.patch_size = _patch_size_from_model_config(pretrained_model_name_or_path, kwargs)
        return processor

    # -------------------------------------------------------------------------------------------------- shapes

    @property
    def num_image_tokens(self) -> int:
        """Image-token ids per frame: ``rows * (cols + 1) + 1`` for the processed frame size."""
        if not self.patch_size:
            raise ValueError(
                "TarsierProcessor.patch_size is not set: pass patch_size= (the vision tower's, e.g. 14) or load the "
                "processor from a checkpoint folder whose config.json has vision_config.patch_size."
            )
        crop = self.image_processor.crop_size
        rows, cols = crop.height // self.patch_size, crop.width // self.patch_size
        return rows * (cols + 1) + 1

    # ---------------------------------------------------------------------------------------------------- call

    def __call__(self, images=None, text=None, videos=None, **kwargs) -> BatchFeature:
        """Returns ``input_ids`` / ``attention_mask`` (when ``text`` is given) and ``pixel_values`` ``(frames, 3, H,
        W)``, the frames in the order their placeholders appear in the batch."""
        if "num_frames" in kwargs and kwargs["num_frames"] is not None:
            check_num_frames(kwargs["num_frames"])
        kwargs.pop("do_sample_frames", None)  # sampling always happens for files; see `num_frames`
        merged = self._merge_kwargs(TarsierProcessorKwargs, tokenizer_init_kwargs=self.tokenizer.init_kwargs, **kwargs)
        text_kwargs, images_kwargs, videos_kwargs = (
            merged["text_kwargs"],
            merged["images_kwargs"],
            merged["videos_kwargs"],
        )
        return_tensors = text_kwargs.pop("return_tensors", None) or images_kwargs.get("return_tensors")
        for flag in ("return_mm_token_type_ids", "return_text_replacement_offsets"):  # processor-level, not tokenizer
            text_kwargs.pop(flag, None)

        image_items, image_groups = _normalize_images(images)
        video_items, video_groups = _normalize_videos(videos)
        preprocessor = FramePreprocessor(
            self.image_processor,
            square_mode=images_kwargs.get("square_mode") or "stretch",
            fast=bool(images_kwargs.get("fast_resize")),
        )
        start_times = _per_video(videos_kwargs.get("start_time"), len(video_items), "start_time")
        end_times = _per_video(videos_kwargs.get("end_time"), len(video_items), "end_time")

        def image_pixels(index: int) -> list:
            return preprocessor.map(self._image_frames(image_items[index], index))

        def video_pixels(index: int) -> list:
            return self._video_pixels(video_items[index], index, preprocessor, videos_kwargs, start_times, end_times)

        if text is None:
            processed = [p for i in range(len(image_items)) for p in image_pixels(i)]
            processed += [p for i in range(len(video_items)) for p in video_pixels(i)]
            if not processed:
                raise ValueError("TarsierProcessor needs text, images or videos.")
            data = {"pixel_values": preprocessor.stack(processed)}
            return BatchFeature(_tensor_layout(data, return_tensors), tensor_type=return_tensors)

        texts = [text] if isinstance(text, str) else list(text)
        if not all(isinstance(t, str) for t in texts):
            raise ValueError("`text` must be a string or a list of strings.")
        positions_per_frame = self.num_image_tokens  # raises before any decoding when patch_size is unknown
        texts = self._place_visuals(texts, image_items, image_groups, video_items, video_groups)
        if merged.get("wrap_prompt", self.wrap_prompt):
            texts = [t if _VICUNA_TURN.search(t) else f"USER: {t} ASSISTANT: " for t in texts]

        # Decode in text order so that pixel_values line up with the placeholders.
        placeholder = re.compile(f"{re.escape(self.image_token)}|{re.escape(self.video_token)}")
        next_image, next_video = iter(range(len(image_items))), iter(range(len(video_items)))
        processed, frames_per_placeholder = [], []
        for sample in texts:
            counts = []
            for match in placeholder.finditer(sample):
                is_image = match.group() == self.image_token
                pixels = image_pixels(next(next_image)) if is_image else video_pixels(next(next_video))
                processed.extend(pixels)
                counts.append(len(pixels))
            frames_per_placeholder.append(counts)

        expanded, replacement_offsets = self._expand(texts, placeholder, frames_per_placeholder, positions_per_frame)
        # The tokenizer's "sequence length is longer than the specified maximum" warning counts the expanded image
        # tokens (601 per frame, by design); lengths are checked where they matter (max_length, the model).
        text_inputs = self.tokenizer(expanded, **{**text_kwargs, "verbose": kwargs.get("verbose", False)})
        self._check_no_image_token_cut(
            text_inputs["input_ids"], frames_per_placeholder, positions_per_frame, text_kwargs.get("max_length")
        )

        data = dict(text_inputs)
        if processed:
            data["pixel_values"] = preprocessor.stack(processed)
        if merged.get("return_text_replacement_offsets"):
            data["text_replacement_offsets"] = replacement_offsets
        if merged.get("return_mm_token_type_ids"):
            data["mm_token_type_ids"] = self.create_mm_token_type_ids(data["input_ids"])
        return BatchFeature(
            _tensor_layout(data, return_tensors),
            tensor_type=return_tensors,
            skip_tensor_conversion=self.skip_tensor_conversion,
        )

    # ------------------------------------------------------------------------------------------------ helpers

    def _place_visuals(self, texts, image_items, image_groups, video_items, video_groups) -> list[str]:
        image_counts = [t.count(self.image_token) for t in texts]
        video_counts = [t.count(self.video_token) for t in texts]
        if not any(image_counts) and not any(video_counts) and (image_items or video_items):
            texts = self._frames_first(texts, image_items, image_groups, video_items, video_groups)
            image_counts = [t.count(self.image_token) for t in texts]
            video_counts = [t.count(self.video_token) for t in texts]
        problems = []
        for name, token, counts, items, groups in (
            ("image", self.image_token, image_counts, image_items, image_groups),
            ("video", self.video_token, video_counts, video_items, video_groups),
        ):
            if sum(counts) != len(items):
                problems.append(
                    f"the text has {sum(counts)} {token} placeholder(s) but {len(items)} {name}(s) were given"
                )
            elif groups is not None and [len(g) for g in groups] != counts:
                problems.append(
                    f"{token} placeholders per text {counts} do not match the {name}s given per text "
                    f"{[len(g) for g in groups]}"
                )
        if problems:
            raise ValueError(
                f"{'; '.join(problems)}. Give one image per {self.image_token} and one video per {self.video_token}."
            )
        return texts

    def _frames_first(self, texts, image_items, image_groups, video_items, video_groups) -> list[str]:
        """Official behaviour when the text has no placeholder: the visuals go first, then a space, then the text."""
        per_sample = []
        for name, items, groups in (("image", image_items, image_groups), ("video", video_items, video_groups)):
            if groups is not None:
                if len(groups) != len(texts):
                    raise ValueError(f"{len(groups)} groups of {name}s given for {len(texts)} texts.")
                per_sample.append([len(g) for g in groups])
            elif len(texts) == 1:
                per_sample.append([len(items)])
            elif len(items) in (0, len(texts)):
                per_sample.append([1 if items else 0] * len(texts))
            else:
                raise ValueError(
                    f"{len(items)} {name}s for {len(texts)} texts without {self.image_token}/{self.video_token} "
                    f"placeholders: put placeholders in the texts, or give one {name} (or one list of {name}s) per text."
                )
        placed = []
        for sample, n_images, n_videos in zip(texts, *per_sample):
            if n_images and n_videos:
                raise ValueError(
                    f"A text without placeholders got both images and videos; put {self.image_token} and "
                    f"{self.video_token} in the text to set their order."
                )
            visuals = self.image_token * n_images + self.video_token * n_videos
            if not visuals:
                placed.append(sample)
                continue
            user = _LEADING_USER.match(sample)
            if user and _VICUNA_TURN.search(sample):
                placed.append(f"USER: {visuals} {sample[user.end() :]}")
            else:
                placed.append(f"{visuals} {sample.strip()}")
        return placed

    def _image_frames(self, item, index) -> list[np.ndarray]:
        if isinstance(item, (str, os.PathLike)):
            if media_kind(item) != "image":
                raise MediaError(f"{item}: images= takes still images; pass videos and GIFs with videos=")
            return list(load_frames(item))
        frames = frames_from_decoded(item, source=f"image #{index}")
        if len(frames) != 1:
            raise MediaError(f"image #{index}: expected one image, got {len(frames)} frames (pass videos with videos=)")
        return frames

    def _video_pixels(self, item, index, preprocessor, videos_kwargs, start_times, end_times) -> list:
        """Per-frame preprocessed pixels of one video; for files, preprocessing overlaps decoding."""
        num_frames = videos_kwargs.get("num_frames")
        if isinstance(item, (str, os.PathLike)):
            return map_frames(
                preprocessor,
                item,
                num_frames or self.num_frames,
                start_time=start_times[index],
                end_time=end_times[index],
                backend=videos_kwargs.get("video_backend") or "auto",
            )
        return preprocessor.map(frames_from_decoded(item, num_frames, source=f"video #{index}"))

    def _expand(self, texts, placeholder, frames_per_placeholder, per_frame: int):
        """Replace each placeholder with ``frames x per_frame`` image tokens; also return where each replacement
        went (transformers' ``text_replacement_offsets`` format)."""
        expanded, offsets = [], []
        for sample, counts in zip(texts, frames_per_placeholder):
            pieces, sample_offsets, last, shift = [], [], 0, 0
            for match, count in zip(placeholder.finditer(sample), counts):
                start, end = match.span()
                replacement = self.image_token * (per_frame * count)
                pieces += [sample[last:start], replacement]
                kind = "image" if match.group() == self.image_token else "video"
                new_start = start + shift
                sample_offsets.append(
                    {
                        "type": kind,
                        "span": (start, end),
                        "new_span": (new_start, new_start + len(replacement)),
                        "text": match.group(),
                        "replacement": replacement,
                    }
                )
                shift += len(replacement) - (end - start)
                last = end
            pieces.append(sample[last:])
            expanded.append("".join(pieces))
            offsets.append(sample_offsets)
        return expanded, offsets

    def _check_no_image_token_cut(self, input_ids, frames_per_placeholder, per_frame: int, max_length) -> None:
        for index, (ids, counts) in enumerate(zip(input_ids, frames_per_placeholder)):
            expected = per_frame * sum(counts)
            found = sum(1 for token in ids if token == self.image_token_id)
            if found != expected:
                raise ValueError(
                    f"max_length={max_length} truncation would cut image tokens from text "
                    f"#{index}: its {sum(counts)} frame(s) need {expected} image-token positions "
                    f"({per_frame} per frame) but only {found} fit. Raise max_length or sample fewer frames."
                )


# ---------------------------------------------------------------------------------------------- module helpers


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike))


def _is_array(value) -> bool:
    return isinstance(value, (np.ndarray, torch.Tensor))


def _is_frame(value) -> bool:
    return isinstance(value, Image.Image) or (_is_array(value) and value.ndim in (2, 3))


def _normalize_images(images):
    """``(flat list of images, per-text groups or None)``. One image is a path, a PIL image or an (H, W, C) array."""
    if images is None:
        return [], None
    if _is_path(images) or _is_frame(images):
        return [images], None
    if _is_array(images) and images.ndim == 4:
        return list(images), None
    if isinstance(images, (list, tuple)):
        if all(_is_path(i) or _is_frame(i) for i in images):
            return list(images), None
        if all(isinstance(i, (list, tuple)) for i in images):
            groups = [_normalize_images(group)[0] for group in images]
            return [i for group in groups for i in group], groups
    raise ValueError(
        "images must be a path, PIL image or (H, W, C) array, a list of them, or one list of them per text; "
        f"got {type(images).__name__}"
    )


def _is_video(value) -> bool:
    """One video: a path, a (T, H, W, C)/(T, C, H, W) array or tensor, or a list of frames."""
    if _is_path(value):
        return True
    if _is_array(value):
        return value.ndim == 4
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(_is_frame(f) for f in value)


def _normalize_videos(videos):
    """``(flat list of videos, per-text groups or None)``."""
    if videos is None:
        return [], None
    if _is_video(videos):
        return [videos], None
    if _is_array(videos) and videos.ndim == 5:
        return list(videos), None
    if isinstance(videos, (list, tuple)):
        if all(_is_video(v) for v in videos):
            return list(videos), None
        if all(isinstance(v, (list, tuple)) and (len(v) == 0 or not _is_video(v)) for v in videos):
            groups = [_normalize_videos(group)[0] for group in videos]
            return [v for group in groups for v in group], groups
    raise ValueError(
        "videos must be a path, decoded frames (list of PIL images / arrays, or a (T, H, W, C) array or tensor), "
        f"a list of them, or one list of them per text; got {type(videos).__name__}"
    )


def _per_video(value, num_videos: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != num_videos:
            raise ValueError(f"{name} has {len(value)} values for {num_videos} videos")
        return list(value)
    return [value] * num_videos


def _tensor_layout(data: dict, return_tensors) -> dict:
    pixel_values = data.get("pixel_values")
    if pixel_values is not None and return_tensors != "pt":
        data["pixel_values"] = pixel_values.numpy()
    return data


def _patch_size_from_model_config(pretrained_model_name_or_path, kwargs) -> int | None:
    """``vision_config.patch_size`` from the checkpoint's ``config.json`` (official repos have no processor config)."""
    hub_kwargs = {
        key: kwargs[key]
        for key in ("cache_dir", "force_download", "local_files_only", "token", "revision", "subfolder")
        if key in kwargs
    }
    config_file = cached_file(
        pretrained_model_name_or_path, "config.json", _raise_exceptions_for_missing_entries=False, **hub_kwargs
    )
    if config_file is None:
        return None
    vision_config = json.loads(Path(config_file).read_text(encoding="utf-8")).get("vision_config") or {}
    # Configs saved with `to_diff_dict` omit values equal to CLIPVisionConfig's defaults.
    return vision_config.get("patch_size", CLIPVisionConfig().patch_size)
