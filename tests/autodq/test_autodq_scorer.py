"""End-to-end scoring on real DREAM-1K clips with the local judge: hand-worked clips, edge cases, cache, outputs.

The local judge's rule (``lmms_tasks.autodq.testing``): an event is entailed when it occurs in the description
(lowercased, trailing period dropped); prediction events are the sentences of the (normalised) prediction.
"""

import json
import logging

import pytest

from lmms_tasks.autodq import PROMPT_HASH, AutoDQScorer, JudgeCache, JudgeConfig, default_cache_dir

CLIP_1 = "A character emerges from smoke and fire. The character half kneels on the ground. A dog barks."


def test_hand_worked_clip(make_scorer, annotations):
    report = make_scorer().score({"1": CLIP_1}, annotations)
    clip = report.per_clip[0]
    assert clip["ref_events_from"] == "annotation"
    assert clip["ref_events"] == annotations["1"]["events"]
    assert clip["pred_events"] == [
        "a character emerges from smoke and fire",
        "the character half kneels on the ground",
        "a dog barks",
    ]
    assert [item["relationship"] for item in clip["recall_judgments"]] == [
        "entailment",
        "entailment",
        "neutral",
        "neutral",
        "neutral",
    ]
    assert [item["relationship"] for item in clip["precision_judgments"]] == ["entailment", "neutral", "neutral"]
    assert (clip["recall_hits"], clip["precision_hits"]) == (2, 1)
    assert (clip["recall"], clip["precision"]) == (0.4, 1 / 3)
    overall = report.results["overall"]
    assert overall["f1"] == pytest.approx(2 * 0.4 / 3 / (0.4 + 1 / 3))


def test_reference_events_are_sent_verbatim_and_quotes_are_replaced_only_for_extraction(make_scorer, annotations):
    # Clip 116's reference, used as the prediction. Its first sentence holds "For Sale": extraction sees
    # 'for sale' (released: caption.replace('"', "'")), so that event no longer occurs in the reference's
    # lowercased text, which keeps its double quotes: precision 4/5 rather than 5/5.
    reference = annotations["116"]["reference"]
    clip = make_scorer().score({"116": reference}, annotations).per_clip[0]
    assert (
        clip["pred_events"][0]
        == "a blonde woman stands at the entrance of a house, holding a green 'for sale' sign in her hand"
    )
    assert [item["relationship"] for item in clip["precision_judgments"]] == ["neutral"] + ["entailment"] * 4
    assert clip["precision"] == 0.8
    # Reference events go into the prompt as annotated (capitalised); 2 of the 10 occur in the text:
    # "woman walks forward a few steps" and "silhouettes have moved on".
    assert clip["recall_judgments"][0]["event"] == "Blonde woman stands at house entrance."
    assert clip["recall_hits"] == 2 and clip["recall"] == 0.2


def test_a_reference_without_events_scores_recall_one_whatever_the_judge_says(make_scorer, annotations):
    # Clip 649 has events == []: the judge is asked about the lowercased reference itself, and the recall is 1.0
    # although this judge calls it neutral (released: motion_score = 1.0 when there are no events).
    clip = make_scorer().score({"649": "A man skates on the ice."}, annotations).per_clip[0]
    assert clip["ref_events"] == []
    assert [item["event"] for item in clip["recall_judgments"]] == [annotations["649"]["reference"].lower()]
    assert clip["recall_judgments"][0]["relationship"] == "neutral"
    assert clip["recall"] == 1.0
    assert clip["pred_events"] == ["a man skates on the ice"] and clip["precision"] == 0.0


@pytest.mark.parametrize("prediction", ["", "...", "\n"])
def test_a_prediction_without_events_scores_precision_one(make_scorer, annotations, prediction):
    clip = make_scorer().score({"1": prediction}, annotations).per_clip[0]
    assert clip["pred_events"] == []
    assert [item["event"] for item in clip["precision_judgments"]] == [prediction.lower().replace("\n", " ")]
    assert clip["precision"] == 1.0
    assert clip["recall"] == 0.0


def test_reference_events_are_extracted_only_when_absent(make_scorer, annotations, judge_server):
    without_events = {**annotations, "1": {**annotations["1"], "events": None}}
    reference = annotations["1"]["reference"]
    clip = make_scorer().score({"1": reference + " A dog barks."}, without_events).per_clip[0]
    assert clip["ref_events_from"] == "extracted"
    assert clip["ref_events"] == [reference.lower().rstrip(".")]  # one sentence: one event
    assert clip["recall"] == 1.0 and clip["precision"] == 0.5
    assert [request["kind"] for request in judge_server.requests].count("extract_events") == 2


