"""Generation speed of a random Tarsier2-7B-shaped model next to a random Tarsier-7B-shaped one, same run.

Each family gets its official video input for a 720p clip, built as token ids and pixels directly (random weights
need no tokenizer): Tarsier2, 16 frames pre-resized to the 460800-pixel budget (1280x720 → 504x896 after the
28-pixel grid: a (16, 36, 64) grid, 576 tokens a frame, 9216 in all); Tarsier, 8 frames of 336 px (601 positions
each, 4808 in all). Both get the same 32 text tokens around the visuals. For batch 1 and 8 it reports:

- prefill: seconds for the first forward pass over the prompt (vision tower included), median of ``--repeats``;
- decode: generated tokens per second per sequence over ``--new-tokens`` greedy steps (``min_new_tokens`` forces
  the length), timed between the first and the last step's logits of the same ``generate`` call;

and the Tarsier2 / Tarsier ratios. ``--tiny`` swaps in the test-sized configs of ``tarsier_hf.testing*`` (CPU
smoke run; the numbers then say nothing about real speed).

    python benchmarks/generate_tarsier2.py                 # GPU, bf16, 7B-shaped (about 2 x 16 GB of weights)
    python benchmarks/generate_tarsier2.py --tiny --device cpu --dtype float32
"""

import argparse
import statistics
import time

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from tarsier_hf import (
    Tarsier2Config,
    Tarsier2ForConditionalGeneration,
    TarsierConfig,
    TarsierForConditionalGeneration,
)
from tarsier_hf.testing import tiny_config
from tarsier_hf.testing_tarsier2 import tiny2_config

TEXT_TOKENS = 32


def tarsier2_7b_config() -> Tarsier2Config:
    """Qwen2-VL-7B's shape (Tarsier2-7B's base)."""
    return Tarsier2Config(
        text_config={
            "vocab_size": 152064,
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "max_position_embeddings": 32768,
            "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
            "rope_theta": 1000000.0,
            "rms_norm_eps": 1e-6,
        },
        vision_config={"depth": 32, "embed_dim": 1280, "hidden_size": 3584, "num_heads": 16, "mlp_ratio": 4},
    )


def tarsier2_inputs(config, batch: int, tiny: bool, device) -> dict:
    frames, grid_h, grid_w = (16, 4, 4) if tiny else (16, 36, 64)
    merge = config.vision_config.spatial_merge_size
    tokens = frames * grid_h * grid_w // merge**2
    half = TEXT_TOKENS // 2
    row = (
        [7] * half
        + [config.vision_start_token_id]
        + [config.image_token_id] * tokens
        + [config.vision_end_token_id]
        + [8] * half
    )
    input_ids = torch.tensor([row] * batch, device=device)
    patch_dim = 3 * config.vision_config.temporal_patch_size * config.vision_config.patch_size**2
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "mm_token_type_ids": (input_ids == config.image_token_id).long(),
        "pixel_values": torch.randn(batch * frames * grid_h * grid_w, patch_dim, device=device),
        "image_grid_thw": torch.tensor([[frames, grid_h, grid_w]] * batch, device=device),
    }


def tarsier_inputs(config, batch: int, tiny: bool, device) -> dict:
    frames, size = 8, config.vision_config.image_size
    tokens = frames * config.num_positions_per_frame
    half = TEXT_TOKENS // 2
    row = [1] + [7] * half + [config.image_token_index] * tokens + [8] * (half - 1)
    input_ids = torch.tensor([row] * batch, device=device)
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "pixel_values": torch.randn(batch * frames, 3, size, size, device=device),
    }


def build(model_class, config, dtype, device):
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = model_class(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


class _StepClock(LogitsProcessor):
    """Records when each step's logits are ready: the first after prefill, one more per decode step."""

    def __init__(self, device):
        self.device, self.times = device, []

    def __call__(self, input_ids, scores):
        sync(self.device)
        self.times.append(time.perf_counter())
        return scores


@torch.inference_mode()
def measure(model, inputs, new_tokens: int, repeats: int, device) -> tuple[float, float]:
    """``(prefill seconds, decode tokens/s per sequence)``, medians over ``repeats`` after one warm-up; both from
    one ``generate`` call: prefill ends when the first logits are ready, decode is the time between the first and
    the last step's logits."""
    dtype = next(model.parameters()).dtype
    inputs = {k: v.to(dtype) if v.is_floating_point() else v for k, v in inputs.items()}
    prefill, rates = [], []
    for attempt in range(repeats + 1):
        clock = _StepClock(device)
        sync(device)
        start = time.perf_counter()
        model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            logits_processor=LogitsProcessorList([clock]),
        )
        if attempt:
            prefill.append(clock.times[0] - start)
            rates.append((len(clock.times) - 1) / (clock.times[-1] - clock.times[0]))
    return statistics.median(prefill), statistics.median(rates)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="test-sized configs (CPU smoke run)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    dtype = getattr(torch, args.dtype)
    families = {
        "Tarsier-7B": (
            TarsierForConditionalGeneration,
            tiny_config() if args.tiny else TarsierConfig(),
            tarsier_inputs,
        ),
        "Tarsier2-7B": (
            Tarsier2ForConditionalGeneration,
            tiny2_config() if args.tiny else tarsier2_7b_config(),
            tarsier2_inputs,
        ),
    }
    results = {}
    for name, (model_class, config, make_inputs) in families.items():
        model = build(model_class, config, dtype, args.device)
        for batch in map(int, args.batch_sizes.split(",")):
            inputs = make_inputs(config, batch, args.tiny, args.device)
            prompt = inputs["input_ids"].shape[1]
            prefill, rate = measure(model, inputs, args.new_tokens, args.repeats, args.device)
            results[name, batch] = (prefill, rate)
            print(
                f"{name:12s} batch {batch}: prompt {prompt} positions, prefill {prefill * 1000:8.1f} ms, "
                f"decode {rate:8.1f} tokens/s per sequence ({rate * batch:8.1f} in all)",
                flush=True,
            )
        del model
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    for batch in map(int, args.batch_sizes.split(",")):
        (p1, r1), (p2, r2) = results["Tarsier-7B", batch], results["Tarsier2-7B", batch]
        print(f"batch {batch}: Tarsier2 / Tarsier prefill time x{p2 / p1:.2f}, decode speed x{r2 / r1:.2f}")


if __name__ == "__main__":
    main()
