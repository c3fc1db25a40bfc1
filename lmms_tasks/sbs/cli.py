"""``tarsier-sbs``: blind side-by-side comparison of two models' video descriptions (Tarsier paper, Table 4).

    tarsier-sbs create STUDY_DIR --a PRED_A --b PRED_B [--names A B] [--sample 300 --seed 0] [--videos DIR]
                       [--annotations DREAM-1k.jsonl] [--annotators 3]
    tarsier-sbs serve STUDY_DIR [--host 127.0.0.1 --port 8000]
    tarsier-sbs report STUDY_DIR [--output-dir DIR]
    tarsier-sbs judge STUDY_DIR [--judge-model M --base-url URL ...]

``serve`` binds to 127.0.0.1 unless told otherwise; bound to any other address it requires the shared password in
``$TARSIER_SBS_PASSWORD`` (read from the environment only, never from the command line), or ``--no-password``.
The judge's API key is read from the environment, as ``tarsier-autodq`` does.

Exit status: 0 on success, 1 on bad input (the message names the problem), 3 when ``judge`` left pairs unjudged.
"""

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path

from lmms_tasks.autodq.annotations import ANNOTATIONS_ENV, AnnotationError
from lmms_tasks.autodq.judge import JudgeSetupError
from lmms_tasks.autodq.judge_cli import add_judge_arguments, judge_cache_options, judge_config_from_args
from tarsier_hf.video_io import DEFAULT_NUM_FRAMES, MediaError

from .store import Study, StudyError

EXIT_JUDGE_FAILED = 3


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tarsier-sbs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", help="make a study from two predictions files")
    create.add_argument("study_dir", type=Path)
    create.add_argument("--a", required=True, type=Path, dest="pred_a", help="predictions of model A (JSONL)")
    create.add_argument("--b", required=True, type=Path, dest="pred_b", help="predictions of model B (JSONL)")
    create.add_argument(
        "--names",
        nargs=2,
        default=("A", "B"),
        metavar=("NAME_A", "NAME_B"),
        help="model names for the report (never shown to annotators)",
    )
    create.add_argument("--sample", type=int, default=None, help="clips to sample (default: all common clips)")
    create.add_argument("--seed", type=int, default=0, help="seed of the sample and of the left/right order")
    create.add_argument("--videos", type=Path, default=None, help="folder of the clips' video files")
    create.add_argument(
        "--annotations",
        type=Path,
        default=os.environ.get(ANNOTATIONS_ENV) or None,
        help=f"DREAM-1K annotations: sources, references, video names (default: ${ANNOTATIONS_ENV})",
    )
    create.add_argument("--annotators", type=int, default=3, help="annotators wanted per clip (default: 3)")
    create.add_argument(
        "--num-frames",
        type=int,
        default=DEFAULT_NUM_FRAMES,
        help=f"frames in the strip, as the models saw them (default: {DEFAULT_NUM_FRAMES})",
    )
    create.add_argument("--guide", type=Path, default=None, help="annotation guide to use instead of the paper's")

    serve = commands.add_parser("serve", help="run the annotation web app")
    serve.add_argument("study_dir", type=Path)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--threads", type=int, default=4)
    serve.add_argument(
        "--no-password",
        action="store_true",
        help="allow a non-loopback --host without $TARSIER_SBS_PASSWORD (anyone who can reach it can annotate)",
    )

    report = commands.add_parser("report", help="win/same/loss, advantage, CIs, agreement, chart and JSON")
    report.add_argument("study_dir", type=Path)
    report.add_argument("--output-dir", type=Path, default=None, help="default: STUDY_DIR/report")
    report.add_argument("--bootstrap-resamples", type=int, default=1000)
    report.add_argument("--seed", type=int, default=0, help="bootstrap seed")

    judge = commands.add_parser("judge", help="label every pair with an LLM, in both orders")
    judge.add_argument("study_dir", type=Path)
    add_judge_arguments(judge)
    judge.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def create_command(args) -> int:
    from .create import create_study

    study, summary = create_study(
        args.study_dir,
        args.pred_a,
        args.pred_b,
        names=tuple(args.names),
        sample=args.sample,
        seed=args.seed,
        videos=args.videos,
        annotations=args.annotations,
        annotators=args.annotators,
        num_frames=args.num_frames,
        guide=args.guide,
    )
    study.close()
    print(
        f"study {args.study_dir}: {summary['n_pairs']} pairs of {summary['n_common']} common clips, "
        f"model A on the left in {summary['a_on_left']}"
    )
    for side, ids in (("A", summary["only_a"]), ("B", summary["only_b"])):
        if ids:
            print(
                f"skipped {len(ids)} clips found only in {side}'s predictions: {', '.join(ids[:10])}"
                f"{' ...' if len(ids) > 10 else ''}"
            )
    if summary["missing_videos"]:
        ids = summary["missing_videos"]
        print(f"WARNING: no video file for {len(ids)} clips (shown without video): {', '.join(ids[:10])}")
    return 0


def serve_command(args) -> int:
    from waitress import serve

    from .app import PASSWORD_ENV, create_app

    password = os.environ.get(PASSWORD_ENV) or None
    if not _is_loopback(args.host) and password is None and not args.no_password:
        raise StudyError(
            f"--host {args.host} is reachable from other machines: set a shared password in ${PASSWORD_ENV}, "
            "or pass --no-password to serve without one"
        )
    app = create_app(args.study_dir, password=password)
    print(f"serving {args.study_dir} on http://{args.host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="tarsier-sbs")
    return 0


def report_command(args) -> int:
    from .report import build_report, format_summary, save_report

    with Study(args.study_dir) as study:
        results = build_report(study, resamples=args.bootstrap_resamples, seed=args.seed)
    paths = save_report(results, args.output_dir or args.study_dir / "report")
    print(format_summary(results))
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def judge_command(args) -> int:
    from .annotator import judge_study

    config = judge_config_from_args(args)
    with Study(args.study_dir) as study:
        run = judge_study(study, config, **judge_cache_options(args), show_progress=not args.quiet)
    stats = run.judge_stats
    print(
        f"judge {run.judge_model}: {run.asked} judgments now, {run.already_stored} already in the study; "
        f"{stats.get('requests', 0)} requests, {stats.get('cache_hits', 0)} cached replies, "
        f"{stats.get('invalid_replies', 0)} invalid replies re-asked"
    )
    if run.failed:
        print(f"WARNING: {len(run.failed)} judgments FAILED (run again to retry): {', '.join(run.failed[:20])}")
        return EXIT_JUDGE_FAILED
    return 0


COMMANDS = {"create": create_command, "serve": serve_command, "report": report_command, "judge": judge_command}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (StudyError, ValueError, OSError, AnnotationError, MediaError, JudgeSetupError) as error:
        print(f"tarsier-sbs: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
