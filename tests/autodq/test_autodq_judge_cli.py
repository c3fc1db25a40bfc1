"""The judge's command-line options are one definition: every command that asks the judge reads them alike."""

from pathlib import Path

import pytest

from lmms_tasks.autodq.cli import build_parser as autodq_parser
from lmms_tasks.autodq.judge_cli import judge_cache_options, judge_config_from_args
from lmms_tasks.eval_cli import build_parser as eval_parser
from lmms_tasks.sbs.cli import build_parser as sbs_parser

COMMANDS = {
    "tarsier-autodq score": (autodq_parser, ["score", "predictions.jsonl"]),
    "tarsier-eval score": (eval_parser, ["score", "predictions.jsonl"]),
    "tarsier-sbs judge": (sbs_parser, ["judge", "study"]),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_judge_options_given(command, clean_judge_env):
    build, argv = COMMANDS[command]
    options = ["--judge-model", "judge-x", "--base-url", "http://user:pw@127.0.0.1:9/v1", "--concurrency", "3"]
    options += ["--timeout", "2.5", "--max-retries", "1", "--max-reasks", "4", "--cache-dir", "c", "--no-cache"]
    args = build().parse_args(argv + options)
    config = judge_config_from_args(args)
    assert (config.model, config.base_url, config.concurrency) == ("judge-x", "http://user:pw@127.0.0.1:9/v1", 3)
    assert (config.timeout, config.max_retries, config.max_reasks) == (2.5, 1, 4)
    assert config.describe()["judge_base_url"] == "http://127.0.0.1:9/v1"
    assert judge_cache_options(args) == {"cache_dir": Path("c"), "use_cache": False}


@pytest.mark.parametrize("command", COMMANDS)
def test_judge_options_default_to_environment(command, clean_judge_env, monkeypatch):
    monkeypatch.setenv("TARSIER_JUDGE_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8/v1")
    monkeypatch.setenv("TARSIER_JUDGE_CONCURRENCY", "5")
    monkeypatch.setenv("TARSIER_JUDGE_API_KEY", "key-from-env")
    build, argv = COMMANDS[command]
    args = build().parse_args(argv)
    config = judge_config_from_args(args)
    assert (config.model, config.base_url, config.concurrency, config.api_key) == (
        "env-model",
        "http://127.0.0.1:8/v1",
        5,
        "key-from-env",
    )
    assert (config.timeout, config.max_retries, config.max_reasks) == (60.0, 6, 9)
    assert judge_cache_options(args) == {"cache_dir": None, "use_cache": True}


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_judge_option_names_it(command, clean_judge_env):
    build, argv = COMMANDS[command]
    with pytest.raises(ValueError, match="concurrency must be >= 1, got 0"):
        judge_config_from_args(build().parse_args(argv + ["--concurrency", "0"]))
    with pytest.raises(SystemExit):  # there is no --api-key: the key comes from the environment only
        build().parse_args(argv + ["--api-key", "secret"])
