"""The judge through the real ``openai`` client against a real local server: retries, re-asks, failures, setup."""

import asyncio
import logging
import socket

import pytest

from lmms_tasks.autodq import AutoDQScorer, JudgeConfig, JudgeSetupError

# Clip 1 of DREAM-1K; by the server's rule (entailed = the event occurs in the description) this prediction
# entails 2 of the 5 reference events, and the reference entails 1 of its 3 sentences ("half knelt" != "half kneels").
CLIP_1 = "A character emerges from smoke and fire. The character half kneels on the ground. A dog barks."
CALLS_PER_CLIP = 3  # extract the prediction's events, judge recall, judge precision


def one_clip(make_scorer, annotations, **judge_overrides):
    return make_scorer(**judge_overrides).score({"1": CLIP_1}, annotations)


def assert_clip_1_scores(report):
    assert report.results["n_scored"] == 1 and report.results["n_failed"] == 0
    clip = report.per_clip[0]
    assert (clip["recall"], clip["precision"]) == (2 / 5, 1 / 3)


def test_plain_run_makes_three_calls_at_temperature_zero(make_scorer, annotations, judge_server):
    report = one_clip(make_scorer, annotations)
    assert_clip_1_scores(report)
    assert judge_server.calls == CALLS_PER_CLIP
    assert {request["temperature"] for request in judge_server.requests} == {0.0}
    assert sorted(request["kind"] for request in judge_server.requests) == [
        "extract_events",
        "judge_entailment",
        "judge_entailment",
    ]
    assert report.results["judge_stats"]["requests"] == CALLS_PER_CLIP


@pytest.mark.parametrize("fault", ["429", "500"])
def test_rate_limits_and_server_errors_are_retried(make_scorer, annotations, judge_server, fault):
    judge_server.inject(fault, times=2, kind="extract_events")
    judge_server.inject(fault, times=1, kind="judge_entailment")
    report = one_clip(make_scorer, annotations)
    assert_clip_1_scores(report)
    assert judge_server.calls == CALLS_PER_CLIP + 3
    assert report.results["judge_stats"]["invalid_replies"] == 0


def test_timeouts_are_retried(annotations, tmp_path, clean_judge_env):
    # A server of its own: the held-back reply keeps a request in flight after the test. The client's timeout (5 s)
    # leaves ordinary replies ample time on a loaded machine; the held one takes 30 s, far beyond it.
    from lmms_tasks.autodq.testing import LocalJudgeServer

    with LocalJudgeServer(timeout_delay=30.0) as server:
        server.inject("timeout", times=1, kind="extract_events")
        scorer = AutoDQScorer(
            JudgeConfig(base_url=server.base_url, concurrency=4, timeout=5.0),
            cache_dir=tmp_path / "cache",
            show_progress=False,
        )
        assert_clip_1_scores(scorer.score({"1": CLIP_1}, annotations))
        assert server.calls == CALLS_PER_CLIP + 1
        assert [request["fault"] for request in server.requests].count("timeout") == 1


def test_invalid_replies_are_asked_again_at_the_reask_temperature(make_scorer, annotations, judge_server):
    judge_server.inject("malformed", times=1, kind="extract_events")
    judge_server.inject(
        "wrong_count", times=1, kind="judge_entailment", match="Video Description:\na character emerges"
    )
    judge_server.inject("bad_label", times=1, kind="judge_entailment", match="Video Description:\na character emerges")
    report = one_clip(make_scorer, annotations)
    assert_clip_1_scores(report)
    assert judge_server.calls == CALLS_PER_CLIP + 3
    assert report.results["judge_stats"]["invalid_replies"] == 3
    temperatures = [request["temperature"] for request in judge_server.requests]
    assert temperatures.count(0.0) == CALLS_PER_CLIP and temperatures.count(1.0) == 3


def test_fenced_replies_pass_the_released_normalisation_without_reasking(make_scorer, annotations, judge_server):
    judge_server.inject("fenced", times=3)
    report = one_clip(make_scorer, annotations)
    assert_clip_1_scores(report)
    assert judge_server.calls == CALLS_PER_CLIP
    assert [request["fault"] for request in judge_server.requests] == ["fenced"] * 3