def test_rescoring_from_the_cache_makes_no_call_and_is_bit_identical(make_scorer, annotations, judge_server, tmp_path):
    predictions = {
        idx: " ".join(annotations[idx]["events"][: int(idx) % 4]) + f" Person {idx} waves."
        for idx in list(annotations)[:12]
    }
    predictions.update({"649": "", "804": "Three characters sit."})
    first = make_scorer(cache_dir=tmp_path / "cache").score(predictions, annotations, protocol={"frames": 8})
    calls = judge_server.calls
    assert calls == 3 * len(predictions) and first.results["judge_stats"]["requests"] == calls
    assert len(JudgeCache(tmp_path / "cache")) == calls
    second = make_scorer(cache_dir=tmp_path / "cache").score(predictions, annotations, protocol={"frames": 8})
    assert judge_server.calls == calls
    assert second.results["judge_stats"]["requests"] == 0 and second.results["judge_stats"]["cache_hits"] == calls

    def numbers(results):
        return json.dumps({key: value for key, value in results.items() if key != "judge_stats"}, sort_keys=True)

    assert numbers(second.results) == numbers(first.results)
    assert second.per_clip == first.per_clip
    # another judge model is another cache entry
    make_scorer(cache_dir=tmp_path / "cache", model="another-judge").score({"1": predictions["1"]}, annotations)
    assert judge_server.calls == calls + 3


def test_without_cache_nothing_is_written_and_nothing_reused(judge_server, annotations, tmp_path, monkeypatch):
    monkeypatch.setenv("TARSIER_AUTODQ_CACHE", str(tmp_path / "default-cache"))
    scorer = AutoDQScorer(JudgeConfig(base_url=judge_server.base_url), use_cache=False, show_progress=False)
    first = scorer.score({"1": CLIP_1}, annotations)
    second = scorer.score({"1": CLIP_1}, annotations)
    assert judge_server.calls == 6 and second.results["overall"] == first.results["overall"]
    assert first.results["judge_stats"]["cache_dir"] is None
    assert not (tmp_path / "default-cache").exists()


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("TARSIER_AUTODQ_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert default_cache_dir() == tmp_path / "hf" / "tarsier_hf" / "autodq"
    monkeypatch.setenv("TARSIER_AUTODQ_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("TARSIER_AUTODQ_CACHE")
    monkeypatch.delenv("HF_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "tarsier_hf" / "autodq"


def test_an_unusable_cache_folder_is_a_clear_error(make_scorer, annotations, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError):
        make_scorer(cache_dir=blocker).score({"1": CLIP_1}, annotations)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "judge_cache.sqlite3").mkdir()
    with pytest.raises(OSError, match="cannot open the AutoDQ judge cache"):
        make_scorer(cache_dir=tmp_path / "dir").score({"1": CLIP_1}, annotations)


def test_results_carry_counts_protocol_and_no_key(make_scorer, annotations, caplog):
    scorer = make_scorer(api_key="sk-very-secret")
    with caplog.at_level(logging.WARNING):
        report = scorer.score(
            {"1": CLIP_1, "201": "A person talks."},
            annotations,
            protocol={"frames": 8, "sampling": "greedy", "prompt": "Describe the video in detail.", "judge_model": "x"},
        )
    results = report.results
    assert (results["n_scored"], results["n_failed"], results["failed_ids"]) == (2, 0, [])
    assert (results["n_predictions"], results["n_annotations"]) == (2, 50)
    assert set(results["per_source"]) == {"DREAM/movie_animation", "DREAM/movie_live_action"}
    assert set(results["buckets"]) == {"subjects", "shots", "events"}
    low, high = results["f1_ci95"]
    assert low <= results["overall"]["f1"] <= high
    protocol = results["protocol"]
    assert (protocol["frames"], protocol["sampling"], protocol["prompt"]) == (
        8,
        "greedy",
        "Describe the video in detail.",
    )
    assert protocol["judge_model"] == "gpt-3.5-turbo-0125"  # the scorer's own entries win over the caller's
    assert protocol["prompt_hash"] == PROMPT_HASH and protocol["temperature"] == 0.0
    assert protocol["package_versions"]["openai"] and protocol["package_versions"]["numpy"]
    assert "sk-very-secret" not in json.dumps(results)
    assert any("48 of 50 annotated clips have no prediction" in message for message in caplog.messages)


def test_save_writes_results_per_clip_rows_and_plot(make_scorer, annotations, tmp_path):
    report = make_scorer().score({"1": CLIP_1, "649": "", "801": "A person dances."}, annotations)
    paths = report.save(tmp_path / "out")
    assert json.loads(paths["results"].read_text()) == report.results
    rows = [json.loads(line) for line in paths["per_clip"].read_text().splitlines()]
    assert [row["idx"] for row in rows] == ["1", "649", "801"]
    assert rows[0]["recall_judgments"][0]["relationship"] == "entailment"
    png = paths["plot"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


@pytest.mark.parametrize(
    "predictions, error, problem",
    [
        ({"5000": "text"}, ValueError, "not in the annotations"),
        ({"1": None}, ValueError, "not a string"),
        ({1: "a", "1": "b"}, ValueError, "appears twice"),
        ({}, ValueError, "no predictions"),
        (["1", "text"], TypeError, "must be a dict"),
    ],
)
def test_bad_predictions_are_refused_before_any_call(
    make_scorer, annotations, judge_server, predictions, error, problem
):
    with pytest.raises(error, match=problem):
        make_scorer().score(predictions, annotations)
    assert judge_server.calls == 0
