"""Tarsier as an lmms-eval model: ``--model tarsier`` (chat messages; ``--force_simple`` for the simple class).

    lmms-eval --model tarsier \\
        --model_args pretrained=omni-research/Tarsier-7b,num_frames=8,dtype=bfloat16 \\
        --tasks dream1k --batch_size 4 --output_path results/

``--model_args`` (all optional):

- ``pretrained`` (``omni-research/Tarsier-7b``), ``revision``: checkpoint, official Hub layout or this package's.
- ``num_frames`` (the family's default: 8 for Tarsier, 16 for Tarsier2): frames sampled uniformly from each video,
  first and last included (``tarsier_hf.video_io``). The family is detected from the checkpoint's config.
- ``max_new_tokens``: when given, overrides the task's ``max_new_tokens`` (dream1k asks for 512, the released
  evaluation's value); otherwise the task's value, else 512.
- ``dtype`` (``auto``: bf16 on GPUs that have it, fp16 on other GPUs, fp32 on CPU), ``device_map`` (e.g. ``auto`` to spread one model over several GPUs in
  one process), ``attn_implementation`` (default: ``flash_attention_2`` when installed on CUDA, else ``sdpa``): see
  ``tarsier_hf.loading.load_tarsier``.
- ``video_backend`` (``auto``: decord where its random access is exact, PyAV otherwise; see ``tarsier_hf.video_io``),
  ``square_mode`` (``stretch``, the official resize, or ``pad``).

``--batch_size N`` batches N requests (left padding); ``--device`` picks the device of a single process. Under
``accelerate launch -m lmms_eval ...`` every process loads the model on its own GPU and lmms-eval gives each a
shard of the documents.

Generation is greedy unless the task or ``--gen_kwargs`` asks for ``do_sample``/``temperature > 0``. The prompt is
the official one: ``USER: <video>\\n{task text} ASSISTANT: ``, every ``<video>`` expanded to one ``<image>`` per frame.
A task text that already is one ``USER: ... ASSISTANT: ...`` turn (the ``tarsier_*`` zero-shot tasks send Tarsier's
released prompts, e.g. ending ``ASSISTANT: Answer: (``) is used unchanged by Tarsier (Tarsier2 always gets its
chat template). A document with a ``num_frames`` field
(EgoSchema: 16) is read with that many frames instead of the model's ``num_frames``.
Stop strings (``until``) cut the decoded text, except ``"\\n\\n"``, which lmms-eval adds to every task that sets
none and which would cut a multi-paragraph description (lmms-eval's own Qwen2.5-VL plugin drops it too).
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from accelerate import Accelerator
from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms
from lmms_eval.protocol import ChatMessages
from loguru import logger as eval_logger
from PIL import Image
from tqdm import tqdm

from lmms_tasks import failed_generation, run_protocol
from tarsier_hf.loading import load_tarsier, model_family
from tarsier_hf.model_source import ModelSourceError, check_model_source
from tarsier_hf.video_io import media_kind

DEFAULT_PRETRAINED = "omni-research/Tarsier-7b"
DEFAULT_MAX_NEW_TOKENS = 512
LMMS_EVAL_DEFAULT_STOP = "\n\n"
FRAME_SAMPLING = "uniform over the clip: frame round(i * (T - 1) / (n - 1)) for i = 0..n-1"
PROMPT_FORMATS = {
    "tarsier": "USER: <video>\\n{text} ASSISTANT: ",
    "tarsier2": "checkpoint chat template on [user: [video, text], assistant: []] (Qwen2-VL format)",
}
_GENERATION_KEYS = ("temperature", "top_p", "top_k", "num_beams", "repetition_penalty")
_PLACEHOLDERS = re.compile(r"<image>|<video>")
_VICUNA_TURN = re.compile(r"\s*USER:.*ASSISTANT:", re.DOTALL)


@dataclass
class _Prompt:
    """One request as the processor takes it: chat messages with visual placeholders, and the visuals in order."""

    messages: list[dict]
    images: list = field(default_factory=list)
    videos: list = field(default_factory=list)
    start_times: list = field(default_factory=list)
    end_times: list = field(default_factory=list)
    text: str | None = None  # a task's own ``USER: ... ASSISTANT: ...`` prompt, used instead of the chat template
    num_frames: int | None = None  # the task's frame count for this document (its ``num_frames`` field)


class Tarsier(lmms):
    """Simple lmms-eval model: the task's text and ``doc_to_visual`` media, visuals first (see module docstring)."""

    is_simple = True

    def __init__(
        self,
        pretrained: str = DEFAULT_PRETRAINED,
        revision: str | None = None,
        num_frames: int | str | None = None,
        max_new_tokens: int | str | None = None,
        dtype: str = "auto",
        device: str | None = None,
        device_map: str | None = None,
        attn_implementation: str | None = None,
        video_backend: str = "auto",
        square_mode: str = "stretch",
        batch_size: int | str = 1,
        max_batch_size: int | str | None = None,
    ) -> None:
        super().__init__()
        self.num_frames = None if num_frames in (None, "", "None") else _positive_int(num_frames, "num_frames")
        self.max_new_tokens = (
            None if max_new_tokens in (None, "", "None") else _positive_int(max_new_tokens, "max_new_tokens")
        )
        self.batch_size_per_gpu = _batch_size(batch_size)
        self.video_backend = video_backend
        self.square_mode = square_mode

        accelerator = Accelerator()
        self._rank, self._world_size = accelerator.process_index, accelerator.num_processes
        if self._world_size == 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            # torchrun without GPUs: accelerate sets up no process group, lmms-eval does (from these variables).
            self._rank, self._world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        if self._world_size > 1 and device_map:
            raise ValueError(
                "tarsier: device_map spreads one model over several GPUs in one process; under accelerate launch "
                "every process holds its own copy, so leave device_map out (or run one process with device_map=auto)"
            )
        if accelerator.num_processes > 1:
            self._device = accelerator.device
        else:
            self._device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.accelerator = accelerator

        # The same check as `tarsier describe`: "folder not found" for a path that does not exist, one short Hub
        # request (or the local cache) for a Hub id; a ModelSourceError (ValueError) naming the model otherwise.
        try:
            source = check_model_source(pretrained, revision)
        except ModelSourceError as error:
            raise ModelSourceError(f"tarsier: cannot load the model: {error}") from None
        self._model, self.processor = load_tarsier(
            source,
            device=str(self._device),
            dtype=dtype,
            attn_implementation=attn_implementation or None,
            device_map=device_map or None,
            revision=revision if source == pretrained else None,  # a cached snapshot folder is that revision
            num_frames=self.num_frames,
        )
        self._tokenizer = self.processor.tokenizer
        self.num_frames = self.processor.num_frames  # the family's default unless num_frames was given
        self.family = model_family(self._model.config.to_dict())
        run_protocol.report_model_settings(
            model="tarsier",
            family=self.family,
            pretrained=pretrained,
            revision=revision,
            num_frames=self.num_frames,
            frame_sampling=FRAME_SAMPLING,
            square_mode=square_mode if self.family == "tarsier" else None,
            dtype=str(self._model.dtype).removeprefix("torch."),
            max_new_tokens=self.max_new_tokens,
            prompt_format=PROMPT_FORMATS[self.family],
        )
        if self.rank == 0:
            eval_logger.info(
                f"tarsier: {pretrained} on {self._model.device} ({self._model.dtype}), {self.num_frames} frames, "
                f"batch size {self.batch_size_per_gpu}, {self.world_size} process(es)"
            )

    # lmms-eval reads these.
    @property
    def model(self):
        return self._model

    @property
    def tokenizer(self):
        return self._tokenizer

    @property
    def batch_size(self) -> int:
        return self.batch_size_per_gpu

    @property
    def device(self):
        return self._device

    @property
    def eot_token_id(self) -> int:
        return self._tokenizer.eos_token_id

    # ------------------------------------------------------------------------------------------------ requests

    def generate_until(self, requests: list[Instance]) -> list[str]:
        def prompt_of(args) -> _Prompt:
            context, _, doc_to_visual, doc_id, task, split = args
            doc = self.task_dict[task][split][doc_id]
            return _with_task_settings(_simple_prompt(context, doc_to_visual(doc) or []), doc, context)

        return self._generate_requests(requests, prompt_of, gen_kwargs_index=1)

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError(
            "tarsier answers generation tasks (output_type: generate_until) only, not loglikelihood tasks"
        )

    def generate_until_multi_round(self, requests) -> list[str]:
        raise NotImplementedError("tarsier does not support multi-round generation tasks")

    def _generate_requests(self, requests: list[Instance], prompt_of, gen_kwargs_index: int) -> list[str]:
        """Answers in request order. A request whose input cannot be used (missing, corrupt or unsupported media, a
        prompt that does not fit) gets :func:`lmms_tasks.failed_generation.mark` of the reason instead of ending
        the run; the task lists it as failed, and a summary names every such request."""
        outputs: list[str | None] = [None] * len(requests)
        failures: dict[int, str] = {}
        progress = tqdm(total=len(requests), disable=self.rank != 0, desc="Model Responding")
        for indices in _batches([request.args for request in requests], gen_kwargs_index, self.batch_size_per_gpu):
            gen_kwargs = requests[indices[0]].args[gen_kwargs_index] or {}
            prompts = {}
            for index in indices:
                try:
                    prompts[index] = prompt_of(requests[index].args)
                except _INPUT_ERRORS as error:
                    failures[index] = _describe(error)
            answers = self._generate_isolating_failures(prompts, gen_kwargs, failures)
            for index, text in answers.items():
                outputs[index] = text
                self.cache_hook.add_partial("generate_until", (requests[index].args[0], gen_kwargs), text)
            for index in indices:
                if index in failures:
                    outputs[index] = failed_generation.mark(failures[index])
            progress.update(len(indices))
        progress.close()
        if failures:
            _log_failures(requests, failures)
        return outputs

    def _generate_isolating_failures(self, prompts: dict[int, _Prompt], gen_kwargs: dict, failures: dict) -> dict:
        """Generate a batch; when an input of it is unusable, generate its requests one by one so that only the
        bad ones fail (their reasons go into ``failures``)."""
        if not prompts:
            return {}
        try:
            return dict(zip(prompts, self._generate(list(prompts.values()), gen_kwargs)))
        except _INPUT_ERRORS as error:
            if len(prompts) == 1:
                failures[next(iter(prompts))] = _describe(error)
                return {}
        answers = {}
        for index, prompt in prompts.items():
            answers.update(self._generate_isolating_failures({index: prompt}, gen_kwargs, failures))
        return answers

    @torch.inference_mode()
    def _generate(self, prompts: list[_Prompt], gen_kwargs: dict) -> list[str]:
        frame_counts = {p.num_frames or self.num_frames for p in prompts}
        if len(frame_counts) > 1:  # documents asking for different frame counts: one processor call per count
            outputs = {}
            for count in frame_counts:
                group = [i for i, p in enumerate(prompts) if (p.num_frames or self.num_frames) == count]
                outputs.update(zip(group, self._generate([prompts[i] for i in group], gen_kwargs)))
            return [outputs[i] for i in range(len(prompts))]
        num_frames = frame_counts.pop()
        texts = [
            p.text
            if p.text is not None and self.family == "tarsier"  # a Vicuna turn means nothing to Tarsier2's template
            else self.processor.apply_chat_template(p.messages, tokenize=False, add_generation_prompt=True)
            for p in prompts
        ]
        images = [image for p in prompts for image in p.images]
        videos = [video for p in prompts for video in p.videos]
        inputs = self.processor(
            text=texts,
            images=images or None,
            videos=videos or None,
            num_frames=num_frames,
            start_time=[t for p in prompts for t in p.start_times] if videos else None,
            end_time=[t for p in prompts for t in p.end_times] if videos else None,
            video_backend=self.video_backend,
            **({"square_mode": self.square_mode} if self.family == "tarsier" else {}),
            padding=True,
            padding_side="left",
            return_tensors="pt",
        )
        inputs = inputs.to(self._model.device)
        generated = self._model.generate(**inputs, **self._generation_settings(gen_kwargs))
        new_tokens = generated[:, inputs["input_ids"].shape[1] :]
        decoded = self._tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [_cut_at_stops(text, _stop_strings(gen_kwargs)).strip() for text in decoded]

    def _generation_settings(self, gen_kwargs: dict) -> dict:
        settings = {
            "max_new_tokens": self.max_new_tokens or int(gen_kwargs.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS),
            "pad_token_id": self._tokenizer.pad_token_id
            if self._tokenizer.pad_token_id is not None
            else self.eot_token_id,
            "eos_token_id": self.eot_token_id,
        }
        temperature = float(gen_kwargs.get("temperature") or 0)
        settings["do_sample"] = bool(gen_kwargs.get("do_sample", False)) or temperature > 0
        if settings["do_sample"]:
            settings.update({key: gen_kwargs[key] for key in _GENERATION_KEYS if gen_kwargs.get(key) is not None})
        else:
            settings["num_beams"] = int(gen_kwargs.get("num_beams") or 1)
            # Greedy: leave out the checkpoint's sampling defaults so that transformers does not warn about them.
            settings.update(temperature=None, top_p=None, top_k=None)
        return settings


