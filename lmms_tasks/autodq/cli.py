"""``tarsier-autodq score PREDICTIONS.jsonl``: AutoDQ for DREAM-1K predictions made anywhere.

PREDICTIONS.jsonl holds one JSON object per line with a clip id (``idx`` or ``id``, or ``--id-field``) and the
description (``prediction``, ``pred`` or ``text``, or ``--text-field``; Tarsier's own prediction files, whose
``text`` is an object with a ``prediction``, are read as well). Writes ``autodq_results.json``,
``autodq_per_clip.jsonl`` and ``autodq.png`` and prints a summary. The API key is read from the environment only
(``OPENAI_API_KEY`` or ``TARSIER_JUDGE_API_KEY``), never from the command line.

Exit status: 0 when every clip was scored, 3 when some clips failed judging (results are still written, without
them), 1 on bad input or when the judge cannot be used.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

from lmms_tasks.jsonl import iter_jsonl

from .annotations import ANNOTATIONS_ENV, AnnotationError, load_dream1k_annotations
from .judge import JudgeSetupError
from .judge_cli import add_judge_arguments, judge_cache_options, judge_config_from_args
from .scorer import AutoDQScorer

ID_FIELDS = ("idx", "id")
TEXT_FIELDS = ("prediction", "pred", "text")
EXIT_CLIPS_FAILED = 3


def read_predictions(path: str | Path, id_field: str | None = None, text_field: str | None = None) -> dict[str, str]:
    """Clip id -> description from a JSONL file; any unreadable line is an error naming the file and line."""
    path = Path(path)
    predictions: dict[str, str] = {}
    for where, row in iter_jsonl(path):
        idx = _field(row, (id_field,) if id_field else ID_FIELDS, "id", where)
        text = _field(row, (text_field,) if text_field else TEXT_FIELDS, "prediction text", where)
        if isinstance(text, dict) and "prediction" in text:
            text = text["prediction"]
        if not isinstance(text, str):
            raise ValueError(f"{where}: the prediction is {type(text).__name__}, not a string")
        if str(idx) in predictions:
            raise ValueError(f"{where}: clip id {idx!r} appears twice")
        predictions[str(idx)] = text
    if not predictions:
        raise ValueError(f"{path}: no predictions")
    return predictions


def _field(row: dict, names: tuple[str, ...], what: str, where: str):
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise ValueError(f"{where}: no {what} field (looked for {', '.join(names)})")


def _protocol_entry(text: str) -> tuple[str, object]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"--protocol expects KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tarsier-autodq", description="AutoDQ (DREAM-1K) scoring with an LLM judge.")
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser(
        "score",
        help="score a JSONL file of predictions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score.add_argument("predictions", type=Path, help="JSONL with a clip id and a description per line")
    score.add_argument(
        "--annotations", type=Path, default=None, help=f"DREAM-1K annotations (default: ${ANNOTATIONS_ENV})"
    )
    add_judge_arguments(score)
    score.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="where to write results (default: PREDICTIONS_autodq/ next to the file)",
    )
    score.add_argument("--id-field", default=None, help="name of the clip id field")
    score.add_argument("--text-field", default=None, help="name of the description field")
    score.add_argument(
        "--protocol",
        type=_protocol_entry,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="add to the protocol record, e.g. frames=8 sampling=greedy (repeatable)",
    )
    score.add_argument("--bootstrap-resamples", type=int, default=1000)
    score.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    score.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _format(value) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def print_summary(results: dict, paths: dict[str, Path], stream=None) -> None:
    stream = stream or sys.stdout
    protocol = results["protocol"]
    print(f"AutoDQ on DREAM-1K, judge {protocol['judge_model']} (prompt {protocol['prompt_hash'][:12]})", file=stream)
    print(f"{'source':<28}{'n':>6}{'failed':>8}{'F1':>8}{'recall':>8}{'precision':>10}", file=stream)
    rows = [(source, scores, scores["n_failed"]) for source, scores in results["per_source"].items()]
    rows.append(("OVERALL", results["overall"], results["n_failed"]))
    for name, scores, failed in rows:
        print(
            f"{name:<28}{scores['n']:>6}{failed:>8}  {_format(scores['f1'])}  {_format(scores['recall'])}  {_format(scores['precision'])}",
            file=stream,
        )
    if results["f1_ci95"]:
        low, high = results["f1_ci95"]
        print(f"overall F1 95% bootstrap CI: [{low:.3f}, {high:.3f}]", file=stream)
    for kind, buckets in results["buckets"].items():
        cells = ", ".join(
            f"{label}: {_format(scores['f1']).strip()} (n={scores['n']})" for label, scores in buckets.items()
        )
        print(f"F1 by {kind}: {cells}", file=stream)
    stats = results["judge_stats"]
    print(
        f"judge: {stats['requests']} requests, {stats['cache_hits']} cached replies, {stats['invalid_replies']} invalid replies re-asked",
        file=stream,
    )
    if results["n_failed"]:
        print(
            f"WARNING: {results['n_failed']} clips FAILED and are EXCLUDED: {', '.join(results['failed_ids'])}",
            file=stream,
        )
    for name, path in paths.items():
        print(f"{name}: {path}", file=stream)


def score_command(args: argparse.Namespace) -> int:
    predictions = read_predictions(args.predictions, args.id_field, args.text_field)
    annotations = load_dream1k_annotations(args.annotations)
    judge = judge_config_from_args(args)
    output_dir = args.output_dir or args.predictions.with_name(args.predictions.stem + "_autodq")
    if output_dir.exists() and not output_dir.is_dir():  # found before any judge call, not after
        raise ValueError(f"--output-dir {output_dir} is a file, not a folder")
    scorer = AutoDQScorer(
        judge=judge,
        **judge_cache_options(args),
        bootstrap_resamples=args.bootstrap_resamples,
        seed=args.seed,
        show_progress=not args.quiet,
    )
    protocol = {"predictions_file": str(args.predictions.resolve()), **dict(args.protocol)}
    report = scorer.score(predictions, annotations, protocol=protocol)
    paths = report.save(output_dir)
    print_summary(report.results, paths)
    return EXIT_CLIPS_FAILED if report.results["n_failed"] else 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return score_command(args)
    except (ValueError, OSError, AnnotationError, JudgeSetupError) as error:
        print(f"tarsier-autodq: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
