"""Decoding errors name the missing package, in the checkpoint's own (trust_remote_code) copy of the processor run in
an environment without Pillow / PyAV / decord (simulated: those packages are hidden from the import system)."""

import json
import os
import subprocess
import sys

import pytest
from _video_frames_media import write_clip

from tarsier_hf.convert import convert
from tarsier_hf.testing import save_tiny_checkpoint

# Hides packages as if not installed (imports fail, importlib.util.find_spec says None), then loads the processor
# from the checkpoint folder with trust_remote_code and decodes a clip; prints where it stopped and the message.
REMOTE_CODE_SCRIPT = r"""
import importlib.abc, importlib.util, json, sys
folder, hidden, video = sys.argv[1], set(sys.argv[2].split(",")), sys.argv[3]

class Hidden(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in hidden:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Hidden())
real_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: (
    None if name.split(".")[0] in hidden else real_find_spec(name, package))
from transformers import AutoProcessor
try:
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
except ImportError as error:
    print(json.dumps({"stage": "load", "error": str(error)})); raise SystemExit
try:
    processor(text="Describe.", videos=video, return_tensors="pt")
    print(json.dumps({"stage": "done", "error": ""}))
except Exception as error:
    print(json.dumps({"stage": "decode", "error": str(error)}))
"""


@pytest.fixture(scope="module")
def native_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("remote")
    return convert(str(save_tiny_checkpoint(folder / "official", layout="legacy", seed=3)), str(folder / "native"))


def _run(folder, hidden, video, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_MODULES_CACHE"] = str(tmp_path / "modules")
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_CODE_SCRIPT, str(folder), ",".join(hidden), str(video)],
        check=False, capture_output=True, text=True, timeout=300, env=env,
        cwd=tmp_path, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_remote_code_names_the_missing_packages(native_checkpoint, tmp_path):
    video = write_clip(tmp_path / "clip.avi", "mpeg4", 10, 10)
    without_pillow = _run(native_checkpoint, ["tarsier_hf", "PIL", "av", "decord"], video, tmp_path)
    assert without_pillow == {"stage": "load", "error": "Pillow is not installed (pip install pillow)"}
    # the processor loads; decoding then names PyAV (with decord present, it also says why decord alone won't do)
    without_pyav = _run(native_checkpoint, ["tarsier_hf", "av"], video, tmp_path)
    assert without_pyav["stage"] == "decode"
    try:
        import decord  # noqa: F401
    except ImportError:
        expected = (
            f"{video}: cannot decode video, no video decoder is installed: PyAV is not installed (pip install av)"
        )
        assert without_pyav["error"] == expected
    else:
        assert without_pyav["error"].startswith(f"{video}: PyAV is not installed (pip install av); decord alone")