class TarsierChat(Tarsier):
    """Chat lmms-eval model (the default for ``--model tarsier``): the task's messages through Tarsier's chat template."""

    is_simple = False

    def generate_until(self, requests: list[Instance]) -> list[str]:
        def prompt_of(args) -> _Prompt:
            _, doc_to_messages, _, doc_id, task, split = args
            doc = self.task_dict[task][split][doc_id]
            return _with_task_settings(_chat_prompt(ChatMessages(messages=doc_to_messages(doc))), doc)

        return self._generate_requests(requests, prompt_of, gen_kwargs_index=2)


# Problems of one request's input: a missing file (FileNotFoundError, e.g. from a task's doc_to_visual), media that
# cannot be decoded (MediaError, a ValueError), a prompt longer than allowed (ValueError from the processor).
_INPUT_ERRORS = (OSError, ValueError)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _log_failures(requests: list[Instance], failures: dict[int, str]) -> None:
    listed = "\n".join(
        f"  {requests[index].args[-2]} doc {requests[index].args[-3]}: {reason}"
        for index, reason in sorted(failures.items())
    )
    eval_logger.warning(
        f"tarsier: {len(failures)} of {len(requests)} requests could not be answered; they are kept in the "
        f"results as failed (not scored) and the run went on:\n{listed}"
    )


