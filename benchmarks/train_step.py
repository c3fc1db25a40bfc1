# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Throughput of one Tarsier stage-2 training step (forward + backward + AdamW), per process.

    python benchmarks/train_step.py                       # CPU: tiny random model
    python benchmarks/train_step.py --model 7b --frames 8 # GPU: randomly initialised Tarsier-7B shape, bf16

The step is the recipe's: CLIP-ViT and projector frozen (run under no_grad), every LLM layer, the final norm, the
embeddings and ``lm_head`` trained, gradient checkpointing on (``--no-checkpointing`` to turn it off), SDPA
attention. A synthetic batch holds ``--frames`` frames per sample (601 positions each at 336 px) and
``--text-tokens`` text tokens, labels on the last ``--answer-tokens``. The 7B run keeps weights and AdamW state in
bf16 (no fp32 master copy), so it fits on one 80+ GB GPU.

Printed: samples/s, tokens/s, peak memory, and MFU = estimated FLOPs (``trl_recipes.metrics.step_flops``) / time /
the GPU's dense bf16 peak (``--peak-tflops`` to set it; no MFU on CPU). Baseline measured in the same run: a
text-only step of the same sequence length (no frames), so the ratio shows what the frozen vision tower costs.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from tarsier_hf import TarsierConfig, TarsierForConditionalGeneration
from tarsier_hf.testing import tiny_config
from trl_recipes.metrics import peak_tflops, step_flops
from trl_recipes.model_setup import configure_trainable


def build_model(kind: str, device: str, dtype: torch.dtype):
    config = tiny_config() if kind == "tiny" else TarsierConfig()  # TarsierConfig() is the Tarsier-7B shape
    config._attn_implementation = "sdpa"
    config.text_config._attn_implementation = "sdpa"
    config.vision_config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = TarsierForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    return model.train()


def make_batch(config, frames: int, text_tokens: int, answer_tokens: int, batch: int, device: str):
    per_frame = config.num_positions_per_frame
    side = config.vision_config.image_size
    vocab = config.image_token_index  # ordinary text ids lie below the special ids
    image = torch.full((batch, per_frame * frames), config.image_token_index)
    text = torch.randint(3, vocab, (batch, text_tokens))
    input_ids = torch.cat([text[:, :4], image, text[:, 4:]], dim=1).to(device)
    labels = torch.full_like(input_ids, -100)
    labels[:, -answer_tokens:] = input_ids[:, -answer_tokens:]
    inputs = {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "labels": labels,
    }
    if frames:
        inputs["pixel_values"] = torch.randn(batch * frames, 3, side, side, device=device)
    return inputs


def measure(model, optimizer, inputs, steps: int, warmup: int, device: str) -> float:
    """Mean seconds per step over ``steps`` after ``warmup`` steps."""

    def step():
        loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def peak_memory_gib(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB → GiB (process RSS)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        choices=["auto", "tiny", "7b"],
        default="auto",
        help="auto: 7b on a GPU, tiny on CPU",
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--text-tokens", type=int, default=192)
    parser.add_argument("--answer-tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=1, help="samples per process per step")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--no-checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=None)
    args = parser.parse_args(argv)

    kind = args.model if args.model != "auto" else ("7b" if args.device.startswith("cuda") else "tiny")
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    model = build_model(kind, args.device, dtype)
    configure_trainable(model)
    if not args.no_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        trainable,
        lr=2e-5,
        betas=(0.9, 0.999),
        eps=1e-6,
        weight_decay=0.01,
        fused=args.device.startswith("cuda"),
    )
    peak = args.peak_tflops or peak_tflops(args.device)
    config = model.config
    print(
        f"model={kind} device={args.device} dtype={dtype} frames={args.frames} batch={args.batch} "
        f"checkpointing={not args.no_checkpointing} trainable={sum(p.numel() for p in trainable) / 1e6:.1f}M "
        f"peak_bf16_tflops={peak}"
    )

    video = make_batch(
        config,
        args.frames,
        args.text_tokens,
        args.answer_tokens,
        args.batch,
        args.device,
    )
    seq_len = video["input_ids"].shape[1]
    text_only = make_batch(config, 0, seq_len, args.answer_tokens, args.batch, args.device)
    results = {}
    for name, inputs, frames in (
        ("text-only (baseline)", text_only, 0),
        ("stage-2 video", video, args.frames),
    ):
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        seconds = measure(model, optimizer, inputs, args.steps, args.warmup, args.device)
        tokens = args.batch * seq_len
        flops = step_flops(model, tokens, seq_len, args.batch * frames)
        line = (
            f"{name:22s} seq_len={seq_len} step={seconds * 1000:.1f} ms  samples/s={args.batch / seconds:.2f}  "
            f"tokens/s={tokens / seconds:.0f}  peak_mem={peak_memory_gib(args.device):.2f} GiB"
        )
        if peak:
            line += (
                f"  MFU={flops['total'] / seconds / (peak * 1e12):.1%}"
                f"  MFU_llm={flops['llm'] / seconds / (peak * 1e12):.1%}"
            )
        print(line)
        results[name] = seconds
    print(f"video step / text-only step time: {results['stage-2 video'] / results['text-only (baseline)']:.2f}x")


if __name__ == "__main__":
    main()
