"""Rebuild the committed excerpts under tests/data from the full data in ../shared/data (a maintainer's tool; the
tests only read the committed files). Usage: ``python tests/data/make_test_data.py [SHARED_DATA_DIR]``.

- ``dream1k/DREAM-1k-subset.jsonl``: 10 clips per source (50), lines copied verbatim and in file order. Each source
  has 5 odd and 5 even ids (the hand-worked metric tests alternate scores by parity) and holds the clips the tests
  name: 1-4 and 199-202 (the first clips, the first source boundary), 116 (double quotes in the reference), 649,
  804, 980, 981 (the four references without events), 801.
- ``tarsier_eval/``: not written here (chosen lines of the released evaluation annotations; see its README.md).
- ``videos/demo_small.mp4``: not rebuilt here; re-encoded once from ``videos/demo_test.mp4`` (same 1920x800 size,
  84 frames at 8 fps, libx264 crf 36, faststart) to make it small.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIRED = {1, 2, 3, 4, 116, 199, 200, 201, 202, 649, 801, 804, 980, 981}
PER_SOURCE = 10


def dream1k_subset(full: Path) -> list[str]:
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    rows = [(json.loads(line), line) for line in lines]
    chosen = set(REQUIRED)
    for source in sorted({row["dataset"] for row, _ in rows}):
        ids = [int(row["idx"]) for row, _ in rows if row["dataset"] == source]
        for parity in (1, 0):
            have = [i for i in ids if i in chosen and i % 2 == parity]
            # spread the fill over the source: every 17th clip of that parity, not yet chosen
            candidates = [i for i in ids[::17] + ids if i % 2 == parity and i not in chosen]
            for i in candidates[: PER_SOURCE // 2 - len(have)]:
                chosen.add(i)
    return [line for row, line in rows if int(row["idx"]) in chosen]


def main(shared: Path) -> None:
    subset = dream1k_subset(shared / "dream1k" / "DREAM-1k.jsonl")
    (HERE / "dream1k" / "DREAM-1k-subset.jsonl").write_text("".join(subset), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[1].parent / "shared" / "data")