def _simple_prompt(context: str, visuals) -> _Prompt:
    """Visuals first, then the task text (from which LLaVA-style placeholders are dropped), as one user turn."""
    prompt = _Prompt(messages=[])
    content = []
    for visual in visuals if isinstance(visuals, (list, tuple)) else [visuals]:
        content.append(_add_visual(prompt, visual, start=None, end=None))
    content.append({"type": "text", "text": _PLACEHOLDERS.sub("", context).strip()})
    prompt.messages = [{"role": "user", "content": content}]
    return prompt


def _with_task_settings(prompt: _Prompt, doc, context: str | None = None) -> _Prompt:
    """A task's own settings: a prompt that already is one ``USER: ... ASSISTANT: ...`` turn (Tarsier's released
    benchmark prompts, e.g. ending ``ASSISTANT: Answer: (``) is passed to the processor unchanged, its ``<video>``
    placeholders taking the document's videos in order; a document's ``num_frames`` field sets its frame count."""
    texts = (
        [context]
        if context is not None
        else [item["text"] for message in prompt.messages for item in message["content"] if item.get("type") == "text"]
    )
    if len(prompt.messages) == 1 and len(texts) == 1 and _VICUNA_TURN.match(texts[0]):
        prompt.text = texts[0]
    frames = doc.get("num_frames") if isinstance(doc, dict) else None
    if frames not in (None, ""):
        prompt.num_frames = _positive_int(frames, "the document's num_frames")
    return prompt


