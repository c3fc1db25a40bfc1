"""Whole `tarsier describe` runs as real processes: a corrupt file among 20, a SIGKILLed run resumed, and two
processes under torchrun (gloo) merging their shards."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from _describe_helpers import cli_env, reference_descriptions, run_tarsier, tarsier_command, write_media_set

from tarsier_hf.describe.records import load_records, shard_path
from tarsier_hf.loading import load_tarsier
from tarsier_hf.testing import save_tiny_checkpoint

pytestmark = pytest.mark.slow

FRAMES, NEW_TOKENS = 4, 8
COMMON = ["--frames", str(FRAMES), "--max-new-tokens", str(NEW_TOKENS), "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("runs") / "tiny")


@pytest.fixture(scope="module")
def tiny(checkpoint):
    return load_tarsier(str(checkpoint), device="cpu")


def test_corrupt_file_among_20(checkpoint, tiny, tmp_path):
    media = write_media_set(tmp_path / "media", 20, corrupt_at=10)
    output = tmp_path / "out.jsonl"
    result = run_tarsier(
        "describe",
        tmp_path / "media",
        "--model",
        checkpoint,
        *COMMON,
        "--batch-size",
        4,
        "--workers",
        1,
        "--output",
        output,
    )
    assert result.returncode == 3, result.stderr
    records = load_records(output)
    good = [p for i, p in enumerate(media) if i != 10]
    assert [r["path"] for r in records] == [str(p) for p in good]
    assert [r["description"] for r in records] == reference_descriptions(*tiny, good, FRAMES, NEW_TOKENS)
    assert "tarsier describe: described 19 of 20 inputs, 1 failed" in result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("  failed: ")]
    assert failed == [f"  failed: {media[10]}: " + failed[0].split(f"{media[10]}: ", 1)[1]]
    assert "cannot decode video" in failed[0]
    assert result.stdout == ""
    # A re-run retries only the failed input (it may have been a flaky disk) and lists it again.
    again = run_tarsier("describe", tmp_path / "media", "--model", checkpoint, *COMMON, "--output", output)
    assert again.returncode == 3
    assert "described 0 of 20 inputs, 19 already in" in again.stderr and f"  failed: {media[10]}: " in again.stderr
    assert load_records(output) == records


def test_sigkill_then_resume(checkpoint, tmp_path):
    media = write_media_set(tmp_path / "media", 16)
    output = tmp_path / "out.jsonl"
    arguments = ["describe", str(tmp_path / "media"), "--model", str(checkpoint), *COMMON, "--max-new-tokens", "24"]
    arguments += ["--batch-size", "1", "--workers", "1", "--output", str(output)]
    process = subprocess.Popen(
        [*tarsier_command(), *arguments],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if output.exists() and output.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed: " + process.stderr.read().decode()
    os.killpg(process.pid, signal.SIGKILL)  # the main process and its decoding workers
    process.wait()
    process.stderr.close()
    before = load_records(output, repair=False)
    assert 3 <= len(before) < 16

    result = run_tarsier(*arguments)
    assert result.returncode == 0, result.stderr
    assert f"{len(before)} already in {output}" in result.stderr
    after = load_records(output)
    assert [r["path"] for r in after] == [str(p) for p in media]  # each input once, in order
    assert after[: len(before)] == before  # finished ones kept as they were (same timings: not recomputed)


def test_two_processes_with_torchrun(checkpoint, tiny, tmp_path):
    media = write_media_set(tmp_path / "media", 9)
    reference = reference_descriptions(*tiny, media, FRAMES, NEW_TOKENS)
    output = tmp_path / "out.jsonl"
    # A shard left by an interrupted earlier run (with another process count) is folded in and not redone.
    leftover = {"path": str(media[4]), "description": "from an earlier run", "prompt": "Describe the video in detail."}
    shard_path(output, 5).write_text(json.dumps(leftover) + "\n")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["-m", "tarsier_hf.cli", "describe", str(tmp_path / "media"), "--model", str(checkpoint), *COMMON]
    command += ["--batch-size", "2", "--workers", "1", "--output", str(output)]
    result = subprocess.run(command, capture_output=True, text=True, env=cli_env(), timeout=400, check=False)
    assert result.returncode == 0, result.stderr
    records = load_records(output)
    assert [r["path"] for r in records] == [str(p) for p in media]
    assert [r["description"] for r in records] == reference[:4] + [leftover["description"]] + reference[5:]
    assert list(tmp_path.glob("out.jsonl.shard*")) == []
    assert "described 8 of 9 inputs, 1 already in" in result.stderr
