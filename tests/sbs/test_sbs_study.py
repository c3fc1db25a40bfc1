"""Creating a study, the stored order and mapping, answers (one per annotator and clip), the CLI's create."""

import json
import subprocess
import sys

import pytest
from _sbs_helpers import CLIP_IDS, NAMES, source_of

from lmms_tasks.sbs.cli import main
from lmms_tasks.sbs.create import create_study
from lmms_tasks.sbs.store import Study, StudyError, side_to_choice


def test_create_reads_both_files_and_the_annotations(make_study, sbs_inputs):
    study, summary = make_study()
    assert summary["n_pairs"] == summary["n_common"] == len(CLIP_IDS)
    assert summary["only_a"] == ["99"] and summary["only_b"] == []
    assert summary["missing_videos"] == []
    pairs = study.pairs()
    assert sorted(pair["clip_id"] for pair in pairs) == sorted(CLIP_IDS)
    for pair in pairs:
        assert pair["source"] == source_of(pair["clip_id"])
        assert pair["reference"] == f"A man walks to the door in clip {pair['clip_id']}."
        assert pair["text_a"].startswith(f"Clip {pair['clip_id']}: a man walks")
        assert pair["text_b"].startswith(f"Clip {pair['clip_id']}: a man sits")
        assert pair["video"].startswith(str(sbs_inputs["videos"])) and f"video_{pair['clip_id']}." in pair["video"]
    assert study.meta("names") == {"a": NAMES[0], "b": NAMES[1]}
    assert "blind person" in study.meta("guide") and "2407.00634" in study.meta("guide_source")["paper"]
    assert 0 < summary["a_on_left"] < len(CLIP_IDS)  # both orders occur


def test_same_seed_same_study_other_seed_other_order(make_study):
    first, _ = make_study(seed=3, sample=5)
    again, _ = make_study(seed=3, sample=5)
    other, _ = make_study(seed=4, sample=5)
    layout = [(p["clip_id"], p["a_on_left"]) for p in first.pairs()]
    assert layout == [(p["clip_id"], p["a_on_left"]) for p in again.pairs()]
    assert layout != [(p["clip_id"], p["a_on_left"]) for p in other.pairs()]
    assert len(layout) == 5 and len({clip for clip, _ in layout}) == 5


def test_sources_fall_back_to_the_predictions_then_to_all(sbs_inputs, tmp_path):
    study, _ = create_study(tmp_path / "s1", sbs_inputs["pred_a"], sbs_inputs["pred_b"])
    assert {p["source"] for p in study.pairs()} == set(map(source_of, CLIP_IDS))
    assert all(p["reference"] is None and p["video"] is None for p in study.pairs())
    study, _ = create_study(tmp_path / "s2", sbs_inputs["pred_b"], sbs_inputs["pred_a"])  # B's file has no source
    assert {p["source"] for p in study.pairs()} == {"all"}


def test_bad_inputs_are_named(sbs_inputs, tmp_path):
    with pytest.raises(StudyError, match="different names"):
        create_study(tmp_path / "x", sbs_inputs["pred_a"], sbs_inputs["pred_b"], names=("M", "M"))
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"idx": "500", "prediction": "x"}) + "\n")
    with pytest.raises(StudyError, match="no clip id in common"):
        create_study(tmp_path / "x", sbs_inputs["pred_a"], other)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"idx": 1, "prediction": "x"}\nnot json\n')
    with pytest.raises(ValueError, match=r"broken.jsonl:2: not valid JSON"):
        create_study(tmp_path / "x", sbs_inputs["pred_a"], broken)
    create_study(tmp_path / "twice", sbs_inputs["pred_a"], sbs_inputs["pred_b"])
    with pytest.raises(StudyError, match="already holds a study"):
        create_study(tmp_path / "twice", sbs_inputs["pred_a"], sbs_inputs["pred_b"])
    with pytest.raises(StudyError, match="not a side-by-side study"):
        Study(tmp_path / "nowhere")


def test_side_maps_through_the_stored_order():
    assert side_to_choice("left", True) == "a" and side_to_choice("right", True) == "b"
    assert side_to_choice("left", False) == "b" and side_to_choice("right", False) == "a"
    assert side_to_choice("same", False) == "same"
    with pytest.raises(StudyError, match="unknown answer"):
        side_to_choice("a", True)


def test_answers_are_stored_once_and_next_pair_respects_the_target(make_study):
    study, _ = make_study(annotators=2)
    assert study.next_position("ann") == 0
    first = study.pair(0)
    stored = study.record_answer("ann", 0, "left", "  fine  ")
    assert stored["choice"] == ("a" if first["a_on_left"] else "b") and stored["comment"] == "fine"
    study.record_answer("ann", 0, "same")  # a revision replaces the answer
    assert [(a["annotator"], a["choice"]) for a in study.answers()] == [("ann", "same")]
    assert study.next_position("ann") == 1 and study.next_position("bob") == 0
    study.record_answer("bob", 0, "right")
    assert study.next_position("cy") == 1  # pair 0 has its 2 annotators
    assert study.progress() == {
        "pairs": len(CLIP_IDS),
        "annotators_target": 2,
        "complete": 1,
        "per_annotator": {"ann": 1, "bob": 1},
    }
    assert study.last_answered_position("bob") == 0 and study.last_answered_position("cy") is None
    with pytest.raises(StudyError, match="no pair at position"):
        study.record_answer("ann", 99, "left")
    with pytest.raises(StudyError, match="annotator name"):
        study.record_answer("  ", 1, "left")


def test_cli_create_prints_what_it_skipped(sbs_inputs, tmp_path, capsys):
    command = [
        sys.executable,
        "-m",
        "lmms_tasks.sbs.cli",
        "create",
        str(tmp_path / "study"),
        "--a",
        str(sbs_inputs["pred_a"]),
        "--b",
        str(sbs_inputs["pred_b"]),
        "--names",
        *NAMES,
        "--sample",
        "4",
        "--seed",
        "1",
        "--annotators",
        "1",
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "4 pairs of 8 common clips" in done.stdout and "only in A's predictions: 99" in done.stdout
    assert main(command[3:]) == 1  # in-process: the second run refuses the existing study
    assert "already holds a study" in capsys.readouterr().err
    with Study(tmp_path / "study") as study:
        assert len(study) == 4 and study.meta("annotators") == 1
