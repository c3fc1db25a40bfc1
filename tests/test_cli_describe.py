"""`tarsier describe` as a command: exact output, exit statuses, fast and clear failures, lazy imports."""

import json
import shutil
import socket
import subprocess
import sys
import time

import pytest
import torch
from _describe_helpers import cli_env, reference_descriptions, run_tarsier, write_media_set

from tarsier_hf.cli import main
from tarsier_hf.loading import load_tarsier
from tarsier_hf.testing import save_tiny_checkpoint

FRAMES, NEW_TOKENS = 4, 8


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("cli") / "tiny")


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return write_media_set(tmp_path_factory.mktemp("media"), 4)  # mp4 32x32, mp4 64x48, GIF, PNG


@pytest.fixture(scope="module")
def reference(checkpoint, media):
    model, processor = load_tarsier(str(checkpoint), device="cpu")
    return reference_descriptions(model, processor, media, FRAMES, NEW_TOKENS)


@pytest.fixture
def silent_hub():
    """A TCP port that accepts connections and never answers (a Hub behind a black-holing firewall)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def hub_cache_with(checkpoint, cache, repo_id="someone/tiny-tarsier"):
    """The Hugging Face cache layout (refs/main → snapshot folder) holding ``checkpoint`` as ``repo_id``."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    revision = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    shutil.copytree(checkpoint, repo / "snapshots" / revision)
    return repo_id


def test_help_and_argument_errors_import_neither_torch_nor_transformers(tmp_path, media):
    script = f"""
import json, sys
from tarsier_hf.cli import main
codes = []
for argv in (["--help"], ["describe", "--help"], ["describe", "x.mp4", "--frames", "0"], ["describe"],
             ["describe", {str(tmp_path / "missing.mp4")!r}], ["describe", {str(media[0])!r}, "--model", "/no/such/dir"]):
    try:
        codes.append(main(argv))
    except SystemExit as exit:
        codes.append(exit.code)
heavy = sorted(m for m in ("torch", "transformers", "tarsier_hf.modeling_tarsier") if m in sys.modules)
print(json.dumps({{"codes": codes, "heavy": heavy}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=cli_env(), timeout=120, check=False
    )
    report = json.loads(result.stdout.splitlines()[-1])
    assert report == {"codes": [0, 0, 2, 2, 2, 1], "heavy": []}, result.stderr
    assert "argument --frames: must be >= 1, got 0" in result.stderr
    assert "error: no inputs" in result.stderr
    assert f"{tmp_path / 'missing.mp4'}: file not found" in result.stderr
    assert "error: cannot load the model: /no/such/dir: folder not found" in result.stderr


def test_json_output_equals_in_process_generation(checkpoint, media, reference, tmp_path, silent_hub):
    # Also: a Hub id whose Hub cannot be reached loads from the local cache after one short request.
    cache = tmp_path / "hub"
    repo_id = hub_cache_with(checkpoint, cache)
    env = cli_env(HF_HUB_CACHE=str(cache), HF_ENDPOINT=silent_hub, HF_HUB_ETAG_TIMEOUT="2")
    del env["HF_HUB_OFFLINE"]
    result = run_tarsier(
        "describe",
        *media,
        "--model",
        repo_id,
        "--frames",
        FRAMES,
        "--max-new-tokens",
        NEW_TOKENS,
        "--batch-size",
        3,
        "--workers",
        1,
        "--device",
        "cpu",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in records] == [str(p) for p in media]
    assert [r["description"] for r in records] == reference
    assert [r["frames"] for r in records] == [FRAMES, FRAMES, FRAMES, 1]
    assert {r["model"] for r in records} == {repo_id}
    assert [r["prompt"] for r in records] == ["Describe the video in detail."] * 3 + ["Describe the image in detail."]
    assert all(r["new_tokens"] <= NEW_TOKENS and r["decode_s"] > 0 and r["generate_s"] > 0 for r in records)
    assert [r["batch_size"] for r in records] == [3, 3, 3, 1]
    assert "Describing" in result.stderr  # progress bar


def test_one_input_prints_only_its_description(checkpoint, media, reference, capsys):
    arguments = ["--frames", str(FRAMES), "--max-new-tokens", str(NEW_TOKENS), "--workers", "0", "--device", "cpu"]
    assert main(["describe", str(media[1]), "--model", str(checkpoint), *arguments]) == 0
    captured = capsys.readouterr()
    assert captured.out == reference[1] + "\n"
    assert "Describing" not in captured.err


@pytest.mark.parametrize("bad", ["missing.mp4", "notes.txt"])
def test_unusable_inputs_exit_2_before_the_model_loads(checkpoint, media, tmp_path, capsys, bad):
    path = tmp_path / bad
    if bad.endswith(".txt"):
        path.write_text("not media")
    assert main(["describe", str(media[0]), str(path), "--model", str(checkpoint)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    message = "file not found" if bad == "missing.mp4" else "unsupported file extension '.txt'"
    assert f"tarsier describe: error: {path}: {message}" in captured.err
    assert "Loading weights" not in captured.err


def test_output_that_is_not_a_describe_output_exits_2(checkpoint, media, tmp_path, capsys):
    output = tmp_path / "results.json"
    output.write_text('{"accuracy": 0.5}\n')
    assert main(["describe", str(media[0]), "--model", str(checkpoint), "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f'tarsier describe: error: --output: {output}:1: not a tarsier describe record (needs "path" and "description")\n'
    )
    assert output.read_text() == '{"accuracy": 0.5}\n'


def test_model_problems_exit_1_with_one_line(checkpoint, media, tmp_path, silent_hub):
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["--model", str(empty)], {}, f"{empty}: the folder has no config.json"),
        (["--model", "someone/not-cached"], {}, "someone/not-cached: not in the local Hugging Face cache"),
        (
            ["--model", "someone/not-cached"],
            {"HF_HUB_OFFLINE": None, "HF_ENDPOINT": silent_hub, "HF_HUB_ETAG_TIMEOUT": "2"},
            f"cannot reach the Hugging Face Hub at {silent_hub}",
        ),
    ]
    for arguments, extra, message in cases:
        env = cli_env(HF_HOME=str(tmp_path / "hf_home"))
        for name, value in extra.items():
            env.pop(name, None) if value is None else env.__setitem__(name, value)
        start = time.monotonic()
        result = run_tarsier("describe", media[0], *arguments, env=env, timeout=60)
        elapsed = time.monotonic() - start
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
        assert result.stderr.startswith("tarsier describe: error: cannot load the model: ")
        assert elapsed < 30  # the unreachable Hub costs one request of HF_HUB_ETAG_TIMEOUT (2 s), not retries


@pytest.mark.parametrize("device, message", [("cuda", "no CUDA GPU is available"), ("tpu:0", "unknown device")])
def test_unavailable_device_exits_1_with_one_line(checkpoint, media, monkeypatch, capsys, device, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["describe", str(media[0]), "--model", str(checkpoint), "--device", device]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"tarsier describe: error: cannot load the model {str(checkpoint)!r}"
    )
    assert f"device {device!r}: {message}" in err or f"unknown device {device!r}" in err


def test_generation_failure_exits_1(checkpoint, media, monkeypatch, capsys):
    from tarsier_hf.describe import runner

    def broken(*args, **kwargs):
        raise RuntimeError("the device fell over")

    monkeypatch.setattr(runner, "generate_batch", broken)
    status = main(["describe", str(media[0]), "--model", str(checkpoint), "--workers", "0", "--device", "cpu"])
    assert status == 1
    assert "tarsier describe: error: generation failed: RuntimeError: the device fell over" in capsys.readouterr().err
