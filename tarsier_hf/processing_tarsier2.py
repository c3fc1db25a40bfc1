# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Tarsier2Processor: text + videos / GIFs / images → ``input_ids``, ``pixel_values``, ``image_grid_thw``.

Each step reproduces the official pipeline (bytedance/tarsier, branch ``main``; defaults of
``configs/tarser2_default_config.yaml``):

1. Frames (``dataset/custom_data_parsers/utils.py::sample_video``, ``video_sampler_version: v1``): 16 frames, the
   first and the last included, evenly spread (``round(i * (T - 1) / (n - 1))``); a clip of at most ``n`` frames
   gives each frame once (:func:`tarsier_hf.video_io.sample_frame_indices_tarsier2`).
2. Duplication (``standard_vision_parser.py::VisionParser.load_video_item``, ``use_multi_images_for_video: true``):
   every frame is repeated (``[f0, f0, f1, f1, ...]``) so that with Qwen2-VL's temporal patch of 2 each frame is one
   temporal patch of its own: a video of ``n`` frames has ``image_grid_thw = (n, H/14, W/14)``. Patchifying a pair
   of identical frames is exactly what Qwen2-VL's image processor does to a single image (it broadcasts the frame
   over the temporal patch), so the frames are processed one by one as images and their patches concatenated —
   the same ``pixel_values``, row for row, as the official duplicate-then-video path (tested).
