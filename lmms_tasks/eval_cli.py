"""``tarsier-eval score PREDICTIONS``: Tarsier's zero-shot benchmarks (and DREAM-1K) for prediction files made anywhere.

PREDICTIONS is a JSONL file or a folder of them (every ``*.jsonl`` under it) in the released Tarsier format (the
annotation line plus ``text.prediction``, as ``tasks/inference_benchmark.py`` writes it), or lmms-eval
``--log_samples`` files of the ``tarsier_*`` tasks. Rows are picked per benchmark by their ``dataset`` field, as the
released ``evaluation/evaluate.py`` does. ``--benchmarks`` takes names (``nextqa_mc``, ``msvd_qa``, ... or the
released ``next-qa``, ``msvd-qa``, ...), families (``mc_qa``, ``oe_qa``, ``caption``), ``dream`` or ``all``
(default); a benchmark without rows in PREDICTIONS is skipped with a note, unless named explicitly.

Writes ``<benchmark>_results.json`` (overall numbers, per sub-task, counts, failures, 95% CIs, protocol) and
``<benchmark>_per_item.jsonl`` per benchmark into ``--output-dir`` (default: ``PREDICTIONS_eval/``) and prints a
table. ``dream`` runs AutoDQ on the ``DREAM/*`` rows (as ``tarsier-autodq score`` does; needs ``--annotations`` or
``$TARSIER_DREAM1K_ANNOTATIONS``). The judge (judged QA and AutoDQ) is configured as for ``tarsier-autodq``: options
or ``TARSIER_JUDGE_*`` / ``OPENAI_*`` variables; the key only from the environment.

Exit status (as ``tarsier-autodq``): 0 when everything was scored, 3 when some items failed (failed parses,
failed judgments or failed generations; results are still written), 1 on bad input or when the judge cannot be used.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from pathlib import Path

from lmms_tasks.autodq.annotations import AnnotationError
from lmms_tasks.autodq.judge import JudgeConfig, JudgeSetupError
from lmms_tasks.autodq.judge_cli import add_judge_arguments, judge_cache_options, judge_config_from_args
from lmms_tasks.zeroshot.benchmarks import BENCHMARKS, CAPTION, MC, MVBENCH_SUBTASKS, OE_QA, mvbench_subtask, resolve
from lmms_tasks.zeroshot.ptb import TokenizerError
from lmms_tasks.zeroshot.released_format import FormatError, files_of, read_jsonl, select_rows
from lmms_tasks.zeroshot.scoring import save_results, score_benchmark

EXIT_ITEMS_FAILED = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tarsier-eval", description="Tarsier zero-shot benchmark scoring.")
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser(
        "score",
        help="score prediction files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score.add_argument("predictions", type=Path, help="a JSONL file or a folder of them")
    score.add_argument("--benchmarks", nargs="+", default=["all"], help="names, families, dream or all (default)")
    score.add_argument("--output-dir", type=Path, default=None, help="default: PREDICTIONS_eval/ next to PREDICTIONS")
    score.add_argument("--annotations", type=Path, default=None, help="DREAM-1K annotations (for dream)")
    add_judge_arguments(score)
    score.add_argument(
        "--frames", type=int, default=None, help="frames the predictions were made with (recorded in the protocol)"
    )
    score.add_argument("--bootstrap-resamples", type=int, default=1000)
    score.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    score.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(pair) -> str:
    return "-" if not pair else f"[{pair[0]:.1f}, {pair[1]:.1f}]"


def table_row(results: dict) -> str:
    o, family = results["overall"], results["family"]
    if family == MC:
        return (
            f"{results['benchmark']:<18} n={o['n']:<6} accuracy {_fmt(o['accuracy'])} {_ci(results['accuracy_ci95'])}"
            f" | failures as wrong {_fmt(o['accuracy_all'])} | failed parses {o['n_failed_parse']}"
        )
    if family == OE_QA:
        return (
            f"{results['benchmark']:<18} n={o['n']:<6} accuracy {_fmt(o['accuracy'])} {_ci(results['accuracy_ci95'])}"
            f" score {_fmt(o['score'], 2)} | failures as no/0 {_fmt(o['accuracy_all'])}/{_fmt(o['score_all'], 2)}"
            f" | failed judgments {o['n_failed']}"
        )
    return (
        f"{results['benchmark']:<18} n={o['n']:<6} CIDEr {_fmt(o['cider'])} {_ci(results['cider_ci95'])}"
        f" | generation errors {results['n_generation_errors']}"
    )


def n_failed(results: dict) -> int:
    """Items that failed: failed parses (multi-choice), failed judgments (judged QA), failed generations (all)."""
    return results.get("n_failed_parse", 0) + results.get("n_failed", 0) + results.get("n_generation_errors", 0)


def score_command(args: argparse.Namespace) -> int:
    keys = resolve(args.benchmarks)
    explicit = not any(name.lower() in ("all", MC, OE_QA, CAPTION) for name in args.benchmarks)
    files_of(args.predictions)  # a missing path is an error before anything else
    output_dir = args.output_dir or args.predictions.with_name(args.predictions.name.removesuffix(".jsonl") + "_eval")
    judge = judge_config_from_args(args)
    if output_dir.exists() and not output_dir.is_dir():  # found before any judge call, not after
        raise FormatError(f"--output-dir {output_dir} is a file, not a folder")
    caller = {"predictions": str(args.predictions.resolve()), "frames": args.frames}
    status, scored = 0, 0
    for key in keys:
        if key == "dream":
            dream_status = _score_dream(args, judge, output_dir, explicit)
            if dream_status is not None:
                status, scored = max(status, dream_status), scored + 1
            continue
        benchmark = BENCHMARKS[key]
        records = select_rows(args.predictions, benchmark)
        if not records:
            if explicit:
                raise FormatError(f"{args.predictions}: no rows of {key} (dataset field {benchmark.dataset!r})")
            print(f"{key}: no rows in {args.predictions}, skipped", file=sys.stderr)
            continue
        results = score_benchmark(
            benchmark,
            records,
            judge=judge,
            **judge_cache_options(args),
            protocol=caller,
            n_resamples=args.bootstrap_resamples,
            seed=args.seed,
            show_progress=not args.quiet,
        )
        paths = save_results(results, output_dir)
        print(table_row(results))
        print(f"  results: {paths['results']}")
        scored += 1
        if n_failed(results):
            status = EXIT_ITEMS_FAILED
    unknown = _unknown_datasets(args.predictions)
    if unknown:
        print(
            "warning: rows whose dataset is none of the benchmarks' were not scored: "
            + ", ".join(f"{name!r} ({count})" for name, count in sorted(unknown.items())),
            file=sys.stderr,
        )
    if not scored:
        raise FormatError(f"{args.predictions}: no rows of any selected benchmark ({', '.join(keys)})")
    return status


def _unknown_datasets(predictions: Path) -> dict[str, int]:
    """``dataset`` field -> rows, for the rows that no benchmark (nor DREAM) selects."""
    counts = Counter()
    for file in files_of(predictions):
        for _, row in read_jsonl(file):
            dataset = row.get("dataset")
            if not isinstance(dataset, str):
                continue  # not a released-format row (e.g. an lmms-eval logged sample)
            if dataset.split("/")[0] != "DREAM" and not any(b.selects(dataset) for b in _all_benchmarks()):
                counts[dataset] += 1
    return dict(counts)


def _all_benchmarks():
    return [*BENCHMARKS.values(), *(mvbench_subtask(name) for name in MVBENCH_SUBTASKS)]


def _score_dream(args, judge: JudgeConfig, output_dir: Path, explicit: bool) -> int | None:
    """AutoDQ on the DREAM rows: the exit status, or ``None`` when there are none (and they were not asked for)."""
    from lmms_tasks.autodq.annotations import load_dream1k_annotations
    from lmms_tasks.autodq.cli import print_summary
    from lmms_tasks.autodq.scorer import AutoDQScorer

    predictions = {}
    for file in files_of(args.predictions):
        for _, row in read_jsonl(file):
            if str(row.get("dataset", "")).split("/")[0] == "DREAM" and isinstance(row.get("text"), dict):
                predictions.setdefault(str(row["idx"]), row["text"].get("prediction"))
    if not predictions:
        if explicit:
            raise FormatError(f"{args.predictions}: no DREAM rows")
        print(f"dream: no rows in {args.predictions}, skipped", file=sys.stderr)
        return None
    annotations = load_dream1k_annotations(args.annotations)
    scorer = AutoDQScorer(
        judge=judge,
        **judge_cache_options(args),
        bootstrap_resamples=args.bootstrap_resamples,
        seed=args.seed,
        show_progress=not args.quiet,
    )
    report = scorer.score(
        predictions, annotations, protocol={"predictions_file": str(args.predictions.resolve()), "frames": args.frames}
    )
    paths = report.save(output_dir / "dream")
    print_summary(report.results, paths)
    return EXIT_ITEMS_FAILED if report.results["n_failed"] else 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return score_command(args)
    except (ValueError, OSError, AnnotationError, JudgeSetupError, TokenizerError) as error:
        print(f"tarsier-eval: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