def test_a_clip_that_never_gets_a_valid_reply_fails_loudly_and_is_excluded(
    make_scorer, annotations, judge_server, caplog
):
    judge_server.inject("wrong_count", times=3, kind="judge_entailment", match="Video Description:\na cat sleeps.")
    with caplog.at_level(logging.WARNING):
        report = make_scorer(max_reasks=2).score({"1": CLIP_1, "2": "A cat sleeps."}, annotations)
    results = report.results
    assert (results["n_scored"], results["n_failed"], results["failed_ids"]) == (1, 1, ["2"])
    assert "no valid reply in 3 attempts" in results["failures"]["2"]
    assert "judges 4 events, 5 were asked" in results["failures"]["2"]
    assert results["per_source"]["DREAM/movie_animation"]["n"] == 1
    assert results["per_source"]["DREAM/movie_animation"]["n_failed"] == 1
    assert results["overall"]["recall"] == 2 / 5  # clip 2 is not in any mean, not even as a zero
    failed = next(clip for clip in report.per_clip if clip["idx"] == "2")
    assert failed["error"] and failed["recall"] is None and failed["precision"] is None
    assert any("1 of 2 clips FAILED" in message and "EXCLUDED" in message for message in caplog.messages)


def test_endless_rate_limiting_fails_the_clip_after_the_retries(make_scorer, annotations, judge_server):
    judge_server.inject("429", times=100, kind="extract_events")
    report = one_clip(make_scorer, annotations, max_retries=2)
    assert report.results["failed_ids"] == ["1"]
    assert "HTTP 429 after 2 retries" in report.results["failures"]["1"]
    # the recall judgment was answered all the same, and is cached for the next run
    assert report.per_clip[0]["recall_judgments"] is not None
    assert judge_server.calls == 3 + 1


def test_a_refused_key_stops_the_run(make_scorer, annotations, judge_server):
    judge_server.api_key = "the-right-key"
    with pytest.raises(JudgeSetupError, match="AuthenticationError"):
        one_clip(make_scorer, annotations, api_key="a-wrong-key")


def test_an_unknown_model_stops_the_run(make_scorer, annotations, judge_server):
    judge_server.models = {"Qwen/Qwen2.5-72B-Instruct"}
    with pytest.raises(JudgeSetupError, match="refused model 'gpt-3.5-turbo-0125'"):
        one_clip(make_scorer, annotations)
    assert_clip_1_scores(one_clip(make_scorer, annotations, model="Qwen/Qwen2.5-72B-Instruct"))


def test_an_unreachable_endpoint_stops_the_run(make_scorer, annotations):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(JudgeSetupError, match="cannot reach the judge endpoint"):
        one_clip(make_scorer, annotations, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)


def test_no_key_is_needed_until_a_call_must_be_made(make_scorer, annotations, judge_server, tmp_path):
    cache_dir = tmp_path / "shared-cache"
    first = make_scorer(cache_dir=cache_dir).score({"1": CLIP_1}, annotations)
    calls = judge_server.calls
    # Default OpenAI endpoint, no key anywhere: constructing works, and a fully cached re-score needs no client.
    offline = AutoDQScorer(judge=JudgeConfig(), cache_dir=cache_dir, bootstrap_resamples=200, show_progress=False)
    again = offline.score({"1": CLIP_1}, annotations)
    assert again.results["overall"] == first.results["overall"]
    assert judge_server.calls == calls
    with pytest.raises(JudgeSetupError, match="no API key"):
        offline.score({"2": "A cat sleeps."}, annotations)


def test_concurrency_is_bounded(make_scorer, annotations, judge_server, tmp_path):
    # The bound is exact whatever the load: never more than `concurrency` requests at once, and one at a time
    # with concurrency=1. That requests really overlap is shown by reaching at least 2 while each reply is held
    # 0.2 s (how many reach the server within that time depends on the machine's load, so not exactly 3).
    judge_server.latency = 0.2
    predictions = {idx: f"Clip {idx} shows a person who walks." for idx in list(annotations)[:6]}
    report = make_scorer(concurrency=3).score(predictions, annotations)
    assert report.results["n_scored"] == 6
    assert 2 <= judge_server.max_in_flight <= 3
    judge_server.reset()
    judge_server.latency = 0.02
    make_scorer(concurrency=1, cache_dir=tmp_path / "serial-cache").score(predictions, annotations)
    assert judge_server.calls == 18 and judge_server.max_in_flight == 1