3. Pre-resize (``dataset/tarsier_processor.py::TarsierProcessor.resize2pixels`` with the budget of
   ``TarsierProcessor.__call__``): ``max_pixels = 460800`` per frame, lowered to ``max_pixels_per_sample //
   num_images`` (``128 * 384 * 384`` over the sample's images, a duplicated video frame counting twice) when that is
   smaller; the frame is resized with Pillow's default filter to ``smart_resize(h, w, factor=1)`` of that budget.
4. The checkpoint's Qwen2-VL image processor (PIL backend): resize to multiples of 28 within its own pixel range,
   rescale, normalize, patchify.
5. Prompt (``TarsierProcessor.__call__`` + ``dataset/utils.py::format_one_sample``): the chat template of the
   checkpoint, rendered on ``[user: [video, text], assistant: []]`` with ``strip_final_eos=True`` and each visual block
   carrying ``num_vision_tokens = t * h * w / 4``; visuals go before the text. With the default template (Qwen2-VL's
   format) that is ``<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n<|im_start|>user\\n
   <|vision_start|><|image_pad|>...<|vision_end|>{text}<|im_end|>\\n<|im_start|>assistant\\n``. Videos use the
   *image* token and ``image_grid_thw``, as in the official model.

Differences from the official code, documented: an input whose ``input_ids`` would exceed ``max_seq_len`` raises
(the official code silently truncates the text, or raises only when image tokens would be cut); trimming by time
uses ``tarsier_hf.video_io``'s frame rule (``int(fps * t)``, the official Tarsier2 code rounds).
"""

import os
import re

import numpy as np
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoTokenizer
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin

from .video_io import (
    MediaError,
    check_num_frames,
    frames_from_decoded,
    load_frames,
    media_kind,
    sample_frame_indices_tarsier2,
)

__all__ = ["DEFAULT_CHAT_TEMPLATE", "DEFAULT_NUM_FRAMES", "Tarsier2Processor", "pixel_budget_size"]

DEFAULT_NUM_FRAMES = 16
DEFAULT_MAX_PIXELS = 1280 * 720 // 2  # 460800, configs/tarser2_default_config.yaml
DEFAULT_MAX_PIXELS_PER_SAMPLE = 128 * 384 * 384  # dataset/tarsier_processor.py
DEFAULT_MAX_SEQ_LEN = 16384  # configs/tarser2_default_config.yaml

# Qwen2-VL's chat format on the official message structure: visual blocks carry `num_vision_tokens`; the inference
# prompt is a user turn then an empty assistant turn rendered with `strip_final_eos` (no <|im_end|> after it).
DEFAULT_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for content in message['content'] -%}"
    "{%- if content['type'] in ('image', 'video') -%}"
    "{{ '<|vision_start|>' + '<|image_pad|>' * content['num_vision_tokens'] + '<|vision_end|>' }}"
    "{%- elif content['type'] == 'text' -%}{{ content['text'] }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{%- if not (loop.last and strip_final_eos) -%}{{ '<|im_end|>\\n' }}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

_PLACEHOLDER = re.compile(r"<image>|<video>")


def pixel_budget_size(height: int, width: int, max_pixels: int, min_pixels: int = 0) -> tuple[int, int]:
    """``(height, width)`` of the official pre-resize: Qwen2-VL's ``smart_resize`` with ``factor=1`` as in
    transformers 4.47 (``dataset/tarsier_processor.py::resize2pixels``): unchanged inside ``[min_pixels,
    max_pixels]``, else scaled by ``sqrt`` of the pixel ratio, floored (down) or ceiled (up)."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"a {width}x{height} frame: the aspect ratio must be at most 200")
    if height * width > max_pixels:
        beta = (height * width / max_pixels) ** 0.5
        return int(height / beta), int(width / beta)
    if height * width < min_pixels:
        beta = (min_pixels / (height * width)) ** 0.5
        return -int(-height * beta // 1), -int(-width * beta // 1)
    return height, width


class Tarsier2Processor(ProcessorMixin):
    r"""Tarsier2 processor: the checkpoint's Qwen2-VL image processor and Qwen2 tokenizer plus the official frame
    sampling, duplication, pre-resize and prompt (see the module docstring).

    Args:
        image_processor: a Qwen2-VL image processor (loaded with the PIL backend).
        tokenizer: the checkpoint's tokenizer; it must know ``<|image_pad|>``, ``<|vision_start|>``, ``<|vision_end|>``.
        num_frames (`int`, defaults to 16): frames sampled from each video file.
        max_pixels (`int`, defaults to 460800), min_pixels (`int`, defaults to 0): the official per-frame budget.
        max_pixels_per_sample (`int`, defaults to 128*384*384): the official per-sample budget.
        max_seq_len (`int`, defaults to 16384): longest ``input_ids`` accepted.
        temporal_patch_size (`int`, defaults to 1): how many images a still image counts for in the per-sample
            budget (the official processor attribute of that name).
        chat_template: Jinja template; defaults to :data:`DEFAULT_CHAT_TEMPLATE`.

    Call with ``text`` (one instruction or a list; ``<video>``/``<image>`` placeholders place the visuals, else they
    go first) and ``videos`` (paths, or decoded frames: a list of PIL images / an array ``(T, H, W, C)``) and/or
    ``images``. A text already rendered by :meth:`apply_chat_template` is accepted as well. Per-call options:
    ``num_frames``, ``max_pixels``, ``min_pixels``, ``start_time``, ``end_time``, ``video_backend``, ``padding``,
    ``padding_side``, ``return_tensors``.
    """

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        num_frames: int = DEFAULT_NUM_FRAMES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        min_pixels: int = 0,
        max_pixels_per_sample: int = DEFAULT_MAX_PIXELS_PER_SAMPLE,
        max_seq_len: int = DEFAULT_MAX_SEQ_LEN,
        temporal_patch_size: int = 1,
        chat_template: str | None = None,
        **kwargs,
    ):
        check_num_frames(num_frames)
        self.num_frames = num_frames
        self.max_pixels, self.min_pixels = max_pixels, min_pixels
        self.max_pixels_per_sample = max_pixels_per_sample
        self.max_seq_len = max_seq_len
        self.temporal_patch_size = temporal_patch_size
        super().__init__(image_processor, tokenizer, chat_template=chat_template or DEFAULT_CHAT_TEMPLATE, **kwargs)
        ids = {
            token: tokenizer.convert_tokens_to_ids(token)
            for token in ("<|image_pad|>", "<|vision_start|>", "<|vision_end|>")
        }
        missing = [token for token, value in ids.items() if value is None or value == tokenizer.unk_token_id]
        if missing:
            raise ValueError(f"The tokenizer lacks {missing}; Tarsier2 uses Qwen2-VL's vision tokens.")
        self.image_token, self.image_token_id = "<|image_pad|>", ids["<|image_pad|>"]
        self._rendered_visual = re.compile(r"<\|vision_start\|>(?:<\|image_pad\|>)+<\|vision_end\|>")

    @classmethod
    def _get_arguments_from_pretrained(cls, pretrained_model_name_or_path, processor_dict=None, **kwargs):
        # The official pixels come from the PIL path (transformers 4.47's Qwen2VLImageProcessor was PIL/numpy).
        image_processor = AutoImageProcessor.from_pretrained(pretrained_model_name_or_path, backend="pil", **kwargs)
        # Left padding for batched generation, as the official loader (dataset/tarsier_datamodule.py::init_processor).
        tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **{"padding_side": "left", **kwargs})
        return [image_processor, tokenizer]

    @property
    def merge_length(self) -> int:
        return self.image_processor.merge_size**2

    # ------------------------------------------------------------------------------------------------ prompts

    def apply_chat_template(
        self, conversation, chat_template=None, tokenize=False, add_generation_prompt=True, **kwargs
    ) -> str:
        """Render chat messages (transformers' format, visual blocks ``{"type": "video"}``/``{"type": "image"}``)
        as the official inference prompt, each visual as one ``<|image_pad|>`` that :meth:`__call__` expands.
        ``add_generation_prompt`` appends the official empty assistant turn. Only ``tokenize=False``."""
        if tokenize:
            raise ValueError(
                "Tarsier2Processor.apply_chat_template renders text only; pass it to the processor "
                "with the visuals to get input_ids."
            )
        messages = [
            {
                "role": m["role"],
                "content": m["content"]
                if isinstance(m["content"], str)
                else [
                    {**block, "num_vision_tokens": 1} if block.get("type") in ("image", "video") else block
                    for block in m["content"]
                ],
            }
            for m in conversation
        ]
        return self._render(messages, add_generation_prompt, chat_template)

    def _render(self, messages, add_generation_prompt: bool = True, chat_template=None) -> str:
        if add_generation_prompt and messages[-1]["role"] != "assistant":
            messages = [*messages, {"role": "assistant", "content": []}]
        # The official inference call: no generation prompt, the final (empty) assistant turn without its EOS.
        strip_final_eos = messages[-1]["role"] == "assistant"
        return self.tokenizer.apply_chat_template(
            messages,
            chat_template=chat_template or self.chat_template,
            tokenize=False,
            add_generation_prompt=False,
            strip_final_eos=strip_final_eos,
        )

    def _user_blocks(self, text: str, kinds: list[str]) -> list[dict]:
        """``text`` with placeholders → official content blocks; without placeholders the visuals go first."""
        if not _PLACEHOLDER.search(text):
            return [{"type": kind} for kind in kinds] + [{"type": "text", "text": text}]
        # Newlines next to a placeholder are dropped: Tarsier's "<video>\n{text}" idiom becomes the official
        # [video, text] blocks, which have none (Qwen2-VL's format puts nothing between a visual and the text).
        blocks, last = [], 0
        for match in _PLACEHOLDER.finditer(text):
            if text[last : match.start()].strip("\n"):
                blocks.append({"type": "text", "text": text[last : match.start()].strip("\n")})
            blocks.append({"type": match.group()[1:-1]})
            last = match.end()
        if text[last:].strip("\n"):
            blocks.append({"type": "text", "text": text[last:].strip("\n")})
        return blocks

    # ---------------------------------------------------------------------------------------------------- call

    def __call__(self, images=None, text=None, videos=None, **kwargs) -> BatchFeature:
        """Returns ``input_ids``, ``attention_mask``, ``mm_token_type_ids`` (1 on image tokens) and, with visuals,
        ``pixel_values`` ``(sum t*h*w, 3*2*14*14)`` float32 and ``image_grid_thw`` ``(n_visuals, 3)`` in placeholder
        order over the batch.

        Raises:
            ValueError: placeholder/visual count mismatch, a bad pixel budget, a prompt longer than ``max_seq_len``.
            MediaError: an unreadable or empty video / image.
        """
        num_frames, max_pixels, min_pixels = (
            getattr(self, name) if (value := kwargs.pop(name, None)) is None else value
            for name in ("num_frames", "max_pixels", "min_pixels")
        )
        check_num_frames(num_frames)
        _check_budget(max_pixels, min_pixels)
        return_tensors = kwargs.pop("return_tensors", "pt")
        padding, padding_side = kwargs.pop("padding", True), kwargs.pop("padding_side", None)
        video_backend = kwargs.pop("video_backend", None) or "auto"
        start_times, end_times = kwargs.pop("start_time", None), kwargs.pop("end_time", None)
        kwargs.pop("do_sample_frames", None)
        if kwargs:
            raise TypeError(f"Tarsier2Processor got unknown arguments {sorted(kwargs)}")
        if text is None:
            raise ValueError("Tarsier2Processor needs text (the instruction), e.g. 'Describe the video in detail.'")

        texts = [text] if isinstance(text, str) else list(text)
        image_items = _as_list(images, "images")
        video_items = _as_list(videos, "videos")
        start_times = _per_video(start_times, len(video_items), "start_time")
        end_times = _per_video(end_times, len(video_items), "end_time")
        rendered = [bool(self._rendered_visual.search(t)) or "<|im_start|>" in t for t in texts]
        kinds_per_text = [self._visual_kinds(t, r) for t, r in zip(texts, rendered)]
        kinds_per_text = _place_without_placeholders(kinds_per_text, len(image_items), len(video_items))
        _check_counts(kinds_per_text, len(image_items), len(video_items))

        next_image, next_video = iter(range(len(image_items))), iter(range(len(video_items)))
        pixel_values, grids, prompts = [], [], []
        for sample, is_rendered, kinds in zip(texts, rendered, kinds_per_text):
            frames = []
            for kind in kinds:
                if kind == "image":
                    frames.append(self._image_frames(image_items[next(next_image)]))
                else:
                    index = next(next_video)
                    frames.append(
                        self._video_frames(
                            video_items[index], num_frames, start_times[index], end_times[index], video_backend, index
                        )
                    )
            # The official per-sample budget: a duplicated video frame counts twice, an image `temporal_patch_size`.
            num_images = sum(2 * len(f) if k == "video" else self.temporal_patch_size for k, f in zip(kinds, frames))
            budget_max, budget_min = max_pixels, min_pixels
            if num_images and self.max_pixels_per_sample // num_images < budget_max:
                budget_max = self.max_pixels_per_sample // num_images
                budget_min = min(budget_min, budget_max)
            counts = []
            for visual in frames:
                patches, grid = self._patchify(visual, budget_max, budget_min)
                pixel_values.append(patches)
                grids.append(grid)
                counts.append(int(np.prod(grid)) // self.merge_length)
            prompts.append(self._prompt(sample, is_rendered, kinds, counts))

        self._check_length(prompts)
        tokenizer_kwargs = {"padding": padding, "return_tensors": return_tensors, "add_special_tokens": False}
        if padding_side:
            tokenizer_kwargs["padding_side"] = padding_side
        data = dict(self.tokenizer(prompts, **tokenizer_kwargs))
        ids = data["input_ids"]
        data["mm_token_type_ids"] = (
            (ids == self.image_token_id).long()
            if isinstance(ids, torch.Tensor)
            else [[int(i == self.image_token_id) for i in row] for row in ids]
        )
        if pixel_values:
            data["pixel_values"] = torch.from_numpy(np.concatenate(pixel_values)).float()
            data["image_grid_thw"] = torch.tensor(grids, dtype=torch.long)
        return BatchFeature(data, tensor_type=return_tensors)

    # ------------------------------------------------------------------------------------------------ helpers

    def _visual_kinds(self, text: str, rendered: bool) -> list[str] | None:
        """Visual blocks of a text in order, ``None`` when it has no placeholder (visuals then go first)."""
        if rendered:
            found = self._rendered_visual.findall(text)
            return ["visual"] * len(found) if found else None
        found = _PLACEHOLDER.findall(text)
        return [token[1:-1] for token in found] if found else None

    def _prompt(self, sample: str, is_rendered: bool, kinds: list[str], counts: list[int]) -> str:
        if is_rendered:
            replacements = iter(counts)
            return self._rendered_visual.sub(
                lambda _: "<|vision_start|>" + self.image_token * next(replacements) + "<|vision_end|>", sample
            )
        blocks = self._user_blocks(sample, kinds)
        visual_counts = iter(counts)
        for block in blocks:
            if block["type"] in ("image", "video"):
                block["num_vision_tokens"] = next(visual_counts)
        return self._render([{"role": "user", "content": blocks}])

    def _image_frames(self, item) -> list[Image.Image]:
        if isinstance(item, (str, os.PathLike)):
            if media_kind(item) != "image":
                raise MediaError(f"{item}: images= takes still images; pass videos and GIFs with videos=")
            arrays = list(load_frames(item))
        else:
            arrays = frames_from_decoded(item, source="image")
        if len(arrays) != 1:
            raise MediaError(f"expected one image, got {len(arrays)} frames (pass videos with videos=)")
        return [Image.fromarray(arrays[0])]

    def _video_frames(self, item, num_frames, start_time, end_time, backend, index) -> list[Image.Image]:
        def sampler(total):
            return sample_frame_indices_tarsier2(total, num_frames)

        if isinstance(item, (str, os.PathLike)):
            arrays = load_frames(
                item, num_frames, start_time=start_time, end_time=end_time, sampler=sampler, backend=backend
            )
        else:
            arrays = frames_from_decoded(item, sampler=sampler, source=f"video #{index}")
        return [Image.fromarray(np.asarray(frame)) for frame in arrays]

    def _patchify(self, frames: list[Image.Image], max_pixels: int, min_pixels: int) -> tuple[np.ndarray, list]:
        """Pre-resize (official budget), then the Qwen2-VL image processor per frame. A video's frames are one
        visual of ``t = len(frames)`` temporal patches (each frame duplicated into its own patch)."""
        resized = []
        for frame in frames:
            width, height = frame.size
            new_height, new_width = pixel_budget_size(height, width, max_pixels, min_pixels)
            factor = self.image_processor.patch_size * self.image_processor.merge_size
            if min(new_height, new_width) < factor // 2:
                raise ValueError(
                    f"a {width}x{height} frame becomes {new_width}x{new_height} under a budget of {max_pixels} "
                    f"pixels, too small for Qwen2-VL's {factor}-pixel grid; raise max_pixels or sample fewer frames"
                )
            resized.append(frame.resize((new_width, new_height)))  # Pillow's default filter, as the official code
        out = self.image_processor(images=resized, return_tensors="np")
        grid = out["image_grid_thw"]
        if len({tuple(g) for g in grid.tolist()}) != 1:
            raise MediaError(f"the frames of one video have different sizes: grids {grid.tolist()}")
        return out["pixel_values"], [len(frames), int(grid[0][1]), int(grid[0][2])]

    def _check_length(self, prompts: list[str]) -> None:
        for index, prompt in enumerate(prompts):
            length = len(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
            if length > self.max_seq_len:
                raise ValueError(
                    f"text #{index} is {length} tokens long with its visual tokens, above max_seq_len="
                    f"{self.max_seq_len}: lower max_pixels, sample fewer frames, or raise max_seq_len"
                )


def _check_budget(max_pixels, min_pixels) -> None:
    for name, value in (("max_pixels", max_pixels), ("min_pixels", min_pixels)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0 (pixels per frame), got {value!r}")
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1 pixel per frame, got {max_pixels}")
    if min_pixels > max_pixels:
        raise ValueError(f"min_pixels={min_pixels} must not exceed max_pixels={max_pixels}")


def _as_list(items, name: str) -> list:
    if items is None:
        return []
    if isinstance(items, (str, os.PathLike, Image.Image)) or (
        isinstance(items, (np.ndarray, torch.Tensor)) and items.ndim in (3, 4) and name == "videos"
    ):
        return [items]
    if isinstance(items, (np.ndarray, torch.Tensor)) and name == "images" and items.ndim == 3:
        return [items]
    return list(items)


def _per_video(value, num_videos: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != num_videos:
            raise ValueError(f"{name} has {len(value)} values for {num_videos} videos")
        return list(value)
    return [value] * num_videos


def _place_without_placeholders(kinds_per_text, num_images: int, num_videos: int):
    """Texts without placeholders: one text takes every visual; several texts take one visual each."""
    if all(kinds is not None for kinds in kinds_per_text):
        return kinds_per_text
    if any(kinds is not None for kinds in kinds_per_text):
        raise ValueError("Either every text has <video>/<image> placeholders or none has.")
    if len(kinds_per_text) == 1:
        return [["image"] * num_images + ["video"] * num_videos]
    if num_images and num_videos:
        raise ValueError("Several texts without placeholders got both images and videos; use placeholders.")
    count, kind = (num_videos, "video") if num_videos else (num_images, "image")
    if count not in (0, len(kinds_per_text)):
        raise ValueError(
            f"{count} {kind}s for {len(kinds_per_text)} texts without placeholders: give one per text "
            "or put <video>/<image> placeholders in the texts."
        )
    return [[kind] * (1 if count else 0) for _ in kinds_per_text]


def _check_counts(kinds_per_text, num_images: int, num_videos: int) -> None:
    flat = [kind for kinds in kinds_per_text for kind in kinds]
    if "visual" in flat:  # rendered prompts: the visuals' order is images as given, then videos; counts must agree
        if len(flat) != num_images + num_videos:
            raise ValueError(
                f"the texts have {len(flat)} visual blocks but {num_images} image(s) and {num_videos} "
                "video(s) were given"
            )
        if num_images and num_videos:
            raise ValueError("rendered prompts with both images and videos are ambiguous; use placeholders")
        kind = "image" if num_images else "video"
        for kinds in kinds_per_text:
            kinds[:] = [kind] * len(kinds)
        return
    problems = []
    for kind, given in (("image", num_images), ("video", num_videos)):
        if flat.count(kind) != given:
            problems.append(f"the text has {flat.count(kind)} <{kind}> placeholder(s) but {given} {kind}(s) were given")
    if problems:
        raise ValueError("; ".join(problems) + ". Give one image per <image> and one video per <video>.")
