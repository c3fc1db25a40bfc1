"""The describe loop: resume, shard across processes, decode in the background, generate in batches, record.

:func:`describe` is the Python API behind ``tarsier describe`` (and ``benchmarks/generate.py``): given a loaded
model and processor and the inputs, it describes every input not already in ``output``, appends one record per
input as soon as its batch is done, and returns a :class:`Summary` with the inputs that failed and why.

Several processes (``torchrun`` / ``accelerate launch`` set ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``): a gloo
process group (CPU, tiny messages, whatever device the model is on) coordinates them. The main process first folds
shard files left by an interrupted run into ``output``; then every rank reads the same ``output``, takes every
``world_size``-th input still to do, and appends to its own shard file; at the end the main process merges the
shards into ``output`` in input order and gathers every rank's failures.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import torch
from tqdm import tqdm

from .batching import Collator, DescribeDataset, Job, make_loader
from .generation import GenerationSettings, generate_batch
from .inputs import DescribeInput, input_key, instruction_for
from .records import RecordWriter, load_records, merge_into_output, record_key, shard_path

__all__ = ["DescribeOptions", "Distributed", "Summary", "as_describe_inputs", "describe"]


@dataclass(frozen=True)
class DescribeOptions:
    """``num_frames``: frames per video (``None``: the processor's default). ``prompt``: the instruction (``None``:
    the official default per media kind). ``batch_size``: inputs per ``generate`` call (left-padded). ``workers``:
    background decoding processes (0: decode in this process). ``model_name``: recorded in every record."""

    num_frames: int | None = None
    prompt: str | None = None
    batch_size: int = 1
    workers: int = 0
    video_backend: str = "auto"
    model_name: str = ""
    generation: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass
class Summary:
    """``described``: records written by this run (all ranks); ``skipped``: inputs already in the output;
    ``failed``: ``(path, error)`` of inputs that could not be described (all ranks on the main process);
    ``new_tokens`` and ``seconds`` of this process."""

    total: int = 0
    described: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    new_tokens: int = 0
    seconds: float = 0.0


class Distributed:
    """This process's place among ``torchrun`` / ``accelerate launch`` processes (one process: rank 0 of 1)."""

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0):
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank

    @classmethod
    def from_env(cls) -> Distributed:
        """Read ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` and, with several processes, join a gloo process group."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        import torch.distributed as dist

        if not dist.is_initialized():
            # Long timeout: the main process waits at the final barrier until the slowest rank is done.
            dist.init_process_group("gloo", timeout=timedelta(days=7))
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            torch.distributed.barrier()

    def gather(self, value) -> list:
        """Every rank's ``value`` (on every rank)."""
        if self.world_size == 1:
            return [value]
        values = [None] * self.world_size
        torch.distributed.all_gather_object(values, value)
        return values

    def close(self) -> None:
        if self.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def describe(
    model,
    processor,
    inputs: Sequence[DescribeInput | str | os.PathLike] | str | os.PathLike,
    options: DescribeOptions | None = None,
    output: str | os.PathLike | None = None,
    emit: Callable[[dict], None] | None = None,
    distributed: Distributed | None = None,
    progress: bool = True,
) -> Summary:
    """Describe ``inputs`` greedily; append one record per input to ``output`` (JSON lines, see
    :mod:`.records`) and/or pass it to ``emit``, in input order within this process.

    Inputs whose ``(path, instruction)`` already has a record in ``output`` are skipped. Inputs that fail to decode,
    or whose generation runs out of memory even alone, are listed in the summary; the others are still described.
    Several processes need ``output``. ``model`` must be in eval mode on its device(s).

    ``inputs`` are :class:`~.inputs.DescribeInput` (a path with an optional instruction of its own) or plain paths
    (``str`` / ``os.PathLike``); one path alone is one input. ``options`` default to ``DescribeOptions()``.

    Raises:
        TypeError: an input that is neither a path nor a ``DescribeInput``.
        ValueError: several processes without ``output``; a processor without a default number of frames.
    """
    inputs = as_describe_inputs(inputs)
    options = options or DescribeOptions()
    distributed = distributed or Distributed()
    if distributed.world_size > 1 and output is None:
        raise ValueError("several processes need an output file to merge their results into")
    num_frames = options.num_frames or getattr(processor, "num_frames", None)
    if not num_frames:
        raise ValueError(f"{type(processor).__name__} has no default num_frames: pass DescribeOptions(num_frames=...)")
    jobs = [Job(i, item.path, instruction_for(item, options.prompt)) for i, item in enumerate(inputs)]
    keys = [input_key(job.path, job.instruction) for job in jobs]

    done = set()
    if output is not None:
        if distributed.is_main:
            merge_into_output(output)  # shards of an interrupted run
        distributed.barrier()
        existing = load_records(output, repair=distributed.is_main)
        done = {record_key(record) for record in existing}
        if distributed.is_main:
            _warn_about_other_settings(existing, set(keys), options.model_name, num_frames, output)
    todo = [job for job, key in zip(jobs, keys) if key not in done]
    mine = todo[distributed.rank :: distributed.world_size]
    summary = Summary(total=len(jobs), skipped=len(jobs) - len(todo))

    writer = None
    if output is not None:
        writer = RecordWriter(output if distributed.world_size == 1 else shard_path(output, distributed.rank))
    start = time.perf_counter()
    failures: list[tuple[str, str]] = []
    bar = tqdm(
        total=len(mine),
        desc="Describing" if distributed.world_size == 1 else f"Describing (rank 0 of {distributed.world_size})",
        unit="input",
        disable=not progress or not distributed.is_main or len(mine) < 2,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    try:
        dataset = DescribeDataset(mine, processor, num_frames, options.video_backend)
        loader = make_loader(dataset, options.batch_size, options.workers, processor.tokenizer.pad_token_id)
        for batch in loader:
            failures.extend((item.job.path, item.error) for item in batch.failed)
            for item, text, count, seconds, size in _generate(model, processor.tokenizer, batch, options, failures):
                record = {
                    "path": item.job.path,
                    "description": text,
                    "prompt": item.job.instruction,
                    "frames": int(item.pixel_values.shape[0]),
                    "model": options.model_name,
                    "new_tokens": count,
                    "decode_s": round(item.decode_s, 4),
                    "generate_s": round(seconds, 4),
                    "batch_size": size,
                }
                if writer is not None:
                    writer.write(record)
                if emit is not None:
                    emit(record)
                summary.described += 1
                summary.new_tokens += count
            bar.update(len(batch.items) + len(batch.failed))
            elapsed = time.perf_counter() - start
            bar.set_postfix(failed=len(failures), tokens_per_s=f"{summary.new_tokens / max(elapsed, 1e-9):.1f}")
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    summary.seconds = time.perf_counter() - start

    if output is not None:
        distributed.barrier()
        if distributed.is_main:
            merge_into_output(output, order=keys)
    gathered = distributed.gather((summary.described, failures))
    summary.described = sum(count for count, _ in gathered)
    summary.failed = [failure for _, rank_failures in gathered for failure in rank_failures]
    return summary


def as_describe_inputs(inputs) -> list[DescribeInput]:
    """``inputs`` as :class:`~.inputs.DescribeInput` items: paths (``str`` / ``os.PathLike``) are wrapped, a single
    path becomes a list of one (a ``str`` is not taken as a sequence of one-letter paths)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    items = []
    for position, item in enumerate(inputs):
        if isinstance(item, DescribeInput):
            items.append(item)
        elif isinstance(item, (str, os.PathLike)):
            items.append(DescribeInput(os.fspath(item)))
        else:
            raise TypeError(
                f"inputs[{position}]: expected a path (str or os.PathLike) or a DescribeInput, got {type(item).__name__}"
            )
    return items


def _warn_about_other_settings(records, keys, model_name: str, num_frames: int, output) -> None:
    """Done inputs are skipped whatever settings made them; say so when those differ from this run's."""
    ours = [r for r in records if record_key(r) in keys]
    other_model = sum(1 for r in ours if r.get("model") != model_name)
    other_frames = sum(1 for r in ours if r.get("frames") not in (None, 1, num_frames))
    if other_model or other_frames:
        print(
            f"tarsier describe: warning: of the inputs already in {output}, {other_model} were described by another "
            f"model and {other_frames} with another number of frames; they are kept (use another --output to redo "
            "them)",
            file=sys.stderr,
        )


def _generate(model, tokenizer, batch, options: DescribeOptions, failures: list):
    """Yield ``(item, text, new_tokens, seconds, batch_size)`` for the decoded items of ``batch``. A batch that runs
    out of device memory is split in halves and retried; an input that does not fit alone is a failure."""
    if not batch.items:
        return
    try:
        texts, counts, seconds = generate_batch(model, tokenizer, batch, options.generation)
    except torch.OutOfMemoryError:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if len(batch.items) == 1:
            item = batch.items[0]
            failures.append((item.job.path, f"{item.job.path}: out of device memory even alone (try fewer --frames)"))
            return
        collate = Collator(tokenizer.pad_token_id)
        half = len(batch.items) // 2
        for part in (batch.items[:half], batch.items[half:]):
            yield from _generate(model, tokenizer, collate(part), options, failures)
        return
    for item, text, count in zip(batch.items, texts, counts):
        yield item, text, count, seconds, len(batch.items)
