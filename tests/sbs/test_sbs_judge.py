"""The LLM annotator against a real OpenAI-compatible server on 127.0.0.1 (``LocalJudgeServer``)."""

import json

import pytest
from _sbs_helpers import answer

from lmms_tasks.autodq.cache import CACHE_DIR_ENV
from lmms_tasks.autodq.judge import JUDGE_ENVS, JudgeConfig
from lmms_tasks.autodq.testing import LocalJudgeServer
from lmms_tasks.sbs.annotator import judge_study
from lmms_tasks.sbs.cli import EXIT_JUDGE_FAILED, main
from lmms_tasks.sbs.prompt import descriptions_in, parse_compare_reply, render_compare
from lmms_tasks.sbs.report import build_report
from lmms_tasks.sbs.testing import prefer_containing, prefer_first


@pytest.fixture(autouse=True)
def clean_judge_env(monkeypatch):
    for name in (*JUDGE_ENVS, CACHE_DIR_ENV):
        monkeypatch.delenv(name, raising=False)


def config(server, **overrides) -> JudgeConfig:
    return JudgeConfig(
        **{
            "base_url": server.base_url,
            "concurrency": 4,
            "timeout": 5.0,
            "max_retries": 1,
            "max_reasks": 2,
            **overrides,
        }
    )


def test_prompt_round_trip_and_reply_schema():
    prompt = render_compare("GUIDE TEXT", "first text", "second text", "what happens")
    assert "GUIDE TEXT" in prompt and "what happens" in prompt
    assert descriptions_in(prompt) == ("first text", "second text")
    assert "(none)" in render_compare("g", "x", "y", None)
    assert parse_compare_reply('{"better": "1", "reason": "r"}') == {"verdict": "first", "reason": "r"}
    assert parse_compare_reply('```json\n{"better": 2}\n```') == {"verdict": "second", "reason": ""}
    assert parse_compare_reply('Sure. {"better": "SAME", "reason": "tie"} Hope it helps')["verdict"] == "same"
    from lmms_tasks.autodq.parsing import InvalidReply

    for bad in ("B is better", '{"better": "3"}', '{"winner": "1"}', "{not json}"):
        with pytest.raises(InvalidReply):
            parse_compare_reply(bad)


def test_position_bias_of_a_first_preferring_judge_cancels(make_study, tmp_path):
    study, _ = make_study(sample=6)
    with LocalJudgeServer(other_reply=prefer_first) as server:
        run = judge_study(study, config(server), cache_dir=tmp_path / "cache", show_progress=False)
        assert server.calls == 12  # every pair in both orders
    assert run.asked == 12 and run.failed == [] and run.already_stored == 0
    judgments = study.llm_judgments()
    assert {j["verdict"] for j in judgments} == {"first"}
    assert {(j["first"], j["choice"]) for j in judgments} == {("a", "a"), ("b", "b")}
    llm = build_report(study, resamples=200)["llm"]["gpt-3.5-turbo-0125"]
    overall = llm["overall"]
    assert overall["n_clips"] == 6 and overall["same"] == 1.0 and overall["advantage"] == 0.0
    assert overall["advantage_ci95"] == [0.0, 0.0]
    assert llm["position_bias"] == 1.0 and llm["order_consistency"] == 0.0
    # A single order would have made it look like a landslide: A first -> all "a".
    assert sum(j["choice"] == "a" for j in judgments if j["first"] == "a") == 6


def test_content_judge_agrees_with_humans_and_resumes_from_the_study(make_study, tmp_path):
    study, _ = make_study(sample=4)
    clips = [pair["clip_id"] for pair in study.pairs()]
    for clip_id, choice in zip(clips, ("a", "a", "a", "b"), strict=True):
        answer(study, "ann", clip_id, choice)
    with LocalJudgeServer(other_reply=prefer_containing("walks")) as server:
        # pair 0 fails in both orders: 2 requests x (1 + 1 retry) attempts
        server.inject("500", times=4, kind="unknown", match=study.pair(0)["text_a"])
        run = judge_study(study, config(server), cache_dir=tmp_path / "cache", show_progress=False)
        assert run.failed == [f"{clips[0]} (A first)", f"{clips[0]} (B first)"]
        assert run.judge_stats["failed_requests"] == 2
        report = build_report(study, resamples=0)["llm"]["gpt-3.5-turbo-0125"]
        assert report["n_incomplete"] == 1 and report["incomplete_ids"] == [clips[0]]
        calls = server.calls
        again = judge_study(study, config(server), cache_dir=tmp_path / "cache", show_progress=False)
        assert again.failed == [] and again.already_stored == 6 and again.asked == 2
        assert server.calls == calls + 2  # only the failed judgments are asked again
    llm = build_report(study, resamples=0)["llm"]["gpt-3.5-turbo-0125"]
    # A's descriptions say "walks": the content judge picks A in both orders, on every clip
    assert llm["overall"]["win"] == 1.0 and llm["order_consistency"] == 1.0 and llm["position_bias"] == 0.5
    versus = llm["agreement_with_humans"]
    assert versus["n_clips"] == 4 and versus["accuracy"] == 0.75
    # LLM a a a a vs humans a a a b: chance agreement (4*3 + 0*1) / 16 = 0.75 -> kappa 0
    assert versus["cohen_kappa"] == pytest.approx(0.0)


def test_cli_judge_reports_failures_and_uses_the_cache(make_study, tmp_path, capsys):
    study, _ = make_study(sample=2)
    with LocalJudgeServer(other_reply=prefer_first) as server:
        server.inject("malformed", times=99, kind="unknown", match=study.pair(1)["text_b"])
        argv = [
            "judge",
            str(study.directory),
            "--base-url",
            server.base_url,
            "--cache-dir",
            str(tmp_path / "c"),
            "--judge-model",
            "local-judge",
            "--max-reasks",
            "1",
            "--quiet",
        ]
        assert main(argv) == EXIT_JUDGE_FAILED
        out = capsys.readouterr().out
        assert "2 judgments FAILED" in out and "2 invalid replies re-asked" not in out
    assert {j["judge_model"] for j in study.llm_judgments()} == {"local-judge"}
    assert len(study.llm_judgments()) == 2
    assert main(["report", str(study.directory), "--output-dir", str(tmp_path / "r")]) == 0
    results = json.loads((tmp_path / "r" / "sbs_results.json").read_text())
    assert (
        results["llm"]["local-judge"]["n_incomplete"] == 1 and results["llm"]["local-judge"]["overall"]["n_clips"] == 1
    )


def test_unreachable_judge_stops_with_a_clear_error(make_study, tmp_path, capsys):
    study, _ = make_study(sample=1)
    code = main(
        [
            "judge",
            str(study.directory),
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--no-cache",
            "--quiet",
            "--max-retries",
            "0",
            "--timeout",
            "2",
        ]
    )
    assert code == 1 and "cannot reach the judge endpoint" in capsys.readouterr().err
