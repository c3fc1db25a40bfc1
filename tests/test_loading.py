"""load_tarsier: device / dtype / attention choices, on this machine's CPU and (availability patched, arguments to
``from_pretrained`` recorded) on CUDA machines with and without bf16 and flash-attention."""

import shutil

import pytest
import torch

from tarsier_hf import TarsierForConditionalGeneration, loading
from tarsier_hf.testing import tiny_model


@pytest.fixture
def no_accelerator(monkeypatch):
    """Whatever this machine has, load_tarsier sees only a CPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def recorded_from_pretrained(monkeypatch):
    """Replaces the model's ``from_pretrained`` as load_tarsier sees it: records the arguments, returns a tiny model
    (nothing is moved to a device that does not exist here)."""
    calls = []

    def record(model_id, **kwargs):
        calls.append({"model_id": model_id, **kwargs})
        return tiny_model()

    monkeypatch.setattr(loading.TarsierForConditionalGeneration, "from_pretrained", record)
    return calls


def test_defaults_on_cpu(official_checkpoint, no_accelerator):
    model, processor = loading.load_tarsier(str(official_checkpoint))
    assert loading.resolve_device("auto") == "cpu"
    assert next(model.parameters()).device.type == "cpu"
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert model.config._attn_implementation == "sdpa"
    assert not model.training
    assert type(processor).__name__ == "TarsierProcessor" and processor.num_frames == 8


def test_explicit_dtype_and_processor_options(native_checkpoint):
    model, processor = loading.load_tarsier(str(native_checkpoint), device="cpu", dtype="bf16", num_frames=4)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert processor.num_frames == 4


@pytest.mark.parametrize(
    "bf16, flash, dtype, attention",
    [
        (True, True, torch.bfloat16, "flash_attention_2"),
        (False, True, torch.float16, "flash_attention_2"),
        (True, False, torch.bfloat16, "sdpa"),
    ],
)
def test_choices_on_a_cuda_machine(
    official_checkpoint, monkeypatch, recorded_from_pretrained, bf16, flash, dtype, attention
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    monkeypatch.setattr(loading, "is_flash_attn_2_available", lambda: flash)
    loading.load_tarsier(str(official_checkpoint))
    (call,) = recorded_from_pretrained
    assert call == {
        "model_id": str(official_checkpoint),
        "revision": None,
        "dtype": dtype,
        "attn_implementation": attention,
        "device_map": "cuda",
    }


def test_explicit_choices_win_and_device_map_shards(official_checkpoint, monkeypatch, recorded_from_pretrained):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    monkeypatch.setattr(loading, "is_flash_attn_2_available", lambda: True)
    loading.load_tarsier(str(official_checkpoint), dtype="float32", attn_implementation="eager", device_map="auto")
    loading.load_tarsier(str(official_checkpoint), device="cuda:1", dtype="fp16", revision="main")
    assert [
        (c["dtype"], c["attn_implementation"], c["device_map"], c["revision"]) for c in recorded_from_pretrained
    ] == [
        (torch.float32, "eager", "auto", None),
        (torch.float16, "flash_attention_2", "cuda:1", "main"),
    ]


def test_flash_attention_only_where_it_can_run(monkeypatch):
    monkeypatch.setattr(loading, "is_flash_attn_2_available", lambda: True)
    assert loading.default_attn_implementation("cuda", torch.bfloat16) == "flash_attention_2"
    assert loading.default_attn_implementation("cuda:1", torch.float16) == "flash_attention_2"
    assert loading.default_attn_implementation("cuda", torch.float32) == "sdpa"
    assert loading.default_attn_implementation("cpu", torch.bfloat16) == "sdpa"
    monkeypatch.setattr(loading, "is_flash_attn_2_available", lambda: False)
    assert loading.default_attn_implementation("cuda", torch.bfloat16) == "sdpa"


def test_dtype_names():
    assert loading.resolve_dtype("auto", "cpu") == torch.float32
    assert loading.resolve_dtype("fp16", "cpu") == torch.float16
    assert loading.resolve_dtype(torch.bfloat16, "cpu") == torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype 'int8'"):
        loading.resolve_dtype("int8", "cpu")


def test_the_loaded_class_is_tarsier_not_llava(official_checkpoint, no_accelerator):
    model, _ = loading.load_tarsier(str(official_checkpoint))
    assert type(model) is TarsierForConditionalGeneration


def broken(checkpoint, folder, damage: str):
    """A copy of the session's checkpoint with one file damaged; the message part load_tarsier must give."""
    shutil.copytree(checkpoint, folder)
    if damage == "truncated weights":
        with open(folder / "model.safetensors", "r+b") as weights:
            weights.truncate(1000)
        return f"{folder / 'model.safetensors'}: corrupt or truncated weights file"
    if damage == "config not JSON":
        (folder / "config.json").write_text('{"model_type": "tarsier",')
        return f"{folder / 'config.json'}: not valid JSON (Expecting property name enclosed in double quotes at line 1"
    if damage == "config not an object":
        (folder / "config.json").write_text("[]")
        return f"{folder / 'config.json'}: expected a JSON object, got list"
    if damage == "config not text":
        (folder / "config.json").write_bytes(b"\xff\xfe\x00garbage")
        return f"{folder / 'config.json'}: not UTF-8 text"
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    return f"{folder}: no tokenizer files (tokenizer.json, tokenizer.model or vocab.json)"


@pytest.mark.parametrize(
    "damage", ["truncated weights", "config not JSON", "config not an object", "config not text", "no tokenizer"]
)
def test_a_damaged_checkpoint_is_one_line_naming_the_file(native_checkpoint, tmp_path, damage):
    message = broken(native_checkpoint, tmp_path / "damaged", damage)
    with pytest.raises(loading.ModelLoadError) as raised:
        loading.load_tarsier(str(tmp_path / "damaged"), device="cpu")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_device_and_dtype_names_are_the_command_lines(no_accelerator):
    from tarsier_hf.load_options import check_device, check_device_map, check_dtype

    for good in ("auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps", "xpu:1", "cpu:0"):
        assert check_device(good) == good
    for bad in ("banana", "CUDA", "cuda:", "cuda:-1", "cuda:01", "cuda:x", "tpu:0", "", "cuda:0:1"):
        with pytest.raises(ValueError, match=f"unknown device {bad!r}: use auto, cpu, cuda"):
            check_device(bad)
        with pytest.raises(ValueError, match=f"unknown device {bad!r}"):
            loading.resolve_device(bad)  # the same names as the command line, before torch is asked
    assert [check_device_map(v) for v in ("auto", "balanced", "sequential", "cuda:1")] == [
        "auto",
        "balanced",
        "sequential",
        "cuda:1",
    ]
    with pytest.raises(ValueError, match="unknown device map 'banana': use auto, balanced"):
        check_device_map("banana")
    for name in ("bf16", "half", "float"):
        assert check_dtype(name) == name and isinstance(loading.resolve_dtype(name), torch.dtype)
    with pytest.raises(ValueError, match="unknown dtype 'float8': use auto, bf16, bfloat16"):
        check_dtype("float8")