def test_identical_prompts_in_flight_share_one_request(make_scorer, annotations, judge_server):
    make_scorer().score({"1": "A dog runs.", "2": "A dog runs."}, annotations)
    kinds = [request["kind"] for request in judge_server.requests]
    assert kinds.count("extract_events") == 1  # same prediction text: one extraction
    assert kinds.count("judge_entailment") == 4  # different references: separate judgments


def test_temperature_none_is_left_to_the_server(make_scorer, annotations, judge_server):
    one_clip(make_scorer, annotations, temperature=None)
    assert {request["temperature"] for request in judge_server.requests} == {None}


def test_scoring_from_inside_a_running_event_loop(make_scorer, annotations):
    scorer = make_scorer()

    async def inside_a_loop():
        return scorer.score({"1": CLIP_1}, annotations)

    assert_clip_1_scores(asyncio.run(inside_a_loop()))


def test_configuration_from_the_environment(monkeypatch):
    for name in (
        "TARSIER_JUDGE_MODEL",
        "TARSIER_JUDGE_BASE_URL",
        "OPENAI_BASE_URL",
        "TARSIER_JUDGE_API_KEY",
        "OPENAI_API_KEY",
        "TARSIER_JUDGE_CONCURRENCY",
    ):
        monkeypatch.delenv(name, raising=False)
    default = JudgeConfig()
    assert (default.model, default.base_url, default.api_key, default.concurrency) == (
        "gpt-3.5-turbo-0125",
        None,
        None,
        16,
    )
    monkeypatch.setenv("TARSIER_JUDGE_MODEL", "Qwen/Qwen2.5-72B-Instruct")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai-base:8000/v1")
    monkeypatch.setenv("TARSIER_JUDGE_BASE_URL", "http://user:pw@vllm-host:8000/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("TARSIER_JUDGE_API_KEY", "sk-judge")
    monkeypatch.setenv("TARSIER_JUDGE_CONCURRENCY", "64")
    config = JudgeConfig()
    assert (config.model, config.base_url, config.api_key, config.concurrency) == (
        "Qwen/Qwen2.5-72B-Instruct",
        "http://user:pw@vllm-host:8000/v1",
        "sk-judge",
        64,
    )
    assert JudgeConfig(model="gpt-4o", concurrency=2).model == "gpt-4o"
    described = config.describe()
    assert described["judge_base_url"] == "http://vllm-host:8000/v1"  # no credentials in results
    assert "sk-judge" not in repr(config) and "sk-judge" not in str(described)
    monkeypatch.setenv("TARSIER_JUDGE_CONCURRENCY", "many")
    with pytest.raises(ValueError, match="TARSIER_JUDGE_CONCURRENCY"):
        JudgeConfig()
    with pytest.raises(ValueError, match="concurrency must be >= 1"):
        JudgeConfig(concurrency=0)


def test_a_rerun_replays_invalid_replies_and_asks_again_only_what_got_no_reply(make_scorer, annotations, judge_server):
    predictions = {"1": CLIP_1, "2": "A cat sleeps."}
    judge_server.inject("wrong_count", times=3, kind="judge_entailment", match="Video Description:\na cat sleeps.")
    assert make_scorer(max_reasks=2).score(predictions, annotations).results["failed_ids"] == ["2"]
    calls = judge_server.calls
    # Same cache, same settings: the three invalid replies are replayed, no call is made, the clip fails again.
    assert make_scorer(max_reasks=2).score(predictions, annotations).results["failed_ids"] == ["2"]
    assert judge_server.calls == calls
    # One more re-ask allowed: exactly one new call, which this time gets a valid reply.
    report = make_scorer(max_reasks=3).score(predictions, annotations)
    assert report.results["failed_ids"] == [] and judge_server.calls == calls + 1

    judge_server.reset()
    judge_server.inject("429", times=100, kind="extract_events", match="a dog runs")
    predictions["3"] = "A dog runs."
    assert make_scorer(max_retries=1).score(predictions, annotations).results["failed_ids"] == ["3"]
    judge_server.reset()
    # The rate-limited extraction got no reply, so the re-run asks it (and the precision judgment after it) only.
    assert make_scorer().score(predictions, annotations).results["failed_ids"] == []
    assert [request["kind"] for request in judge_server.requests] == ["extract_events", "judge_entailment"]
