"""Fixtures for the side-by-side tests: two small predictions files, DREAM-1K-style annotations, real video files
(generated with PyAV by ``tests/_proc_media.py``) and a study made from them."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared media helpers

from _proc_media import write_video
from _sbs_helpers import CLIP_IDS, NAMES, source_of

from lmms_tasks.sbs.create import create_study


@pytest.fixture(scope="session")
def sbs_inputs(tmp_path_factory) -> dict:
    """``pred_a`` / ``pred_b`` (A's descriptions say "walks", B's "sits"; clip 99 only in A), ``annotations``
    (Hub ``metadata.json`` layout, with references and video names) and ``videos`` (mp4, one .avi)."""
    root = tmp_path_factory.mktemp("sbs_inputs")
    files = {"pred_a": root / "a.jsonl", "pred_b": root / "b.jsonl", "annotations": root / "metadata.json"}
    with files["pred_a"].open("w") as a, files["pred_b"].open("w") as b:
        for clip_id in CLIP_IDS:
            a.write(
                json.dumps(
                    {
                        "idx": clip_id,
                        "source": source_of(clip_id),
                        "prediction": f"Clip {clip_id}: a man walks to the door, then opens it.",
                    }
                )
                + "\n"
            )
            b.write(json.dumps({"idx": int(clip_id), "prediction": f"Clip {clip_id}: a man sits on a chair."}) + "\n")
        a.write(json.dumps({"idx": "99", "prediction": "only in A"}) + "\n")
    files["annotations"].write_text(
        json.dumps(
            [
                {
                    "idx": clip_id,
                    "source": source_of(clip_id),
                    "description": f"A man walks to the door in clip {clip_id}.",
                    "events": [],
                    "video_file": f"video_{clip_id}.mp4",
                }
                for clip_id in CLIP_IDS
            ]
        )
    )
    videos = root / "videos"
    videos.mkdir()
    for clip_id in CLIP_IDS[:-1]:
        write_video(videos / f"video_{clip_id}.mp4", num_frames=12, width=64, height=48)
    write_video(videos / f"video_{CLIP_IDS[-1]}.avi", num_frames=12, width=64, height=48)
    files["videos"] = videos
    return files


@pytest.fixture
def make_study(sbs_inputs, tmp_path):
    """``make_study(**overrides)``: a study over ``sbs_inputs`` in a fresh folder; returns ``(study, summary)``."""
    counter = iter(range(1000))

    def make(**overrides):
        settings = {
            "names": NAMES,
            "annotations": sbs_inputs["annotations"],
            "videos": sbs_inputs["videos"],
            "annotators": 2,
            "seed": 0,
            **overrides,
        }
        return create_study(tmp_path / f"study{next(counter)}", sbs_inputs["pred_a"], sbs_inputs["pred_b"], **settings)

    return make
