"""Judged open-ended QA through the real ``openai`` client and the shared judge, against a real local server.

The local judge's rule (``lmms_tasks.autodq.testing``): ``{'pred': 'yes', 'score': 4}`` when the lower-cased
reference answer occurs in the lower-cased prediction, else ``{'pred': 'no', 'score': 1}``.
"""

import pytest

from lmms_tasks.autodq.parsing import InvalidReply
from lmms_tasks.zeroshot import BENCHMARKS, score_benchmark
from lmms_tasks.zeroshot.open_qa import PROMPT_HASH, SYSTEM_PROMPT, parse_reply, render_user_prompt

QA = [  # question, reference, prediction -> yes/no by the server's rule
    ("who pours liquid?", "Someone", "In the video, SOMEONE pours liquid into a bag."),  # yes
    ("what is a man doing?", "cut", "He is slicing an onion."),  # no
    ("what plays?", "music", "Music plays loudly."),  # yes
    ("what is a family having?", "conversation", "<error>"),  # no
]


def records(rows=QA):
    return [
        {
            "key": f"MSVD-QA-val_{i}",
            "idx": i,
            "dataset": "MSVD-QA-val",
            "question": q,
            "response": a,
            "prediction": p,
            "prompt": None,
        }
        for i, (q, a, p) in enumerate(rows)
    ]


def score(judge_config, tmp_path, rows=None, **overrides):
    return score_benchmark(
        BENCHMARKS["msvd_qa"],
        records(rows or QA),
        judge=judge_config(**overrides),
        cache_dir=tmp_path / "cache",
        n_resamples=200,
        show_progress=False,
    )


def test_prompt_is_the_released_one_with_lowercased_answer_and_prediction():
    prompt = render_user_prompt("Who Pours?", "Someone", "In The Video")
    assert prompt.startswith(
        "Please evaluate the following video-based question-answer pair:\n\nQuestion: Who Pours?\n"
        "Correct Answer: someone\nPredicted Answer: in the video\n\nProvide your evaluation"
    )
    assert "INTEGER, not STRING.DO NOT PROVIDE" in prompt and prompt.endswith("{'pred': 'yes', 'score': 4.8}")
    assert SYSTEM_PROMPT.endswith("- Evaluate the correctness of the prediction compared to the answer.")
    assert "task:------##INSTRUCTIONS: - Focus" in SYSTEM_PROMPT


@pytest.mark.parametrize(
    "reply,expected",
    [
        ("{'pred': 'yes', 'score': 4}", {"pred": "yes", "score": 4.0}),
        ('  {"pred": "no", "score": 0.5}\n', {"pred": "no", "score": 0.5}),
        ("{'pred': 'no', 'score': 5}", {"pred": "no", "score": 5.0}),
    ],
)
def test_valid_replies(reply, expected):
    assert parse_reply(reply) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "{'pred': 'Yes', 'score': 4}",
        "{'pred': 'yes', 'score': '4'}",
        "{'pred': 'yes', 'score': 6}",
        "{'pred': 'yes'}",
        "yes, 4",
        "['yes', 4]",
        "{'pred': 'yes', 'score': True}",
        "",
    ],
)
def test_replies_the_released_check_rejects(reply):
    with pytest.raises(InvalidReply):
        parse_reply(reply)


def test_accuracy_and_score_with_system_prompt_through_the_local_server(judge_config, judge_server, tmp_path):
    results = score(judge_config, tmp_path)
    assert results["overall"]["accuracy"] == pytest.approx(50.0)
    assert results["overall"]["score"] == pytest.approx((4 + 1 + 4 + 1) / 4)
    assert results["n_failed"] == 0 and results["n_generation_errors"] == 1
    assert judge_server.calls == 4 and {r["kind"] for r in judge_server.requests} == {"video_chatgpt_qa"}
    assert {r["temperature"] for r in judge_server.requests} == {0.0}
    assert all(r["roles"] == ["system", "user"] for r in judge_server.requests)
    assert results["judge_stats"]["requests"] == 4
    protocol = results["protocol"]
    assert protocol["judge_model"] == "gpt-3.5-turbo-0125" and protocol["judge_prompt_hash"] == PROMPT_HASH
    assert protocol["faithful_to"].startswith("bytedance/tarsier evaluation/metrics/evaluate_qa_oe_gpt.py")


