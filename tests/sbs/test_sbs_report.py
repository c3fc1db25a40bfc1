"""``report`` on a study with known answers: rates per source and overall, agreement, JSON and PNG."""

import json

import pytest
from _sbs_helpers import NAMES, answer
from PIL import Image

from lmms_tasks.sbs.cli import main
from lmms_tasks.sbs.report import build_report, format_summary, save_report


def test_report_numbers_per_source_and_overall(make_study, tmp_path):
    study, _ = make_study(annotators=2)
    # live_action clips (even ids 2, 4, 6, 8); animation clips (odd ids 1, 3, 5, 7)
    table = {
        "2": {"ann": "a", "bob": "a"},
        "4": {"ann": "a", "bob": "same"},
        "6": {"ann": "b", "bob": "b"},
        "1": {"ann": "same"},
        "3": {"ann": "a", "bob": "b"},
    }
    for clip_id, labels in table.items():
        for annotator, choice in labels.items():
            answer(study, annotator, clip_id, choice)
    results = build_report(study, resamples=500, seed=0)
    assert results["models"] == {"a": NAMES[0], "b": NAMES[1]}
    live, animation = (
        results["human"]["per_source"]["DREAM/live_action"],
        results["human"]["per_source"]["DREAM/animation"],
    )
    # live action: clip 2 win 1; clip 4 win 1/2 same 1/2; clip 6 loss 1 -> win 1/2, same 1/6, loss 1/3
    assert (live["n_clips"], live["n_labels"]) == (3, 6)
    assert live["win"] == pytest.approx(1 / 2) and live["same"] == pytest.approx(1 / 6)
    assert live["loss"] == pytest.approx(1 / 3) and live["advantage"] == pytest.approx(1 / 6)
    # animation: clip 1 same; clip 3 win 1/2 loss 1/2 -> win 1/4, same 1/2, loss 1/4, advantage 0
    assert (animation["win"], animation["same"], animation["loss"], animation["advantage"]) == (0.25, 0.5, 0.25, 0)
    overall = results["human"]["overall"]
    assert overall["n_clips"] == 5 and overall["advantage"] == pytest.approx((1 + 0.5 - 1 + 0 + 0) / 5)
    low, high = overall["advantage_ci95"]
    assert -1 <= low <= overall["advantage"] <= high <= 1
    agreement = results["human"]["agreement"]
    # clips with two answers: 2 (agree), 4, 6 (agree), 3 -> 2 of 4 pairs agree
    assert agreement["n_clips"] == 4 and agreement["percent_agreement"] == 0.5
    # ann: a a b a / bob: a same b b -> observed 2/4; chance (3*1 + 1*2 + 0*1) / 16 = 5/16
    assert agreement["cohen_kappa"]["ann | bob"]["kappa"] == pytest.approx((0.5 - 5 / 16) / (1 - 5 / 16))
    assert results["human"]["annotators"] == {"ann": 5, "bob": 4}
    assert results["llm"] == {}

    paths = save_report(results, tmp_path / "report")
    assert json.loads(paths["results"].read_text()) == json.loads(json.dumps(results))
    with Image.open(paths["plot"]) as image:
        assert image.format == "PNG" and image.width >= 600
    text = format_summary(results)
    assert "DREAM/live_action" in text and "+16.7%" in text and "Cohen's kappa ann | bob: 0.273" in text


def test_one_sided_study_and_the_cli(make_study, tmp_path, capsys):
    study, _ = make_study(annotators=1, sample=3)
    for pair in study.pairs():
        answer(study, "ann", pair["clip_id"], "b")
    results = build_report(study, resamples=100)
    assert results["human"]["overall"]["advantage"] == -1.0
    assert results["human"]["overall"]["advantage_ci95"] == [-1.0, -1.0]
    assert results["human"]["agreement"] is None  # one annotator per clip
    assert main(["report", str(study.directory), "--output-dir", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "OVERALL" in printed and "-100.0%" in printed
    assert (tmp_path / "out" / "sbs.png").is_file() and (tmp_path / "out" / "sbs_results.json").is_file()


def test_report_of_an_unanswered_study_still_writes(make_study, tmp_path):
    study, _ = make_study(sample=2)
    paths = save_report(build_report(study), tmp_path / "empty")
    assert json.loads(paths["results"].read_text())["human"]["overall"]["n_clips"] == 0
    assert paths["plot"].stat().st_size > 0
