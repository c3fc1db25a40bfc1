"""Generation speed of Tarsier: prefill and decode at batch 1, 4 and 8 against stock LLaVA of the same shape, the
hardware bounds, and end-to-end videos/s of ``tarsier describe``.

Both models are randomly initialised (no download): ``TarsierForConditionalGeneration`` and a stock
``LlavaForConditionalGeneration`` built from the same vision / text configs and given the *same weights* (the
parameter names are LLaVA's), so the ratio is Tarsier's overhead: the per-row newline and per-frame end-of-image
positions (601 instead of 576 LLM positions per 336 px frame: 1.043x more prefill work) and their construction.

For each batch size (in the same run, interleaved, medians of ``--repeats``):

- prefill: ``generate`` of one token (vision encoding + one forward over the prompt), in seconds;
- decode: ``(t(N tokens) - t(1 token)) / (N - 1)`` per step, as tokens/s over the batch (``min_new_tokens`` forces
  N steps whatever the random weights emit);
- the bounds, with the fraction of each reached: decode step >= (LLM weight bytes + KV-cache bytes read) / memory
  bandwidth, prefill >= FLOPs / matmul peak; peaks from the GPU's data sheet (H200/H100/A100 known) or given
  (``--hbm-tbs``, ``--bf16-tflops``, also on CPU); on CUDA also measured here (a large device copy, an 8192^3 bf16
  matmul);
- end to end: videos/s of :func:`tarsier_hf.describe.runner.describe` (what ``tarsier describe`` runs) on generated
  320x240 clips at ``--batch-size 1`` and ``8`` (decoding in background workers).

Shapes: ``small`` (CPU default: 112 px CLIP with 8x8 patches, a 4-layer 256-wide LLaMA) and ``7b`` (CUDA default:
CLIP-ViT-L/14-336 + LLaMA-7B, bf16, as Tarsier-7B). ``--text-layers`` / ``--vision-layers`` shrink the depth for a
smoke run of the 7b widths.

    python benchmarks/generate.py                          # CPU, small shape
    python benchmarks/generate.py --shape 7b --device cuda # GPU (about 3 minutes on an H200)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
from transformers import LlavaConfig, LlavaForConditionalGeneration

from tarsier_hf.configuration_tarsier import TarsierConfig
from tarsier_hf.describe.generation import GenerationSettings
from tarsier_hf.describe.inputs import DescribeInput
from tarsier_hf.describe.runner import DescribeOptions, describe
from tarsier_hf.modeling_tarsier import TarsierForConditionalGeneration
from tarsier_hf.processing_tarsier import TarsierProcessor
from tarsier_hf.testing import (
    TINY_IMAGE_NEW_ID,
    TINY_IMAGE_NEWLINE_ID,
    TINY_IMAGE_TOKEN_ID,
    TINY_PAD_TOKEN_ID,
    build_tiny_tokenizer,
    clip_preprocessor_config,
)

# Data-sheet peaks (dense bf16 tensor-core FLOP/s, HBM bytes/s) by device-name fragment.
KNOWN_GPUS = {"H200": (989e12, 4.8e12), "H100": (989e12, 3.35e12), "A100": (312e12, 2.039e12)}

SHAPES = {
    "small": {
        "vision": {
            "hidden_size": 128,
            "intermediate_size": 512,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "image_size": 112,
            "patch_size": 14,
        },
        "text": {
            "hidden_size": 256,
            "intermediate_size": 688,
            "num_hidden_layers": 4,
            "num_attention_heads": 8,
            "num_key_value_heads": 8,
            "vocab_size": 384,
        },
    },
    "7b": {
        "vision": {
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "image_size": 336,
            "patch_size": 14,
            "projection_dim": 768,
        },
        "text": {
            "hidden_size": 4096,
            "intermediate_size": 11008,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 32,
            "vocab_size": 32064,
        },
    },
}


def build_configs(shape: str, text_layers: int | None, vision_layers: int | None) -> tuple[TarsierConfig, LlavaConfig]:
    vision = {"model_type": "clip_vision_model", "hidden_act": "quick_gelu", **SHAPES[shape]["vision"]}
    text = {
        "model_type": "llama",
        "max_position_embeddings": 8192,
        "rms_norm_eps": 1e-5,
        "pad_token_id": TINY_PAD_TOKEN_ID,
        "bos_token_id": 1,
        "eos_token_id": 2,
        **SHAPES[shape]["text"],
    }
    if text_layers:
        text["num_hidden_layers"] = text_layers
    if vision_layers:
        vision["num_hidden_layers"] = vision_layers
    # The tiny tokenizer's special ids (all inside every vocabulary here) stand in for Tarsier's 32000-32003.
    common = {
        "image_token_index": TINY_IMAGE_TOKEN_ID,
        "pad_token_id": TINY_PAD_TOKEN_ID,
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default",
        "projector_hidden_act": "gelu",
    }
    tarsier = TarsierConfig(
        vision_config=vision,
        text_config=text,
        image_newline_idx=TINY_IMAGE_NEWLINE_ID,
        image_new_idx=TINY_IMAGE_NEW_ID,
        **common,
    )
    llava = LlavaConfig(vision_config=vision, text_config=text, **common)
    return tarsier, llava


def build_models(tarsier_config, llava_config, device: str, dtype: torch.dtype, attn: str):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        torch.manual_seed(0)
        with torch.device(device):
            tarsier = TarsierForConditionalGeneration._from_config(tarsier_config, attn_implementation=attn)
            llava = LlavaForConditionalGeneration._from_config(llava_config, attn_implementation=attn)
    finally:
        torch.set_default_dtype(previous)
    missing, unexpected = llava.load_state_dict(tarsier.state_dict(), strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    return tarsier.eval(), llava.eval()


def positions_per_frame(config, tarsier: bool) -> int:
    side = config.vision_config.image_size // config.vision_config.patch_size
    return side * (side + 1) + 1 if tarsier else side * side


def make_inputs(config, batch: int, frames: int, tarsier: bool, device: str, dtype) -> dict:
    """``batch`` prompts of ``frames`` frames each: BOS, 8 text tokens, the image tokens, 12 text tokens."""
    image = [TINY_IMAGE_TOKEN_ID] * (frames * positions_per_frame(config, tarsier))
    row = [1, *range(40, 48), *image, *range(60, 72)]
    size = config.vision_config.image_size
    return {
        "input_ids": torch.tensor([row] * batch, device=device),
        "attention_mask": torch.ones(batch, len(row), dtype=torch.long, device=device),
        "pixel_values": torch.randn(batch * frames, 3, size, size, device=device, dtype=dtype),
    }


def timed_generate(model, inputs: dict, new_tokens: int, static_cache: bool) -> float:
    options = {"cache_implementation": "static"} if static_cache else {}
    sync(inputs["input_ids"].device)
    start = time.perf_counter()
    with torch.inference_mode():
        model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=TINY_PAD_TOKEN_ID,
            **options,
        )
    sync(inputs["input_ids"].device)
    return time.perf_counter() - start


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def llm_params(model) -> int:
    text = model.model.language_model
    return sum(p.numel() for p in text.parameters()) + model.lm_head.weight.numel()


def decode_bytes(config, model, batch: int, context: int, bytes_per_value: int) -> float:
    """Bytes a decode step must read: every LLM weight once (embedding rows aside) and the KV cache of the batch."""
    text = config.text_config
    head_dim = text.hidden_size // text.num_attention_heads
    embedding = model.model.language_model.embed_tokens.weight.numel()
    kv = 2 * text.num_hidden_layers * text.num_key_value_heads * head_dim * context * batch
    return (llm_params(model) - embedding + kv) * bytes_per_value


def prefill_flops(config, model, batch: int, frames: int, tokens: int) -> float:
    """2 x parameters x tokens for the LLM (lm_head on the last position only) and the vision tower, plus causal
    attention (2 x 2 x layers x hidden x tokens^2 / 2)."""
    text = config.text_config
    embedding = model.model.language_model.embed_tokens.weight.numel()
    llm_matmul = llm_params(model) - embedding - model.lm_head.weight.numel()
    vision = sum(p.numel() for p in model.model.vision_tower.parameters())
    vision += sum(p.numel() for p in model.model.multi_modal_projector.parameters())
    patches = (config.vision_config.image_size // config.vision_config.patch_size) ** 2 + 1
    attention = 2 * text.num_hidden_layers * text.hidden_size * tokens * tokens
    return batch * (2 * llm_matmul * tokens + attention) + 2 * vision * patches * frames * batch


def measured_peaks(device: str) -> tuple[float, float]:
    """(bf16 matmul FLOP/s, device copy bytes/s) measured now."""
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    x = torch.empty(2 * 1024**3 // 2, device=device, dtype=torch.bfloat16)
    y = torch.empty_like(x)
    for _ in range(3):
        a @ b
        y.copy_(x)
    sync(device)
    start = time.perf_counter()
    for _ in range(20):
        a @ b
    sync(device)
    flops = 20 * 2 * 8192**3 / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(20):
        y.copy_(x)
    sync(device)
    bandwidth = 20 * 2 * x.numel() * 2 / (time.perf_counter() - start)
    del a, b, x, y
    return flops, bandwidth


def write_clip(path: Path, seed: int, seconds: int = 5, fps: int = 24) -> Path:
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        base = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
        for i in range(seconds * fps):
            frame = np.roll(base, 4 * i, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def build_processor(config: TarsierConfig, folder: Path) -> TarsierProcessor:
    config.save_pretrained(folder)
    build_tiny_tokenizer().save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(
        json.dumps(clip_preprocessor_config(config.vision_config.image_size))
    )
    return TarsierProcessor.from_pretrained(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shape", choices=sorted(SHAPES), default=None, help="default: 7b on CUDA, small on CPU")
    parser.add_argument("--text-layers", type=int, default=None)
    parser.add_argument("--vision-layers", type=int, default=None)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--dtype", choices=["bf16", "fp32"], default=None, help="default: bf16 on CUDA, fp32 on CPU")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--static-cache", action="store_true", help="static KV cache (compiled decode on CUDA)")
    parser.add_argument("--attn", default="sdpa")
    parser.add_argument("--hbm-tbs", type=float, default=None, help="memory bandwidth, TB/s (default: known GPUs)")
    parser.add_argument("--bf16-tflops", type=float, default=None, help="matmul peak, TFLOP/s (default: known GPUs)")
    parser.add_argument("--videos", type=int, default=16, help="clips for the end-to-end describe run (0: skip)")
    parser.add_argument("--describe-tokens", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    cuda = torch.device(args.device).type == "cuda"
    shape = args.shape or ("7b" if cuda else "small")
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype or ("bf16" if cuda else "fp32")]
    tarsier_config, llava_config = build_configs(shape, args.text_layers, args.vision_layers)
    tarsier, llava = build_models(tarsier_config, llava_config, args.device, dtype, args.attn)
    name = torch.cuda.get_device_name(args.device) if cuda else "CPU"
    print(
        f"device: {name}; shape: {shape} ({llm_params(tarsier) / 1e6:.1f}M LLM parameters), {dtype}, "
        f"attention: {args.attn}, static cache: {args.static_cache}, {args.frames} frames, {args.new_tokens} tokens"
    )
    known = next((v for k, v in KNOWN_GPUS.items() if k in name), (None, None))
    peak_flops = args.bf16_tflops * 1e12 if args.bf16_tflops else known[0]
    peak_bandwidth = args.hbm_tbs * 1e12 if args.hbm_tbs else known[1]
    bounds = bool(peak_flops and peak_bandwidth)
    if cuda:
        measured_flops, measured_bandwidth = measured_peaks(args.device)
        print(
            f"peaks: data sheet {peak_flops and peak_flops / 1e12} TFLOP/s, {peak_bandwidth and peak_bandwidth / 1e12}"
            f" TB/s; measured {measured_flops / 1e12:.0f} TFLOP/s (8192^3 bf16 matmul), "
            f"{measured_bandwidth / 1e12:.2f} TB/s (device copy)"
        )
    positions = positions_per_frame(tarsier_config, True), positions_per_frame(tarsier_config, False)
    print(f"LLM positions per frame: Tarsier {positions[0]}, LLaVA {positions[1]} ({positions[0] / positions[1]:.3f}x)")

    header = f"{'batch':>5} {'model':>8} {'prefill s':>10} {'decode tok/s':>13} {'ms/step':>8}" + (
        f" {'prefill/bound':>14} {'decode/bound':>13}" if bounds else ""
    )
    print(header)
    results = {}
    for batch in args.batch_sizes:
        inputs = {
            "tarsier": make_inputs(tarsier_config, batch, args.frames, True, args.device, dtype),
            "llava": make_inputs(tarsier_config, batch, args.frames, False, args.device, dtype),
        }
        models = {"tarsier": tarsier, "llava": llava}
        for key, model in models.items():  # warm-up (and compilation with a static cache)
            timed_generate(model, inputs[key], 2, args.static_cache)
        samples = {key: {"one": [], "many": []} for key in models}
        for _ in range(args.repeats):
            for key, model in models.items():
                samples[key]["one"].append(timed_generate(model, inputs[key], 1, args.static_cache))
                samples[key]["many"].append(timed_generate(model, inputs[key], args.new_tokens, args.static_cache))
        for key, model in models.items():
            prefill = statistics.median(samples[key]["one"])
            step = (statistics.median(samples[key]["many"]) - prefill) / (args.new_tokens - 1)
            if step <= 0:
                raise SystemExit(f"decode time drowned in timing noise at batch {batch}: raise --new-tokens/--repeats")
            results[(batch, key)] = (prefill, step)
            line = f"{batch:>5} {key:>8} {prefill:>10.4f} {batch / step:>13.1f} {1000 * step:>8.2f}"
            if bounds:
                tokens = inputs[key]["input_ids"].shape[1]
                prefill_bound = prefill_flops(tarsier_config, model, batch, args.frames, tokens) / peak_flops
                step_bound = decode_bytes(tarsier_config, model, batch, tokens + args.new_tokens // 2, dtype.itemsize)
                step_bound /= peak_bandwidth
                line += f" {prefill_bound / prefill:>14.1%} {step_bound / step:>13.1%}"
            print(line)
        prefill_ratio = results[(batch, "tarsier")][0] / results[(batch, "llava")][0]
        step_ratio = results[(batch, "tarsier")][1] / results[(batch, "llava")][1]
        print(
            f"{batch:>5} Tarsier / LLaVA: prefill {prefill_ratio:.3f}x (positions {positions[0] / positions[1]:.3f}x), "
            f"decode step {step_ratio:.3f}x"
        )
        del inputs
    first, last = min(args.batch_sizes), max(args.batch_sizes)
    speedup = (last / results[(last, "tarsier")][1]) / (first / results[(first, "tarsier")][1])
    print(f"decode throughput batch {last} / batch {first}: {speedup:.2f}x")
    del llava
    if cuda:
        torch.cuda.empty_cache()

    if args.videos:
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            processor = build_processor(tarsier_config, folder / "processor")
            clips = [DescribeInput(str(write_clip(folder / f"clip{i:03d}.mp4", i))) for i in range(args.videos)]
            rates = {}
            for batch in sorted({1, last}):
                options = DescribeOptions(
                    num_frames=args.frames,
                    batch_size=batch,
                    workers=args.workers,
                    generation=GenerationSettings(max_new_tokens=args.describe_tokens, static_cache=args.static_cache),
                )
                describe(tarsier, processor, clips[:batch], options, progress=False)  # warm-up
                start = time.perf_counter()
                summary = describe(tarsier, processor, clips, options, progress=False)
                rates[batch] = summary.described / (time.perf_counter() - start)
                print(
                    f"describe --batch-size {batch}: {rates[batch]:.2f} videos/s "
                    f"({summary.new_tokens} tokens, {len(summary.failed)} failed)"
                )
            if len(rates) > 1:
                print(f"describe videos/s batch {last} / batch 1: {rates[last] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
