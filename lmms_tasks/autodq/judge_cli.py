"""The judge's command-line options, one definition for every command that asks the judge.

``tarsier-autodq score``, ``tarsier-eval score`` and ``tarsier-sbs judge`` call :func:`add_judge_arguments` on their
parser and build the judge from the parsed options with :func:`judge_config_from_args` (and the cache with
:func:`judge_cache_options`). An option left out falls back to the environment as :class:`JudgeConfig` documents
(``TARSIER_JUDGE_*`` / ``OPENAI_*``); the API key is read from the environment only, never from the command line.
"""

import argparse
from pathlib import Path

from .cache import CACHE_DIR_ENV
from .judge import DEFAULT_CONCURRENCY, DEFAULT_JUDGE_MODEL, JudgeConfig

# The defaults of JudgeConfig's plain (not environment-filled) fields, shown in --help as they are.
_DEFAULT_TIMEOUT = JudgeConfig.timeout
_DEFAULT_MAX_RETRIES = JudgeConfig.max_retries
_DEFAULT_MAX_REASKS = JudgeConfig.max_reasks


def add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--judge-model``, ``--base-url``, ``--concurrency``, ``--timeout``, ``--max-retries``, ``--max-reasks``,
    ``--cache-dir`` and ``--no-cache`` to ``parser`` (in that order)."""
    parser.add_argument(
        "--judge-model", default=None, help=f"judge model (default: $TARSIER_JUDGE_MODEL or {DEFAULT_JUDGE_MODEL})"
    )
    parser.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible endpoint (default: $TARSIER_JUDGE_BASE_URL, $OPENAI_BASE_URL or OpenAI)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, help=f"judge requests in flight (default: {DEFAULT_CONCURRENCY})"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=_DEFAULT_TIMEOUT,
        help=f"seconds per judge request (default: {_DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=_DEFAULT_MAX_RETRIES,
        help=f"retries on 429/5xx/timeouts per request (default: {_DEFAULT_MAX_RETRIES})",
    )
    parser.add_argument(
        "--max-reasks",
        type=int,
        default=_DEFAULT_MAX_REASKS,
        help=f"re-asks after an invalid reply (default: {_DEFAULT_MAX_REASKS})",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"judge cache folder (default: ${CACHE_DIR_ENV} or ~/.cache/tarsier_hf/autodq)",
    )
    parser.add_argument("--no-cache", action="store_true", help="keep judge replies in memory only")


def judge_config_from_args(args: argparse.Namespace) -> JudgeConfig:
    """The :class:`JudgeConfig` of options added by :func:`add_judge_arguments`; ``None`` ones come from the
    environment. Raises ``ValueError`` on a bad value (e.g. ``--concurrency 0``), naming it."""
    return JudgeConfig(
        model=args.judge_model,
        base_url=args.base_url,
        concurrency=args.concurrency,
        timeout=args.timeout,
        max_retries=args.max_retries,
        max_reasks=args.max_reasks,
    )


def judge_cache_options(args: argparse.Namespace) -> dict:
    """``cache_dir`` and ``use_cache`` from ``--cache-dir`` / ``--no-cache``, as the scorers take them."""
    return {"cache_dir": args.cache_dir, "use_cache": not args.no_cache}
