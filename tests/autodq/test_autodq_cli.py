"""``tarsier-autodq score``: in process, and as a real subprocess killed mid-run and resumed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmms_tasks.autodq import AutoDQScorer, JudgeCache, JudgeConfig
from lmms_tasks.autodq.cli import main, read_predictions

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def some_predictions(annotations, count: int) -> dict[str, str]:
    ids = list(annotations)[:: max(1, len(annotations) // count)][:count]
    return {idx: " ".join(annotations[idx]["events"][: int(idx) % 5]) + f" Person {idx} waves." for idx in ids}


def cli_arguments(predictions_path, dream1k_path, server, tmp_path, *extra):
    return [
        "score",
        str(predictions_path),
        "--annotations",
        str(dream1k_path),
        "--base-url",
        server.base_url,
        "--cache-dir",
        str(tmp_path / "cache"),
        "--output-dir",
        str(tmp_path / "out"),
        "--quiet",
        *extra,
    ]


def test_cli_scores_and_writes_everything(tmp_path, dream1k_path, annotations, judge_server, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    predictions = some_predictions(annotations, 6)
    path = write_jsonl(
        tmp_path / "preds.jsonl", [{"idx": int(idx), "prediction": text} for idx, text in predictions.items()]
    )
    code = main(
        cli_arguments(
            path, dream1k_path, judge_server, tmp_path, "--protocol", "frames=8", "--protocol", "sampling=greedy"
        )
    )
    assert code == 0
    results = json.loads((tmp_path / "out" / "autodq_results.json").read_text())
    assert (
        results["n_scored"] == 6 and results["protocol"]["frames"] == 8 and results["protocol"]["sampling"] == "greedy"
    )
    assert results["protocol"]["predictions_file"] == str(path.resolve())
    assert len((tmp_path / "out" / "autodq_per_clip.jsonl").read_text().splitlines()) == 6
    assert (tmp_path / "out" / "autodq.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "OVERALL" in printed and f"{results['overall']['f1']:6.3f}" in printed and "judge: 18 requests" in printed


def test_cli_exit_status_says_when_clips_failed(tmp_path, dream1k_path, annotations, judge_server, capsys):
    path = write_jsonl(
        tmp_path / "preds.jsonl", [{"id": "1", "text": "A cat sleeps."}, {"id": "2", "text": "A dog runs."}]
    )
    judge_server.inject("malformed", times=2, kind="extract_events", match="a cat sleeps")
    assert main(cli_arguments(path, dream1k_path, judge_server, tmp_path, "--max-reasks", "1")) == 3
    assert "WARNING: 1 clips FAILED and are EXCLUDED: 1" in capsys.readouterr().out


def test_cli_bad_input_is_a_clear_error(tmp_path, dream1k_path, judge_server, capsys):
    path = tmp_path / "preds.jsonl"
    path.write_text('{"idx": 1, "prediction": "a"}\n{"idx": 2}\n')
    assert main(cli_arguments(path, dream1k_path, judge_server, tmp_path)) == 1
    assert f"{path}:2: no prediction text field" in capsys.readouterr().err
    assert judge_server.calls == 0

    path.write_text('{"idx": 1, "prediction": "a"}\n')
    taken = tmp_path / "taken"
    taken.write_text("a file where the output folder should go")
    arguments = cli_arguments(path, dream1k_path, judge_server, tmp_path)
    assert main([*arguments, "--output-dir", str(taken)]) == 1
    assert f"--output-dir {taken} is a file, not a folder" in capsys.readouterr().err
    arguments[arguments.index("--base-url") + 1] = "notaurl"
    assert main(arguments) == 1
    assert "judge base URL must be an http(s) URL" in capsys.readouterr().err
    assert judge_server.calls == 0  # both found before any judge call


def test_prediction_files_in_several_layouts(tmp_path):
    tarsier = write_jsonl(
        tmp_path / "tarsier.jsonl",
        [
            {
                "idx": 3,
                "dataset": "DREAM/movie_animation",
                "text": {"prompt": "p", "response": "ref", "prediction": "pred"},
            }
        ],
    )
    assert read_predictions(tarsier) == {"3": "pred"}
    custom = write_jsonl(tmp_path / "custom.jsonl", [{"doc_id": 4, "answer": "x"}])
    assert read_predictions(custom, id_field="doc_id", text_field="answer") == {"4": "x"}
    duplicated = write_jsonl(tmp_path / "dup.jsonl", [{"idx": 5, "text": "a"}, {"idx": "5", "text": "b"}])
    with pytest.raises(ValueError, match=r"dup.jsonl:2: clip id '5' appears twice"):
        read_predictions(duplicated)


def test_killed_mid_run_then_resumed_gives_the_same_numbers_without_repeating_finished_calls(
    tmp_path, dream1k_path, annotations, judge_server
):
    judge_server.latency = 0.05
    concurrency = 4
    predictions = some_predictions(annotations, 40)
    path = write_jsonl(
        tmp_path / "preds.jsonl", [{"idx": idx, "prediction": text} for idx, text in predictions.items()]
    )

    # The uninterrupted reference run, in process, with a cache of its own.
    reference = AutoDQScorer(
        JudgeConfig(base_url=judge_server.base_url, concurrency=concurrency),
        cache_dir=tmp_path / "ref-cache",
        show_progress=False,
    ).score(predictions, annotations, protocol={"predictions_file": str(path.resolve())})
    uninterrupted_calls = judge_server.calls
    assert uninterrupted_calls == 3 * len(predictions)
    judge_server.reset()

    env = {name: value for name, value in os.environ.items() if not name.startswith(("OPENAI_", "TARSIER_"))}
    command = [
        sys.executable,
        "-m",
        "lmms_tasks.autodq.cli",
        *cli_arguments(path, dream1k_path, judge_server, tmp_path, "--concurrency", str(concurrency)),
    ]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while judge_server.calls < uninterrupted_calls // 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the scorer finished before it could be killed"
    assert not (tmp_path / "out" / "autodq_results.json").exists()
    first_run = [request["prompt_sha"] for request in judge_server.requests]
    with JudgeCache(tmp_path / "cache") as cache:
        finished = len(cache)
    assert 0 < finished < uninterrupted_calls
    judge_server.reset()

    resumed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    second_run = [request["prompt_sha"] for request in judge_server.requests]
    # Nothing finished is asked again: only the calls in flight at the kill are repeated.
    assert len(second_run) == uninterrupted_calls - finished
    repeated = set(first_run) & set(second_run)
    assert len(repeated) == len(first_run) - finished <= concurrency

    results = json.loads((tmp_path / "out" / "autodq_results.json").read_text())
    for key in ("overall", "per_source", "buckets", "f1_ci95", "n_scored", "n_failed", "failed_ids"):
        assert results[key] == reference.results[key], key
    per_clip = [json.loads(line) for line in (tmp_path / "out" / "autodq_per_clip.jsonl").read_text().splitlines()]
    assert per_clip == reference.per_clip
