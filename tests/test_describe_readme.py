"""The README's Python example of `tarsier describe`'s loop, run exactly as written (the Hub id served from a local
Hugging Face cache that holds a tiny checkpoint under that name, offline)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from _describe_helpers import cli_env, hub_cache_with, write_media_set

from tarsier_hf.testing import save_tiny_checkpoint

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_describe_example() -> str:
    """The README's ```python block that calls the describe loop."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (example,) = [b for b in blocks if "from tarsier_hf.describe.runner import" in b]
    return example


def test_readme_python_example_runs_as_written(tmp_path):
    example = readme_describe_example()
    model_id = re.search(r'load_tarsier\("([^"]+)"\)', example).group(1)
    paths = re.search(r"\[(\"[^]]+\")\]", example).group(1)
    names = [name.strip().strip('"') for name in paths.split(",")]
    output = re.search(r'output="([^"]+)"', example).group(1)

    hub_cache_with(save_tiny_checkpoint(tmp_path / "tiny"), tmp_path / "hub", repo_id=model_id)
    media = write_media_set(tmp_path / "media", 4)  # 00_mp4.mp4, 01_mp4.mp4, 02_gif.gif, 03_png.png
    work = tmp_path / "work"
    work.mkdir()
    by_suffix = {p.suffix: p for p in media}
    for name in names:  # the example's file names, with media of their kind (a PNG is a fine ".jpg" for Pillow)
        shutil.copy(by_suffix.get(Path(name).suffix, media[3]), work / name)

    result = subprocess.run(
        [sys.executable, "-c", example],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env=cli_env(HF_HUB_CACHE=str(tmp_path / "hub")),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == f"described {len(names)} of {len(names)}, failed: []\n"
    records = [json.loads(line) for line in (work / output).read_text().splitlines()]
    assert [r["path"] for r in records] == names
    assert [r["model"] for r in records] == [""] * len(names)  # DescribeOptions.model_name was not given
    assert all(r["description"] and 0 < r["new_tokens"] <= 256 for r in records)
