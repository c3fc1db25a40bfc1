"""tarsier-convert: official layout in, native checkpoint out, loadable via Auto classes and trust_remote_code."""

import json
import os
import subprocess
import sys

import torch
from safetensors import safe_open
from transformers import AutoModelForImageTextToText

from tarsier_hf import TarsierConfig, TarsierForConditionalGeneration
from tarsier_hf.testing import build_tiny_tokenizer, save_tiny_checkpoint, tiny_model

PROMPT = "USER: " + "<image>" * 14 + " Describe the video. ASSISTANT:"


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "tarsier_hf.convert", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def reference_logits():
    model = tiny_model(seed=11)
    inputs = build_tiny_tokenizer()(PROMPT, return_tensors="pt")
    pixel_values = torch.randn(2, 3, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return model(**inputs, pixel_values=pixel_values).logits


def test_converter_writes_native_checkpoint_that_auto_classes_load(tmp_path):
    src, dst = save_tiny_checkpoint(tmp_path / "official", layout="legacy", seed=11), tmp_path / "native"
    result = run_cli(src, dst)
    assert result.returncode == 0, result.stderr
    config = json.loads((dst / "config.json").read_text())
    assert config["model_type"] == "tarsier"
    assert config["auto_map"] == {
        "AutoConfig": "configuration_tarsier.TarsierConfig",
        "AutoModelForImageTextToText": "modeling_tarsier.TarsierForConditionalGeneration",
    }
    assert (dst / "modeling_tarsier.py").exists() and (dst / "configuration_tarsier.py").exists()
    assert (dst / "preprocessor_config.json").exists() and (dst / "tokenizer.json").exists()
    assert (dst / "processing_tarsier.py").exists() and (dst / "video_io.py").exists()
    with safe_open(dst / "model.safetensors", "pt") as weights:
        assert len(list(weights.keys())) == len(tiny_model().state_dict())

    model = AutoModelForImageTextToText.from_pretrained(dst)
    assert isinstance(model, TarsierForConditionalGeneration)
    # register_for_auto_class must not leak into later saves in the same process
    assert TarsierConfig._auto_class is None and TarsierForConditionalGeneration._auto_class is None


REMOTE_CODE_SCRIPT = """
import sys, json, torch
sys.modules["tarsier_hf"] = None  # the package must not be importable: only the checkpoint's own code runs
from transformers import AutoModelForImageTextToText, AutoProcessor
model, info = AutoModelForImageTextToText.from_pretrained(sys.argv[1], trust_remote_code=True, output_loading_info=True)
processor = AutoProcessor.from_pretrained(sys.argv[1], trust_remote_code=True)
inputs = processor.tokenizer(sys.argv[2], return_tensors="pt")
pixel_values = torch.randn(2, 3, 28, 28, generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    logits = model(**inputs, pixel_values=pixel_values).logits
torch.save(logits, sys.argv[3])
clip = processor(text="Describe the video.", videos=[torch.zeros(3, 40, 30, 3, dtype=torch.uint8)], return_tensors="pt")
print(json.dumps({"cls": type(model).__module__ + "." + type(model).__name__,
                  "processor": type(processor).__module__ + "." + type(processor).__name__,
                  "image_tokens": int((clip["input_ids"] == model.config.image_token_index).sum()),
                  "pixel_values": list(clip["pixel_values"].shape),
                  "problems": sum(len(v) for v in info.values())}))
"""


def test_converted_checkpoint_loads_with_trust_remote_code_without_the_package(tmp_path):
    src, dst = save_tiny_checkpoint(tmp_path / "official", layout="legacy", seed=11), tmp_path / "native"
    assert run_cli(src, dst).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_MODULES_CACHE"] = str(tmp_path / "modules")
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_CODE_SCRIPT, str(dst), PROMPT, str(tmp_path / "logits.pt")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["cls"].startswith("transformers_modules.") and report["cls"].endswith("TarsierForConditionalGeneration")
    assert report["problems"] == 0
    assert report["processor"].startswith("transformers_modules.") and report["processor"].endswith("TarsierProcessor")
    assert report["pixel_values"] == [3, 3, 28, 28] and report["image_tokens"] == 3 * 7
    torch.testing.assert_close(torch.load(tmp_path / "logits.pt"), reference_logits(), rtol=0, atol=0)


def test_converter_reports_bad_source(tmp_path):
    result = run_cli(tmp_path / "config.json", tmp_path / "out")
    assert result.returncode != 0
    src = save_tiny_checkpoint(tmp_path / "official", layout="legacy")
    (src / "config.json").touch()
    result = run_cli(src, src)
    assert result.returncode == 1 and "DST must differ from SRC" in result.stderr


def test_converter_casts_dtype(tmp_path):
    src, dst = save_tiny_checkpoint(tmp_path / "official", layout="legacy"), tmp_path / "bf16"
    assert run_cli(src, dst, "--dtype", "bfloat16").returncode == 0
    with safe_open(dst / "model.safetensors", "pt") as weights:
        assert {weights.get_tensor(k).dtype for k in weights.keys()} == {torch.bfloat16}
