"""Where the tests' data lives: the one place that names these paths.

- ``tests/data/`` (committed, small; provenance and license in ``tests/data/README.md``): a DREAM-1K annotation
  subset (50 clips, all 5 sources, the 4 references without events), the demo clip re-encoded small, and the first
  lines of Tarsier's released evaluation annotations. Every test that runs by default reads only these.
- the full shared data (``../shared/data`` next to the checkout, or ``$TARSIER_SHARED_DATA``): the 1000-clip
  DREAM-1K file, the original demo clip and the full evaluation annotations. Only tests marked ``shared_data`` use
  it, through :func:`shared_data_path`, which skips with the reason when it is absent (e.g. in a plain clone).
"""

import os
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent
DATA = TESTS_DIR / "data"

# 1920x800, 84 frames at 8 fps, re-encoded small from the shared demo_test.mp4. Not named demo_test.mp4: the
# decoder-parity tests compare hashes of the ORIGINAL clip's frames and look for that name under tests/data first.
DEMO_VIDEO = DATA / "videos" / "demo_small.mp4"
DREAM1K_SUBSET = DATA / "dream1k" / "DREAM-1k-subset.jsonl"
TARSIER_EVAL = DATA / "tarsier_eval"

SHARED_DATA_ENV = "TARSIER_SHARED_DATA"
SHARED_DATA = Path(os.environ.get(SHARED_DATA_ENV) or REPO.parent / "shared" / "data")
SHARED_DREAM1K = SHARED_DATA / "dream1k" / "DREAM-1k.jsonl"
SHARED_DEMO_VIDEO = SHARED_DATA / "videos" / "demo_test.mp4"
SHARED_TARSIER_EVAL = SHARED_DATA / "tarsier_eval"


def shared_data_path(path: Path) -> Path:
    """``path`` inside the full shared data, or skip the calling test saying what is missing and how to provide it."""
    if not path.exists():
        pytest.skip(
            f"full shared data not available: {path} is missing (set {SHARED_DATA_ENV} to a folder with "
            "dream1k/DREAM-1k.jsonl, videos/demo_test.mp4 and tarsier_eval/; the default is ../shared/data next to "
            "the checkout). The committed subsets in tests/data cover the same code."
        )
    return path
