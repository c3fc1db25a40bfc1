"""load_tarsier: device / dtype / attention defaults."""

import pytest
import torch

from tarsier_hf import loading
from tarsier_hf.testing import save_tiny_checkpoint


def test_defaults_on_cpu(tmp_path):
    save_tiny_checkpoint(tmp_path, layout="legacy")
    model, processor = loading.load_tarsier(str(tmp_path))
    assert next(model.parameters()).device.type == "cpu"
    assert next(model.parameters()).dtype == torch.float32
    assert model.config._attn_implementation == "sdpa"
    assert not model.training
    assert type(processor).__name__ == "TarsierProcessor"


def test_explicit_dtype(tmp_path):
    save_tiny_checkpoint(tmp_path)
    model, _ = loading.load_tarsier(str(tmp_path), dtype="bf16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


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
    with pytest.raises(ValueError, match="unknown dtype 'int8'"):
        loading.resolve_dtype("int8", "cpu")
