"""`tarsier describe` end to end: a real subprocess on a tiny local checkpoint (random weights, so the checks are on
exit status and output structure, not on the words)."""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from _proc_media import DEMO_VIDEO, write_gif, write_image, write_video

from tarsier_hf.cli import expand_inputs, main, prompt_for
from tarsier_hf.testing import save_tiny_checkpoint
from tarsier_hf.video_io import MediaError


def tarsier_command() -> list[str]:
    """The installed console script, or the module when the package is not installed with its scripts."""
    script = Path(sysconfig.get_path("scripts")) / "tarsier"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tarsier_hf.cli"]


def run_tarsier(*args, timeout=240):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [*tarsier_command(), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("cli") / "tiny", layout="native")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    media = folder / "media"
    media.mkdir()
    write_gif(media / "b.gif", num_frames=6)
    write_image(media / "a.png")
    (media / "readme.txt").write_text("not media")
    return {"video": write_video(folder / "clip.mp4", num_frames=20), "folder": media}


def test_describe_several_inputs_as_json_lines(checkpoint, inputs):
    result = run_tarsier(
        "describe",
        DEMO_VIDEO,
        inputs["folder"],
        "--model",
        checkpoint,
        "--frames",
        "4",
        "--max-new-tokens",
        "6",
        "--device",
        "cpu",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in records] == [
        str(DEMO_VIDEO),
        str(inputs["folder"] / "a.png"),
        str(inputs["folder"] / "b.gif"),
    ]
    assert all(set(r) == {"path", "description"} and isinstance(r["description"], str) for r in records)
    assert "Describing" in result.stderr  # progress bar for several inputs


def test_describe_one_input_prints_the_description(checkpoint, inputs):
    result = run_tarsier(
        "describe", inputs["video"], "--model", checkpoint, "--max-new-tokens", "5", "--prompt", "What happens?"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n") and len(result.stdout.splitlines()) <= 5  # one description, no path prefix
    assert "Describing" not in result.stderr


def test_bad_input_stops_before_any_output(checkpoint, inputs, tmp_path):
    missing = tmp_path / "missing.mp4"
    result = run_tarsier("describe", inputs["video"], missing, "--model", checkpoint, "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{missing}: file not found" in result.stderr
    assert "Loading weights" not in result.stderr  # inputs are checked before the model loads


@pytest.mark.parametrize(
    "name, message",
    [("notes.txt", "unsupported file extension '.txt'"), ("broken.mp4", "cannot decode video")],
)
def test_bad_files_in_process(checkpoint, inputs, tmp_path, capsys, name, message):
    bad = tmp_path / name
    bad.write_bytes(b"\0" * 4000)
    assert main(["describe", str(inputs["video"]), str(bad), "--model", str(checkpoint)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{bad}: {message}" in captured.err


def test_frames_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["describe", "x.mp4", "--frames", "0"])
    assert exit_info.value.code == 2
    assert "must be >= 1" in capsys.readouterr().err


def test_input_expansion_and_prompts(inputs, tmp_path):
    files = expand_inputs([inputs["video"], inputs["folder"]])
    assert [f.name for f in files] == ["clip.mp4", "a.png", "b.gif"]
    with pytest.raises(MediaError, match="no media files"):
        expand_inputs([tmp_path])
    assert prompt_for(files[0], None) == "<video>\nDescribe the video in detail."
    assert prompt_for(files[1], None) == "<video>\nDescribe the image in detail."
    assert prompt_for(files[0], "<video> What is shown?") == "<video>\nWhat is shown?"
