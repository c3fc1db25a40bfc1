"""`tarsier describe` as a command: exact output, exit statuses, fast and clear failures, lazy imports."""

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from _describe_helpers import cli_env, hub_cache_with, reference_descriptions, run_tarsier, write_media_set

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


def test_help_and_argument_errors_import_neither_torch_nor_transformers(tmp_path, media):
    clip = str(media[0])
    script = f"""
import json, sys
from tarsier_hf.cli import main
codes = []
for argv in (["--help"], ["describe", "--help"], ["describe", "x.mp4", "--frames", "0"], ["describe"],
             ["describe", {str(tmp_path / "missing.mp4")!r}], ["describe", {clip!r}, "--model", "/no/such/dir"],
             ["describe", {clip!r}, "--device", "banana"], ["describe", {clip!r}, "--device", "cuda:x"],
             ["describe", {clip!r}, "--dtype", "float8"], ["describe", {clip!r}, "--device-map", "banana"],
             ["describe", {clip!r}, "--output", {clip + "/out.jsonl"!r}]):
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
    assert report == {"codes": [0, 0, 2, 2, 2, 1, 2, 2, 2, 2, 2], "heavy": []}, result.stderr
    assert "argument --frames: must be >= 1, got 0" in result.stderr
    assert "error: no inputs" in result.stderr
    assert f"{tmp_path / 'missing.mp4'}: file not found" in result.stderr
    assert "error: cannot load the model: /no/such/dir: folder not found" in result.stderr
    assert "argument --device: unknown device 'banana': use auto, cpu, cuda, mps" in result.stderr
    assert "argument --device: unknown device 'cuda:x'" in result.stderr
    assert "argument --dtype: invalid choice: 'float8'" in result.stderr
    assert "argument --device-map: unknown device map 'banana': use auto, balanced" in result.stderr
    assert f"error: --output: {clip}/out.jsonl: cannot create it: {clip} is a file, not a folder" in result.stderr


def unwritable_outputs(media, tmp_path):
    """``--output`` values the run could never write, with the message naming why."""
    clip = media[0]
    cases = [
        (f"{clip}/out.jsonl", f"{clip}/out.jsonl: cannot create it: {clip} is a file, not a folder"),
        (f"{clip}/deeper/out.jsonl", f"{clip}/deeper/out.jsonl: cannot create it: {clip} is a file, not a folder"),
        (str(tmp_path), f"{tmp_path}: is a folder; give a file name, e.g. {tmp_path / 'descriptions.jsonl'}"),
    ]
    if Path("/proc/self").is_dir():  # Linux: a virtual file system that refuses new files
        cases.append(("/proc/x.jsonl", "/proc/x.jsonl: cannot create it (No such file or directory)"))
    return cases


def test_unwritable_output_exits_2_before_the_model_loads(checkpoint, media, tmp_path):
    for output, message in unwritable_outputs(media, tmp_path):
        result = run_tarsier("describe", media[0], "--model", checkpoint, "--device", "cpu", "--output", output)
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"tarsier describe: error: --output: {message}\n"  # and no "Loading weights"
    # A new output in folders that do not exist yet passes the check: the folders are made, the file is not left.
    fresh = tmp_path / "new" / "folders" / "out.jsonl"
    from tarsier_hf.describe.records import check_output

    assert check_output(fresh) == [] and fresh.parent.is_dir() and not fresh.exists()


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
    assert "Describing" in result.stderr and "Loading weights" in result.stderr  # progress bars (see --quiet)


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


@pytest.mark.parametrize("device, message", [("cuda", "no CUDA GPU is available"), ("mps", "MPS (Apple GPU) is not")])
def test_unavailable_device_exits_1_with_one_line(checkpoint, media, monkeypatch, capsys, device, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["describe", str(media[0]), "--model", str(checkpoint), "--device", device]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"tarsier describe: error: cannot load the model {str(checkpoint)!r}"
    )
    assert f"device {device!r}: {message}" in err


def broken_copy(checkpoint, folder, damage: str):
    """A copy of ``checkpoint`` with one kind of damage a download or a hand-made folder can have."""
    shutil.copytree(checkpoint, folder)
    if damage == "truncated weights":
        with open(folder / "model.safetensors", "r+b") as weights:  # what `truncate -s 1000` does
            weights.truncate(1000)
        return f"{folder / 'model.safetensors'}: corrupt or truncated weights file (Error while deserializing header"
    if damage == "no tokenizer files":
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (folder / name).unlink()
        return f"{folder}: no tokenizer files (tokenizer.json, tokenizer.model or vocab.json); copy them from"
    (folder / "config.json").write_text('{"model_type": "tarsier",')
    return f"{folder / 'config.json'}: not valid JSON (Expecting property name enclosed in double quotes at line 1"


@pytest.mark.parametrize("damage", ["truncated weights", "no tokenizer files"])
def test_broken_checkpoint_exits_1_with_one_line_naming_the_file(checkpoint, media, tmp_path, damage):
    message = broken_copy(checkpoint, tmp_path / "broken", damage)
    result = run_tarsier("describe", media[0], "--model", tmp_path / "broken", "--device", "cpu", "--quiet")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"tarsier describe: error: cannot load the model {str(tmp_path / 'broken')!r}: ")
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_quiet_shows_no_progress_bars(checkpoint, media):
    result = run_tarsier(
        "describe",
        *media[:2],
        "--model",
        checkpoint,
        "--frames",
        FRAMES,
        "--max-new-tokens",
        2,
        "--device",
        "cpu",
        "--workers",
        0,
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert "Loading weights" not in result.stderr and "Describing" not in result.stderr and "%|" not in result.stderr


def test_generation_failure_exits_1(checkpoint, media, monkeypatch, capsys):
    from tarsier_hf.describe import runner

    def broken(*args, **kwargs):
        raise RuntimeError("the device fell over")

    monkeypatch.setattr(runner, "generate_batch", broken)
    status = main(["describe", str(media[0]), "--model", str(checkpoint), "--workers", "0", "--device", "cpu"])
    assert status == 1
    assert "tarsier describe: error: generation failed: RuntimeError: the device fell over" in capsys.readouterr().err
