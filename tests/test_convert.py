"""tarsier-convert: official layout in, native checkpoint out (same tensors), loadable via Auto classes and
trust_remote_code; bad sources are refused with the reason."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText

from tarsier_hf import TarsierConfig, TarsierForConditionalGeneration, TarsierProcessor
from tarsier_hf.convert import main
from tarsier_hf.testing import build_tiny_tokenizer, tiny_model, to_official_state_dict

PROMPT = "USER: " + "<image>" * 14 + " Describe the video. ASSISTANT:"


def pixel_values():
    return torch.randn(2, 3, 28, 28, generator=torch.Generator().manual_seed(0))


def reference_logits():
    """The logits of the weights the session's official checkpoint holds (``tiny_model(seed=0)``)."""
    inputs = build_tiny_tokenizer()(PROMPT, return_tensors="pt")
    with torch.no_grad():
        return tiny_model(seed=0)(**inputs, pixel_values=pixel_values()).logits


@pytest.fixture(scope="module")
def converted(official_checkpoint, tmp_path_factory):
    """The session's official-layout checkpoint converted in this process (so leaks into it can be checked)."""
    dst = tmp_path_factory.mktemp("converted") / "native"
    assert main([str(official_checkpoint), str(dst)]) == 0
    return dst


def test_converted_weights_are_the_official_tensors(converted):
    # transformers 5 saves LLaVA-family weights under the transformers-4 key names (its key mapping is reversed on
    # save), so the converted file holds exactly the official tensors under the official keys.
    stored = load_file(converted / "model.safetensors")
    expected = to_official_state_dict(tiny_model(seed=0))
    assert stored.keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(stored[key], tensor), key
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "tarsier" and config["architectures"] == ["TarsierForConditionalGeneration"]
    assert config["auto_map"] == {
        "AutoConfig": "configuration_tarsier.TarsierConfig",
        "AutoModelForImageTextToText": "modeling_tarsier.TarsierForConditionalGeneration",
    }
    processor_config = json.loads((converted / "processor_config.json").read_text())
    assert processor_config["auto_map"] == {"AutoProcessor": "processing_tarsier.TarsierProcessor"}
    for name in ("modeling_tarsier.py", "configuration_tarsier.py", "processing_tarsier.py", "video_io.py"):
        assert (converted / name).is_file(), name
    for name in ("preprocessor_config.json", "tokenizer.json"):
        assert (converted / name).is_file(), name


def test_auto_classes_load_it_and_the_conversion_leaks_nothing_into_later_saves(
    converted, official_checkpoint, tmp_path
):
    model = AutoModelForImageTextToText.from_pretrained(converted)
    assert isinstance(model, TarsierForConditionalGeneration)
    inputs = build_tiny_tokenizer()(PROMPT, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(
            model(**inputs, pixel_values=pixel_values()).logits, reference_logits(), rtol=0, atol=0
        )
    # The conversion (in this process) registered the classes for auto_map; later saves must not carry it.
    assert TarsierConfig._auto_class is None and TarsierForConditionalGeneration._auto_class is None
    assert TarsierProcessor._auto_class is None
    tiny_model().save_pretrained(tmp_path / "plain")  # a model and processor that never saw the converted folder
    TarsierProcessor.from_pretrained(official_checkpoint).save_pretrained(tmp_path / "plain")
    assert "auto_map" not in json.loads((tmp_path / "plain" / "config.json").read_text())
    assert "auto_map" not in json.loads((tmp_path / "plain" / "processor_config.json").read_text())


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
torch.save(dict(clip), sys.argv[4])
print(json.dumps({"cls": type(model).__module__ + "." + type(model).__name__,
                  "processor": type(processor).__module__ + "." + type(processor).__name__,
                  "problems": sum(len(v) for v in info.values())}))
"""


def test_converted_checkpoint_loads_with_trust_remote_code_without_the_package(converted, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_MODULES_CACHE"] = str(tmp_path / "modules")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            REMOTE_CODE_SCRIPT,
            str(converted),
            PROMPT,
            str(tmp_path / "logits.pt"),
            str(tmp_path / "clip.pt"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["cls"].startswith("transformers_modules.") and report["cls"].endswith(
        "TarsierForConditionalGeneration"
    )
    assert report["problems"] == 0
    assert report["processor"].startswith("transformers_modules.") and report["processor"].endswith("TarsierProcessor")
    torch.testing.assert_close(torch.load(tmp_path / "logits.pt"), reference_logits(), rtol=0, atol=0)
    # The shipped processor code gives what this package's processor gives.
    clip = torch.load(tmp_path / "clip.pt")
    expected = TarsierProcessor.from_pretrained(converted)(
        text="Describe the video.", videos=[torch.zeros(3, 40, 30, 3, dtype=torch.uint8)], return_tensors="pt"
    )
    assert clip["input_ids"].tolist() == expected["input_ids"].tolist()
    torch.testing.assert_close(clip["pixel_values"], expected["pixel_values"], rtol=0, atol=0)


def test_bad_sources_are_refused_with_the_reason(official_checkpoint, tmp_path, capsys):
    # The source is checked by tarsier_hf.model_source, as `tarsier describe --model` and the lmms-eval plugin do.
    (tmp_path / "config.json").write_text("{}")
    assert main([str(tmp_path / "config.json"), str(tmp_path / "out")]) == 1
    assert (
        f"{tmp_path / 'config.json'}: is a file; give a checkpoint folder or a Hub model id" in capsys.readouterr().err
    )
    assert main(["/no/such", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == "tarsier-convert: error: /no/such: folder not found\n"
    assert main([str(official_checkpoint), str(official_checkpoint)]) == 1
    assert "DST must differ from SRC" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert (
        error.startswith("tarsier-convert: error: ") and f"{tmp_path / 'empty'}: the folder has no config.json" in error
    )
    with pytest.raises(SystemExit) as exited:
        main([str(official_checkpoint), str(tmp_path / "out"), "--dtype", "int8"])
    assert exited.value.code == 2 and "invalid choice: 'int8'" in capsys.readouterr().err
    # A damaged checkpoint: one line naming the file, nothing written.
    shutil.copytree(official_checkpoint, tmp_path / "truncated")
    with open(tmp_path / "truncated" / "model.safetensors", "r+b") as weights:
        weights.truncate(1000)
    assert main([str(tmp_path / "truncated"), str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"tarsier-convert: error: {tmp_path / 'truncated' / 'model.safetensors'}: corrupt or ")
    assert error.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_command_line_casts_dtype(official_checkpoint, tmp_path):
    dst = tmp_path / "bf16"
    result = subprocess.run(
        [sys.executable, "-m", "tarsier_hf.convert", str(official_checkpoint), str(dst), "--dtype", "bfloat16"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote native tarsier checkpoint to {dst}"
    expected = to_official_state_dict(tiny_model(seed=0))
    with safe_open(dst / "model.safetensors", "pt") as weights:
        for key in weights.keys():  # noqa: SIM118  (safe_open is not iterable)
            assert torch.equal(weights.get_tensor(key), expected[key].to(torch.bfloat16)), key
