"""Background decoding and left-padded batches for ``tarsier describe``.

:class:`DescribeDataset` turns one input into model inputs: its frames decoded once with
:func:`tarsier_hf.video_io.load_frames` and handed, already decoded, to the processor together with the prompt
(rendered with the processor's chat template). Run by DataLoader workers (:func:`make_loader`), decoding and
preprocessing of the next batches overlap generation of the current one. A file that cannot be decoded becomes an
item with an ``error`` instead of an exception, so one bad file never stops a run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset

from ..video_io import load_frames

__all__ = ["Batch", "Collator", "DescribeDataset", "Item", "Job", "make_loader", "render_prompt"]


@dataclass(frozen=True)
class Job:
    """One input to describe: its position in the run's input list, the file and the instruction."""

    index: int
    path: str
    instruction: str


@dataclass
class Item:
    """A decoded input: ``input_ids`` ``(L,)`` int64 and ``pixel_values`` ``(frames, 3, H, W)`` float32, or an
    ``error`` message naming the file and the problem."""

    job: Job
    input_ids: torch.Tensor | None = None
    pixel_values: torch.Tensor | None = None
    decode_s: float = 0.0
    error: str | None = None


@dataclass
class Batch:
    """Left-padded model inputs of the items that decoded (``input_ids``/``attention_mask`` ``(B, L)``,
    ``pixel_values`` ``(sum of frames, 3, H, W)``, frames in item order) and the items that failed."""

    items: list[Item] = field(default_factory=list)
    failed: list[Item] = field(default_factory=list)
    input_ids: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None
    pixel_values: torch.Tensor | None = None

    @property
    def frames(self) -> list[int]:
        return [item.pixel_values.shape[0] for item in self.items]


def render_prompt(processor, instruction: str) -> str:
    """The text of a one-video user turn with the generation prompt, from the processor's chat template (for
    Tarsier: ``"USER: <video>\\n{instruction} ASSISTANT: "``, the official quick start's prompt)."""
    conversation = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": instruction}]}]
    return processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)


class DescribeDataset(Dataset):
    """``jobs[i]`` → :class:`Item` (decoded once, preprocessed by ``processor``).

    Args:
        jobs: the inputs, in order.
        processor: a processor taking ``text=`` and already-decoded ``videos=`` (e.g. :class:`TarsierProcessor`).
        num_frames: frames sampled per video / GIF (still images are one frame).
        video_backend: ``"auto"``, ``"decord"`` or ``"pyav"`` (see :func:`tarsier_hf.video_io.load_frames`).
    """

    def __init__(self, jobs: list[Job], processor, num_frames: int, video_backend: str = "auto"):
        self.jobs = jobs
        self.processor = processor
        self.num_frames = num_frames
        self.video_backend = video_backend
        self._prompts: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int) -> Item:
        job = self.jobs[index]
        start = time.perf_counter()
        try:
            frames = load_frames(job.path, self.num_frames, backend=self.video_backend)
            text = self._prompts.get(job.instruction) or self._prompts.setdefault(
                job.instruction, render_prompt(self.processor, job.instruction)
            )
            encoded = self.processor(text=text, videos=[frames], return_tensors="pt")
        except Exception as error:  # noqa: BLE001 - one bad input must never stop the run; the error is reported
            message = str(error) if job.path in str(error) else f"{job.path}: {type(error).__name__}: {error}"
            return Item(job, error=message, decode_s=time.perf_counter() - start)
        return Item(
            job,
            input_ids=encoded["input_ids"][0],
            pixel_values=encoded["pixel_values"],
            decode_s=time.perf_counter() - start,
        )


class Collator:
    """Items → :class:`Batch`, left-padding ``input_ids`` with ``pad_token_id`` (generation continues every row at
    the same position)."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, items: list[Item]) -> Batch:
        batch = Batch(
            items=[i for i in items if i.error is None],
            failed=[i for i in items if i.error is not None],
        )
        if batch.items:
            length = max(len(item.input_ids) for item in batch.items)
            batch.input_ids = torch.full((len(batch.items), length), self.pad_token_id, dtype=torch.long)
            batch.attention_mask = torch.zeros((len(batch.items), length), dtype=torch.long)
            for row, item in enumerate(batch.items):
                batch.input_ids[row, length - len(item.input_ids) :] = item.input_ids
                batch.attention_mask[row, length - len(item.input_ids) :] = 1
            batch.pixel_values = torch.cat([item.pixel_values for item in batch.items])
        return batch


def make_loader(dataset: DescribeDataset, batch_size: int, workers: int, pad_token_id: int) -> DataLoader:
    """Batches in input order; with ``workers > 0`` decoding runs in that many background processes, two batches
    ahead per worker."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=Collator(pad_token_id),
        prefetch_factor=2 if workers > 0 else None,
    )
