"""The ``tarsier-hub`` command: cards and sharing on the Hugging Face Hub.

``tarsier-hub model-card DIR [--results FILE...]``          write DIR/README.md (merged into an existing card)
``tarsier-hub push-model DIR REPO_ID [--private] [--revision R] [--create-pr]``
``tarsier-hub push-results RESULTS... --repo-id REPO_ID``  merge results into the Hub card, one commit
``tarsier-hub push-dataset DIR REPO_ID [--private]``       validate, package and upload a video dataset

Credentials: the ``hf auth login`` token or ``HF_TOKEN`` (never printed or written); ``HF_ENDPOINT`` selects the
Hub. ``--dry-run`` shows what would be uploaded and sends nothing. Exit status: 0 done, 1 invalid input (nothing
uploaded), 2 usage, 3 authentication / permission refused by the Hub (401/403), 4 other Hub or network failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_INVALID = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tarsier-hub",
        description="Share Tarsier models, results and video "
        "datasets on the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN or `hf auth login`).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    card = commands.add_parser(
        "model-card",
        help="write or update DIR/README.md",
        description="Write the model card of a checkpoint folder, or merge results into its "
        "existing card (other results and prose are kept).",
    )
    card.add_argument("folder", type=Path, metavar="DIR")
    card.add_argument(
        "--results",
        nargs="+",
        default=[],
        type=Path,
        metavar="FILE",
        help="lmms-eval results JSON or tarsier-autodq / tarsier-eval results files",
    )
    card.add_argument("--repo-id", help="the model's Hub id, used in the card's code (default: the folder name)")
    card.add_argument("--base-model", help="Hub id of the model this one derives from")
    card.add_argument("--base-model-relation", choices=["finetune", "adapter", "merge", "quantized"])
    card.add_argument("--license", default="apache-2.0", help="default: apache-2.0 (Tarsier's)")
    card.add_argument("--replace", action="store_true", help="write a new card even if DIR/README.md exists")
    card.add_argument("--no-eval-results-files", action="store_true", help="do not write DIR/.eval_results/<task>.yaml")
    card.add_argument("--dry-run", action="store_true", help="print the card instead of writing it")
    card.set_defaults(run=model_card_command)

    model = commands.add_parser(
        "push-model",
        help="upload a checkpoint folder with its card",
        description="Upload a checkpoint folder; writes its card first when it has none.",
    )
    model.add_argument("folder", type=Path, metavar="DIR")
    model.add_argument("repo_id", metavar="REPO_ID")
    model.add_argument("--private", action="store_true", help="create the repo private")
    model.add_argument("--revision", help="branch to commit to (created when missing; default: main)")
    model.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    model.add_argument("--dry-run", action="store_true", help="list what would be uploaded; send nothing")
    model.set_defaults(run=push_model_command)

    results = commands.add_parser(
        "push-results",
        help="add evaluation results to a model's card on the Hub",
        description="Merge results into the model card on the Hub (model-index, evaluation "
        "section, .eval_results/) and upload the results files, in one commit.",
    )
    results.add_argument("results", nargs="+", type=Path, metavar="RESULTS")
    results.add_argument("--repo-id", required=True)
    results.add_argument("--revision", help="branch (default: main)")
    results.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    results.add_argument("--no-eval-results-files", action="store_true", help="do not write .eval_results/*.yaml")
    results.add_argument("--dry-run", action="store_true", help="list what would be uploaded; send nothing")
    results.set_defaults(run=push_results_command)

    dataset = commands.add_parser(
        "push-dataset",
        help="validate, package and upload a video dataset",
        description="Validate a folder of videos + annotations (DREAM-1K format or the "
        "training row format), package it for `datasets` and upload it.",
    )
    dataset.add_argument("folder", type=Path, metavar="DIR")
    dataset.add_argument("repo_id", metavar="REPO_ID")
    dataset.add_argument("--annotations", type=Path, help="annotation file (default: the one .jsonl/.json in DIR)")
    dataset.add_argument("--format", choices=["dream1k", "training"], help="default: detected from the rows")
    dataset.add_argument("--split", help="default: test for DREAM-1K annotations, train for training rows")
    dataset.add_argument("--private", action="store_true")
    dataset.add_argument("--gated", action="store_true", help="users must accept conditions to download")
    dataset.add_argument("--license", default="unknown", help="license id of the data (default: unknown)")
    dataset.add_argument("--source", help="where the data comes from (a Hub dataset id or a URL)")
    dataset.add_argument("--output-dir", type=Path, help="keep the packaged repo here (default: a temp folder)")
    dataset.add_argument("--dry-run", action="store_true", help="validate and package only; send nothing")
    dataset.set_defaults(run=push_dataset_command)
    return parser


def model_card_command(args) -> int:
    from huggingface_hub import ModelCard

    from .eval_index import eval_results_yaml, to_eval_result_entries, without_eval_results_file
    from .hub import check_repo_id
    from .model_card import build_model_card, check_model_card, update_model_card
    from .results import read_all

    if args.repo_id is not None:
        check_repo_id(args.repo_id)  # the card's code examples load the model by this id
    tasks = read_all(args.results)
    readme = args.folder / "README.md"
    if readme.is_file() and not args.replace:
        card = update_model_card(
            ModelCard.load(readme), tasks, model_name=(args.repo_id or args.folder.resolve().name).split("/")[-1]
        )
    else:
        card = build_model_card(
            args.folder,
            tasks=tasks,
            repo_id=args.repo_id,
            base_model=args.base_model,
            base_model_relation=args.base_model_relation,
            license=args.license,
        )
    check_model_card(card)
    if args.dry_run:
        print(card)
        return 0
    card.save(readme)
    print(f"wrote {readme}")
    if not args.no_eval_results_files:
        for name, entries in to_eval_result_entries(tasks).items():
            path = args.folder / ".eval_results" / name
            path.parent.mkdir(exist_ok=True)
            path.write_text(eval_results_yaml(entries), encoding="utf-8")
            print(f"wrote {path}")
        for task in without_eval_results_file(tasks):
            print(f"no .eval_results file for {task.task}: its dataset ({task.dataset_id}) is not on the Hub")
    return 0


def push_model_command(args) -> int:
    from .hub import push_model

    plan = push_model(
        args.folder,
        args.repo_id,
        private=args.private,
        revision=args.revision,
        create_pr=args.create_pr,
        dry_run=args.dry_run,
    )
    print(plan.describe())
    return 0


def push_results_command(args) -> int:
    from .hub import push_results

    plan = push_results(
        args.results,
        args.repo_id,
        revision=args.revision,
        create_pr=args.create_pr,
        dry_run=args.dry_run,
        eval_results_files=not args.no_eval_results_files,
    )
    print(plan.describe())
    return 0


def push_dataset_command(args) -> int:
    from .hub import push_dataset

    plan = push_dataset(
        args.folder,
        args.repo_id,
        annotations=args.annotations,
        data_format=args.format,
        split=args.split,
        private=args.private,
        license=args.license,
        source=args.source,
        gated=args.gated,
        output_dir=args.output_dir,
        dry_run=args.dry_run,
    )
    print(plan.describe())
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .hub import HubError

    try:
        return args.run(args)
    except HubError as error:
        print(f"tarsier-hub: error: {error}", file=sys.stderr)
        return error.exit_code
    except (ValueError, OSError) as error:  # bad input: files, formats, validation (nothing was uploaded)
        print(f"tarsier-hub: error: {error}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