def _chat_prompt(chat: ChatMessages) -> _Prompt:
    prompt = _Prompt(messages=[])
    for message in chat.messages:
        content = []
        for item in message.content:
            if item.type == "text":
                content.append({"type": "text", "text": item.text})
            elif item.type in ("image", "video"):
                start, end = (item.start_time, item.end_time) if item.type == "video" else (None, None)
                content.append(_add_visual(prompt, item.url, start=start, end=end, declared=item.type))
            else:
                raise ValueError(f"tarsier reads text, images and videos; the task sent {item.type!r} content")
        prompt.messages.append({"role": message.role, "content": content})
    return prompt


def _add_visual(prompt: _Prompt, visual, *, start, end, declared: str | None = None) -> dict:
    """Adds ``visual`` to the prompt's images or videos and returns its chat-template block.

    A path's kind is the one the chat message declares, else its extension's (GIFs are videos)."""
    if isinstance(visual, Image.Image):
        prompt.images.append(visual.convert("RGB"))
        return {"type": "image"}
    if not isinstance(visual, str):
        raise TypeError(f"tarsier takes visuals as file paths or PIL images, got {type(visual).__name__}")
    kind = media_kind(visual)  # raises a clear error for an extension it cannot read
    if (declared or ("image" if kind == "image" else "video")) == "image":
        prompt.images.append(visual)
        return {"type": "image"}
    prompt.videos.append(visual)
    prompt.start_times.append(start)
    prompt.end_times.append(end)
    return {"type": "video"}


def _batches(arguments: list[tuple], gen_kwargs_index: int, batch_size: int) -> list[list[int]]:
    """Request indices in batches of at most ``batch_size`` that share task, split and generation settings."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, args in enumerate(arguments):
        key = json.dumps([args[-2], args[-1], args[gen_kwargs_index]], sort_keys=True, default=str)
        groups[key].append(index)
    return [indices[i : i + batch_size] for indices in groups.values() for i in range(0, len(indices), batch_size)]


def _stop_strings(gen_kwargs: dict) -> list[str]:
    until = gen_kwargs.get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    return [stop for stop in until if stop and stop != LMMS_EVAL_DEFAULT_STOP]


def _cut_at_stops(text: str, stops: list[str]) -> str:
    for stop in stops:
        text = text.split(stop, 1)[0]
    return text


def _positive_int(value, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"tarsier: {name} must be a positive integer, got {value!r}") from None
    if number < 1:
        raise ValueError(f"tarsier: {name} must be a positive integer, got {value!r}")
    return number


def _batch_size(value) -> int:
    if isinstance(value, str) and value.strip().startswith("auto"):
        raise ValueError("tarsier: --batch_size auto is not supported; give the number of requests per batch")
    return _positive_int(value, "batch_size")