def test_faults_are_retried_or_reasked_and_a_hopeless_item_fails_alone(judge_config, judge_server, tmp_path):
    judge_server.inject("429", times=2, match="who pours")
    judge_server.inject("500", times=1, match="what plays")
    judge_server.inject("capitalised", times=1, match="what is a man")  # 'Yes': invalid, asked again
    judge_server.inject("string_score", times=1, match="what is a man")  # '4': invalid, asked again
    judge_server.inject("malformed", times=10, match="family")  # every attempt invalid: failed judgment
    results = score(judge_config, tmp_path, max_reasks=3)
    assert results["n_failed"] == 1 and results["failed_ids"] == ["MSVD-QA-val_3"]
    assert "no valid reply in 4 attempts" in results["failures"]["MSVD-QA-val_3"]
    overall = results["overall"]
    # Released: the failed item is left out: yes, no, yes -> 2/3, scores 4, 1, 4.
    assert overall["accuracy"] == pytest.approx(200 / 3) and overall["score"] == pytest.approx(3.0)
    # Honest: the failed item counts as "no" / 0.
    assert overall["accuracy_all"] == pytest.approx(50.0) and overall["score_all"] == pytest.approx(9 / 4)
    assert overall["n_judged"] == 3 and overall["n_failed"] == 1
    assert results["judge_stats"]["invalid_replies"] == 2 + 4
    reask_temperatures = [
        r["temperature"] for r in judge_server.requests if r["fault"] in ("string_score", "malformed")
    ]
    assert 1.0 in reask_temperatures


def test_timeouts_are_retried(judge_config, judge_server, tmp_path):
    judge_server.timeout_delay = 1.5
    judge_server.inject("timeout", times=1, match="what plays")
    results = score(judge_config, tmp_path, timeout=0.5, max_retries=2)
    assert results["n_failed"] == 0 and results["overall"]["accuracy"] == pytest.approx(50.0)


def test_cache_replays_and_resume_asks_only_what_failed(judge_config, judge_server, tmp_path):
    judge_server.inject("500", times=100, match="family")  # fails after every retry
    first = score(judge_config, tmp_path, max_retries=1)
    assert first["failed_ids"] == ["MSVD-QA-val_3"] and "HTTP 500" in first["failures"]["MSVD-QA-val_3"]
    judge_server.reset()
    second = score(judge_config, tmp_path)  # the endpoint works again: only the failed item is asked
    assert judge_server.calls == 1 and second["n_failed"] == 0
    assert second["judge_stats"]["cache_hits"] == 3 and second["judge_stats"]["requests"] == 1
    judge_server.reset()
    third = score(judge_config, tmp_path)
    assert judge_server.calls == 0 and third["overall"] == second["overall"]


def test_at_most_the_judge_concurrency_of_answers_in_flight(judge_config, judge_server, monkeypatch):
    import asyncio

    from lmms_tasks.autodq.cache import JudgeCache
    from lmms_tasks.autodq.judge import Judge
    from lmms_tasks.zeroshot.open_qa import judge_items

    judge = Judge(judge_config(concurrency=2), JudgeCache(None))
    asked, counts = judge.ask, {"now": 0, "most": 0}

    async def counted_ask(*args, **kwargs):  # every answer in flight is inside ask (waiting for a request or not)
        counts["now"] += 1
        counts["most"] = max(counts["most"], counts["now"])
        try:
            return await asked(*args, **kwargs)
        finally:
            counts["now"] -= 1

    monkeypatch.setattr(judge, "ask", counted_ask)
    rows = QA * 3

    async def judge_all():
        try:
            return await judge_items(judge, records(rows), show_progress=False)
        finally:
            await judge.aclose()

    items = asyncio.run(judge_all())
    assert counts["most"] == 2
    assert [item["pred"] for item in items] == ["yes", "no", "yes", "no"] * 3
    assert [item["key"] for item in items] == [f"MSVD-QA-val_{i}" for i in range(len(rows))]
    assert judge_server.calls == 4  # the same prompt is asked once: the others wait for it or read the cache
