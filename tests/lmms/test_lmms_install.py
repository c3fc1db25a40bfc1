"""The README's CPU install, run as written into a fresh virtualenv, gives a working ``lmms-eval --model tarsier``.

This is the test that catches an upstream release breaking the install (filelock 4.3 did: lmms-eval died at start and
exited 0). It installs with the locked versions (``.ci/constraints.txt``) from PyPI, so it needs the network and
skips without it; pip's cache makes it a couple of minutes after ``.ci/run`` has installed the same versions.
"""

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _lmms_harness import load_run, output_of

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.network]


def readme_cpu_install() -> list[list[str]]:
    """The ``pip install`` lines of the README's CPU-only install block, torch's excluded (installed first, as
    ``.ci/run`` does: this machine's pip finds the CPU build without PyTorch's index)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    block = next(b for b in blocks if '--no-deps "lmms-eval' in b)
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    commands = [shlex.split(line) for line in lines if line.startswith("pip install")]
    assert commands[0][:3] == ["pip", "install", "torch"], "the README's CPU install starts with the CPU torch"
    return commands[1:]


def pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


def test_readme_cpu_install_runs_dream1k_in_a_fresh_venv(tmp_path, lmms_env, tiny_checkpoint):
    if not pypi_reachable():
        pytest.skip("needs PyPI to install into a fresh virtualenv (network test)")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["PIP_CONSTRAINT"] = str(REPO / ".ci" / "constraints.txt")

    def pip(*args: str) -> None:
        process = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *args], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert process.returncode == 0, output_of(process)

    pip("torch==2.13.0")
    for command in readme_cpu_install():
        pip(*command[2:])

    listed = subprocess.run([str(python), "-m", "pip", "list"], capture_output=True, text=True, env=env).stdout
    assert "torchvision" not in listed and "nvidia-" not in listed, listed
    assert re.search(r"^torch\s+2\.13\.0\+cpu$", listed, flags=re.M), listed

    lmms_env["PATH"] = f"{venv / 'bin'}{os.pathsep}{lmms_env['PATH']}"
    lmms_env.pop("PYTHONPATH", None)
    model_args = f"pretrained={tiny_checkpoint},num_frames=2,max_new_tokens=4"
    command = [str(venv / "bin" / "lmms-eval"), "--model", "tarsier", "--model_args", model_args, "--tasks", "dream1k"]
    command += ["--limit", "2", "--output_path", str(tmp_path / "out"), "--log_samples"]
    process = subprocess.run(command, env=lmms_env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    results, samples = load_run(tmp_path / "out", process)
    assert results["results"]["dream1k"]["autodq_n_scored,none"] == 2, output_of(process)
    assert len(samples) == 2 and all(sample["autodq"]["prediction"] for sample in samples)
