"""``tarsier-eval score`` (in process): released-format prediction files, benchmark selection, results, exit codes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmms_tasks.autodq.cache import JudgeCache
from lmms_tasks.eval_cli import main

REPO = Path(__file__).resolve().parents[2]
DREAM1K = REPO.parent / "shared" / "data" / "dream1k" / "DREAM-1k.jsonl"


def line(dataset, idx, response, prediction, question="q?", prompt=None):
    text = {"prompt": prompt, "question": question, "response": response, "prediction": prediction}
    return json.dumps({"idx": idx, "dataset": dataset, "vid": f"v{idx}", "video_file": "<placeholder>", "text": text})


@pytest.fixture
def predictions(tmp_path):
    folder = tmp_path / "preds"
    folder.mkdir()
    (folder / "predictions_2_0.jsonl").write_text(
        "\n".join(
            [
                line("Next-QA-val-multi_choice", 0, "A", "A) roll"),
                line("Next-QA-val-multi_choice", 1, "B", "b"),
                line("Next-QA-val-multi_choice", 1, "B", "B"),  # a duplicate id: the first line counts, as released
                line("MVBench/Action Sequence", 0, "A", "A"),
                line("MVBench/Action Sequence", 1, "B", "A"),
                line("MVBench/Object Shuffle", 0, "C", "(C)"),
            ]
        )
        + "\n"
    )
    (folder / "predictions_2_1.jsonl").write_text(
        line("MSVD-QA-val", 0, "man", "A man is cooking.", question="who cooks?")
        + "\n"
        + line("MSVD-Caption-test", 0, ["a man is cooking", "someone cooks"], "a man is cooking", question=None)
        + "\n"
        + line("MSVD-Caption-test", 1, ["a dog runs", "the dog is running"], "a cat", question=None)
        + "\n"
    )
    return folder


def test_scores_every_benchmark_found_and_writes_results(
    predictions, tmp_path, judge_config, judge_server, monkeypatch, capsys
):
    judge_config()  # clears the judge environment
    monkeypatch.setenv("TARSIER_JUDGE_BASE_URL", judge_server.base_url)
    out = tmp_path / "scores"
    status = main(
        [
            "score",
            str(predictions),
            "--output-dir",
            str(out),
            "--cache-dir",
            str(tmp_path / "c"),
            "--quiet",
            "--frames",
            "8",
        ]
    )
    assert status == 3  # one failed parse ("b")
    nextqa = json.loads((out / "nextqa_mc_results.json").read_text())
    assert (
        nextqa["overall"]["n"] == 2
        and nextqa["overall"]["accuracy"] == 100.0
        and nextqa["overall"]["accuracy_all"] == 50.0
    )
    assert nextqa["failed_parse_ids"] == ["Next-QA-val-multi_choice_1"] and nextqa["protocol"]["frames"] == 8
    mvbench = json.loads((out / "mvbench_results.json").read_text())
    assert mvbench["overall"]["accuracy"] == pytest.approx((50.0 + 100.0) / 2)
    assert list(mvbench["per_subtask"]) == ["MVBench/Action Sequence", "MVBench/Object Shuffle"]
    qa = json.loads((out / "msvd_qa_results.json").read_text())
    assert qa["overall"]["accuracy"] == 100.0 and qa["overall"]["score"] == 4.0 and judge_server.calls == 1
    caption = json.loads((out / "msvd_caption_results.json").read_text())
    # CIDEr-D's document frequencies come from the scored set: with one clip every n-gram weighs 0, with two not.
    assert caption["overall"]["n"] == 2 and caption["overall"]["cider"] > 0
    assert len((out / "nextqa_mc_per_item.jsonl").read_text().splitlines()) == 2
    printed = capsys.readouterr()
    assert "nextqa_mc" in printed.out and "failed parses 1" in printed.out
    assert "egoschema: no rows" in printed.err


def test_bad_input_exits_1_with_the_reason(tmp_path, capsys):
    assert main(["score", str(tmp_path / "missing.jsonl")]) == 1
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"idx": 0, "dataset": "Next-QA-val-multi_choice", "text": {"response": "A"}}\n')
    assert main(["score", str(bad), "--benchmarks", "next-qa"]) == 1
    assert "no text.prediction (the model's answer)" in capsys.readouterr().err
    bad.write_text('{"idx": 0, "dataset": "Next-QA-val-multi_choice", "text": {"response": "A", "prediction": 3}}\n')
    assert main(["score", str(bad), "--benchmarks", "next-qa"]) == 1
    assert "text.prediction must be a string, got int" in capsys.readouterr().err
    assert main(["score", str(bad), "--benchmarks", "nope"]) == 1
    assert "unknown benchmark 'nope'" in capsys.readouterr().err
    bad.write_text(line("MSVD-QA-val", 0, "a", "b") + "\n")
    assert main(["score", str(bad), "--benchmarks", "nextqa_mc"]) == 1
    assert "no rows of nextqa_mc" in capsys.readouterr().err


def test_nothing_scored_is_an_error_and_unknown_datasets_are_named(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["score", str(empty), "--output-dir", str(tmp_path / "out")]) == 1
    assert "no rows of any selected benchmark" in capsys.readouterr().err
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text(line("Foo-Bench", 0, "A", "A") + "\n" + line("Foo-Bench", 1, "A", "B") + "\n")
    assert main(["score", str(unknown), "--output-dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "'Foo-Bench' (2)" in err and "no rows of any selected benchmark" in err
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(line("Foo-Bench", 0, "A", "A") + "\n" + line("Next-QA-val-multi_choice", 0, "A", "A") + "\n")
    assert main(["score", str(mixed), "--output-dir", str(tmp_path / "out"), "--quiet"]) == 0
    assert "were not scored: 'Foo-Bench' (1)" in capsys.readouterr().err
    assert not (tmp_path / "out" / "Foo-Bench_results.json").exists()


@pytest.mark.skipif(not DREAM1K.is_file(), reason="the DREAM-1K annotations are not in ../shared/data")
def test_dream_rows_are_scored_with_autodq(tmp_path, judge_config, judge_server, monkeypatch):
    judge_config()
    monkeypatch.setenv("TARSIER_JUDGE_BASE_URL", judge_server.base_url)
    preds = tmp_path / "dream.jsonl"
    preds.write_text(line("DREAM/movie_animation", 1, "ref", "A character emerges from smoke and fire.") + "\n")
    out = tmp_path / "scores"
    status = main(
        [
            "score",
            str(preds),
            "--benchmarks",
            "dream",
            "--annotations",
            str(DREAM1K),
            "--output-dir",
            str(out),
            "--cache-dir",
            str(tmp_path / "c"),
            "--quiet",
        ]
    )
    assert status == 0
    results = json.loads((out / "dream" / "autodq_results.json").read_text())
    assert results["n_scored"] == 1 and results["overall"]["recall"] == pytest.approx(1 / 5)


@pytest.mark.slow
def test_killed_mid_run_then_resumed_asks_nothing_twice_and_gives_the_same_numbers(
    tmp_path, judge_config, judge_server
):
    judge_config()
    judge_server.latency = 0.05
    preds = tmp_path / "qa.jsonl"
    preds.write_text(
        "".join(
            line("MSVD-QA-val", i, f"thing{i % 3}", f"I see thing{i % 2}.", question=f"q{i}?") + "\n" for i in range(40)
        )
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith(("OPENAI_", "TARSIER_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        "-m",
        "lmms_tasks.eval_cli",
        "score",
        str(preds),
        "--benchmarks",
        "msvd_qa",
        "--quiet",
        "--base-url",
        judge_server.base_url,
        "--concurrency",
        "4",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--output-dir",
        str(tmp_path / "out"),
    ]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while judge_server.calls < 20 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the scorer finished before it could be killed"
    with JudgeCache(tmp_path / "cache") as cache:
        finished = len(cache)
    assert 0 < finished < 40
    first = {request["prompt_sha"] for request in judge_server.requests}
    judge_server.reset()
    resumed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert resumed.returncode == 0, resumed.stderr
    second = [request["prompt_sha"] for request in judge_server.requests]
    assert len(second) == 40 - finished and len(first & set(second)) <= 4  # only calls in flight at the kill
    results = json.loads((tmp_path / "out" / "msvd_qa_results.json").read_text())
    # thing{i % 3} occurs in "I see thing{i % 2}." when i % 3 == i % 2, i.e. i % 6 in (0, 1): 14 of 40.
    assert results["overall"]["accuracy"] == pytest.approx(100 * 14 / 40) and results["n_failed"] == 0
