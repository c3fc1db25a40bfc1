"""Tiny training data for the trl_recipes tests, generated on the fly: videos (PyAV), images (Pillow), JSONL rows.

Videos come from ``tests/_proc_media.py``: every frame is a flat colour encoding its index, so the frames a
collator sampled can be read back from ``pixel_values``-independent decodes.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _proc_media import write_image, write_truncated_video, write_video

CAPTIONS = [
    "A cat jumps onto the table.",
    "A woman is singing on a stage.",
    "The camera pans to the left.",
    "A dog runs across the green field.",
    "Someone pours water into a glass.",
    "A car drives down a road at night.",
    "Two characters talk to each other.",
    "A man walks into the room.",
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def make_media(root: Path, num_videos: int = 8, num_images: int = 4, frames: int = 20) -> Path:
    """``root/videos/v{i}.mp4`` and ``root/images/i{i}.png``; returns ``root``."""
    (root / "videos").mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(parents=True, exist_ok=True)
    for i in range(num_videos):
        if not (root / "videos" / f"v{i}.mp4").exists():
            write_video(root / "videos" / f"v{i}.mp4", num_frames=frames, width=32, height=32)
    for i in range(num_images):
        if not (root / "images" / f"i{i}.png").exists():
            write_image(root / "images" / f"i{i}.png", width=30, height=20, seed=i)
    return root


def stage2_rows(num: int = 8) -> list[dict]:
    """Conversational video rows (paths relative to the media root)."""
    return [
        {
            "id": f"s2-{i}",
            "video": f"videos/v{i % 8}.mp4",
            "messages": [
                {"role": "user", "content": "<video>\nDescribe the video in detail."},
                {"role": "assistant", "content": CAPTIONS[i % len(CAPTIONS)]},
            ],
        }
        for i in range(num)
    ]


__all__ = [
    "CAPTIONS",
    "make_media",
    "stage2_rows",
    "write_image",
    "write_jsonl",
    "write_truncated_video",
    "write_video",
]
