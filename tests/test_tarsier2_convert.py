"""Tarsier2 through tarsier-convert: official layout in, native checkpoint out, loadable with trust_remote_code
without this package; logits and processor outputs identical to the package's."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from tarsier_hf import (
    Tarsier2Config,
    Tarsier2ForConditionalGeneration,
    Tarsier2Processor,
)
from tarsier_hf.testing_tarsier2 import save_tiny_tarsier2_checkpoint

REMOTE_CODE_SCRIPT = """
import sys, json, numpy as np, torch
sys.modules["tarsier_hf"] = None  # the package must not be importable: only the checkpoint's own code runs
from transformers import AutoModelForImageTextToText, AutoProcessor
model, info = AutoModelForImageTextToText.from_pretrained(sys.argv[1], trust_remote_code=True, output_loading_info=True)
processor = AutoProcessor.from_pretrained(sys.argv[1], trust_remote_code=True)
clip = np.random.default_rng(0).integers(0, 256, (24, 60, 90, 3), dtype=np.uint8)
inputs = processor(text="Describe the video in detail.", videos=[clip], return_tensors="pt")
with torch.no_grad():
    logits = model(**inputs).logits
torch.save({"logits": logits, "input_ids": inputs["input_ids"], "pixel_values": inputs["pixel_values"]}, sys.argv[2])
print(json.dumps({"cls": type(model).__module__ + "." + type(model).__name__,
                  "processor": type(processor).__module__ + "." + type(processor).__name__,
                  "num_frames": processor.num_frames, "problems": sum(len(v) for v in info.values())}))
"""


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "tarsier_hf.convert", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow  # two subprocesses that import transformers, a conversion and three model loads
def test_convert_then_trust_remote_code_without_the_package(tmp_path):
    src = save_tiny_tarsier2_checkpoint(tmp_path / "official", seed=5)
    dst = tmp_path / "native"
    result = run_cli(src, dst)
    assert result.returncode == 0, result.stderr
    assert "tarsier2" in result.stdout
    config = json.loads((dst / "config.json").read_text())
    assert config["model_type"] == "tarsier2"
    assert config["auto_map"] == {
        "AutoConfig": "configuration_tarsier2.Tarsier2Config",
        "AutoModelForImageTextToText": "modeling_tarsier2.Tarsier2ForConditionalGeneration",
    }
    for name in ("modeling_tarsier2.py", "configuration_tarsier2.py", "processing_tarsier2.py", "video_io.py"):
        assert (dst / name).exists(), name
    assert Tarsier2Config._auto_class is None and Tarsier2ForConditionalGeneration._auto_class is None

    # with the package: Auto classes
    model = AutoModelForImageTextToText.from_pretrained(dst)
    processor = AutoProcessor.from_pretrained(dst)
    assert isinstance(model, Tarsier2ForConditionalGeneration) and isinstance(processor, Tarsier2Processor)
    clip = np.random.default_rng(0).integers(0, 256, (24, 60, 90, 3), dtype=np.uint8)
    inputs = Tarsier2Processor.from_pretrained(src)(
        text="Describe the video in detail.", videos=[clip], return_tensors="pt"
    )
    with torch.no_grad():
        reference = Tarsier2ForConditionalGeneration.from_pretrained(src)(**inputs).logits

    # without it: the checkpoint's own code
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_MODULES_CACHE"] = str(tmp_path / "modules")
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_CODE_SCRIPT, str(dst), str(tmp_path / "out.pt")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["cls"].startswith("transformers_modules.") and report["cls"].endswith(
        "Tarsier2ForConditionalGeneration"
    )
    assert report["processor"].endswith("Tarsier2Processor") and report["num_frames"] == 16
    assert report["problems"] == 0
    remote = torch.load(tmp_path / "out.pt")
    assert torch.equal(remote["input_ids"], inputs["input_ids"])
    assert torch.equal(remote["pixel_values"], inputs["pixel_values"])
    torch.testing.assert_close(remote["logits"], reference, rtol=0, atol=0)
