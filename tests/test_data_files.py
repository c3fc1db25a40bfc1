"""The committed test data (tests/data) is what tests/data/README.md says, and, where the full shared data is
present (``shared_data`` tests), a faithful excerpt of it."""

import numpy as np
import pytest
from _data import (
    DATA,
    DEMO_VIDEO,
    DREAM1K_SUBSET,
    SHARED_DEMO_VIDEO,
    SHARED_DREAM1K,
    SHARED_TARSIER_EVAL,
    TARSIER_EVAL,
    shared_data_path,
)

from tarsier_hf.video_io import load_frames

EVAL_FILES = [
    "EgoSchema_subset.jsonl",
    "MSVD-Caption-test.jsonl",
    "MSVD-QA-val.jsonl",
    "Next-QA-val-multi_choice.jsonl",
]


def test_committed_data_is_small_and_licensed():
    sizes = {path.relative_to(DATA).as_posix(): path.stat().st_size for path in DATA.rglob("*") if path.is_file()}
    assert sum(sizes.values()) < 2_000_000, sizes
    license_text = (DATA / "LICENSE-tarsier-annotations.txt").read_text()
    assert "Apache License" in license_text and "Version 2.0" in license_text
    assert set(EVAL_FILES) <= {path.name for path in TARSIER_EVAL.glob("*.jsonl")}


def test_demo_clip_geometry():
    frames = load_frames(DEMO_VIDEO, 3)
    assert frames.shape == (3, 800, 1920, 3)


@pytest.mark.shared_data
def test_dream1k_subset_lines_are_verbatim_lines_of_the_full_file():
    full = set(shared_data_path(SHARED_DREAM1K).read_text(encoding="utf-8").splitlines())
    subset = DREAM1K_SUBSET.read_text(encoding="utf-8").splitlines()
    assert len(subset) == 50 and all(line in full for line in subset)


@pytest.mark.shared_data
def test_eval_excerpts_are_verbatim_lines_of_the_released_files():
    for name in EVAL_FILES:
        full = set(shared_data_path(SHARED_TARSIER_EVAL / name).read_text(encoding="utf-8").splitlines())
        excerpt = (TARSIER_EVAL / name).read_text(encoding="utf-8").splitlines()
        assert excerpt and all(line in full for line in excerpt), name


@pytest.mark.shared_data
def test_demo_clip_is_the_shared_clip_re_encoded():
    original = load_frames(shared_data_path(SHARED_DEMO_VIDEO), 8).astype(np.float64)
    small = load_frames(DEMO_VIDEO, 8).astype(np.float64)
    assert small.shape == original.shape
    psnr = 10 * np.log10(255**2 / np.mean((small - original) ** 2))
    assert psnr > 30, psnr  # the same frames at the same indices, only more compressed
