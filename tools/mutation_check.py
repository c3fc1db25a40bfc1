"""Mutation check: does the test suite catch deliberate bugs in the core?

Each mutation replaces one exact piece of source (which must occur exactly once, so a stale mutation is an error,
not a silent pass) in a temporary copy of the repository (tracked and untracked, not ignored, files), runs the tests
that guard that code (``pytest -x``, targeted, fast), and reports the mutation KILLED (the tests fail) or SURVIVED
(they pass: the suite would not notice the bug). The copy is restored between mutations; the checkout is never
touched.

    python tools/mutation_check.py                 # all mutations
    python tools/mutation_check.py --list          # names only
    python tools/mutation_check.py rounding pad    # some of them (names or substrings)

Exit status 0 when every selected mutation is killed, 1 when one survived or its test run errored (a collection
error or a timeout proves nothing), 2 for a stale mutation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = [
    Mutation(
        "rounding",
        "frame sampling floors instead of Python's round",
        "tarsier_hf/video_io.py",
        "return [round(i * (total_frames - 1) / (num_frames - 1)) for i in range(num_frames)]",
        "return [int(i * (total_frames - 1) / (num_frames - 1)) for i in range(num_frames)]",
        ("tests/test_processing_tarsier.py::test_sampling_indices_used_for_files",),
    ),
    Mutation(
        "newline-row",
        "the newline embedding goes before each row of patches instead of after it",
        "tarsier_hf/modeling_tarsier.py",
        "grid = torch.cat([grid, newline.expand(num_frames, rows, 1, hidden)], dim=2)",
        "grid = torch.cat([newline.expand(num_frames, rows, 1, hidden), grid], dim=2)",
        (
            "tests/test_modeling_tarsier.py::test_newline_and_end_of_image_embeddings_sit_after_each_row_and_frame",
            "tests/test_modeling_tarsier.py::test_logits_match_an_independent_implementation_of_the_official_forward",
        ),
    ),
    Mutation(
        "end-of-image",
        "the end-of-image embedding is the newline embedding",
        "tarsier_hf/modeling_tarsier.py",
        "end_of_image = embed(torch.tensor(self.config.image_new_idx, device=device))",
        "end_of_image = embed(torch.tensor(self.config.image_newline_idx, device=device))",
        ("tests/test_modeling_tarsier.py::test_newline_and_end_of_image_embeddings_sit_after_each_row_and_frame",),
    ),
    Mutation(
        "collator-prompt-labels",
        "training labels on prompt tokens: the SFT collator labels every token, not only the assistant's",
        "trl_recipes/collator.py",
        "        labels = torch.full_like(input_ids, IGNORE_INDEX)\n        for position, (start, end) in enumerate(offsets):",
        "        labels = input_ids.clone()\n        for position, (start, end) in enumerate(offsets):",
        ("tests/train/test_collator.py::test_labels_are_assistant_tokens_and_eos_multi_turn",),
    ),
    Mutation(
        "prompt-labels",
        "the chat template's {% generation %} mask (what TRL's assistant_only_loss reads) covers the user turn",
        "tarsier_hf/processing_tarsier.py",
        """"{%- elif message['role'] == 'user' -%}{{ 'USER: ' ~ ns.text ~ ' ' }}\"""",
        """"{%- elif message['role'] == 'user' -%}{%- generation -%}{{ 'USER: ' ~ ns.text ~ ' ' }}{%- endgeneration -%}\"""",
        ("tests/test_processing_tarsier.py::test_chat_template_multi_turn_and_assistant_mask",),
    ),
    Mutation(
        "prompt-space",
        "the wrapped prompt loses the trailing space after 'ASSISTANT:' (official: 'ASSISTANT: ')",
        "tarsier_hf/processing_tarsier.py",
        """texts = [t if _VICUNA_TURN.search(t) else f"USER: {t} ASSISTANT: " for t in texts]""",
        """texts = [t if _VICUNA_TURN.search(t) else f"USER: {t} ASSISTANT:" for t in texts]""",
        ("tests/test_processing_tarsier.py::test_input_ids_reproduce_the_official_prompt",),
    ),
    Mutation(
        "batch-drops-frame",
        "a batch of several texts loses its last frame",
        "tarsier_hf/processing_tarsier.py",
        """            data["pixel_values"] = preprocessor.stack(processed)""",
        """            data["pixel_values"] = preprocessor.stack(processed[:-1] if len(texts) > 1 else processed)""",
        ("tests/test_processing_tarsier.py::test_per_video_start_and_end_times_trim_each_video",),
    ),
    Mutation(
        "trim-ignored-per-video",
        "per-video start times: every video gets the first video's window",
        "tarsier_hf/processing_tarsier.py",
        "                start_time=start_times[index],",
        "                start_time=start_times[0],",
        ("tests/test_processing_tarsier.py::test_per_video_start_and_end_times_trim_each_video",),
    ),
    Mutation(
        "pad-ignored",
        "square_mode='pad' stretches",
        "tarsier_hf/image_processing_tarsier.py",
        "square = make_square(image, self.square_mode, self.fill)",
        'square = make_square(image, "stretch", self.fill)',
        ("tests/test_processing_tarsier.py::test_pixels_match_an_independent_computation",),
    ),
    Mutation(
        "fast-pad-ignored",
        "square_mode='pad' stretches on the fast path (fast_resize=True)",
        "tarsier_hf/image_processing_tarsier.py",
        """            if self.square_mode == "pad":""",
        """            if self.square_mode == "never":""",
        ("tests/test_processing_tarsier.py::test_fast_path_deviation",),
    ),
    Mutation(
        "neutral-precision",
        "AutoDQ precision counts 'neutral' judgments as hits",
        "lmms_tasks/autodq/scorer.py",
        "precision_judgments=judged, precision_hits=count_entailed(judged), precision=event_score(events, judged)",
        "precision_judgments=judged, precision_hits=count_entailed(judged), precision=1.0 if not events else "
        "sum(item['relationship'] in ('entailment', 'neutral') for item in judged) / len(events)",
        ("tests/autodq/test_autodq_scorer.py::test_hand_worked_clip",),
    ),
    Mutation(
        "failed-as-zero",
        "AutoDQ: clips whose judging failed are scored as 0 instead of being excluded",
        "lmms_tasks/autodq/scorer.py",
        "**summarize(scored, failed, n_resamples=self.bootstrap_resamples, seed=self.seed),",
        "**summarize(scored + [{**r, 'recall': 0.0, 'precision': 0.0} for r in failed], failed, "
        "n_resamples=self.bootstrap_resamples, seed=self.seed),",
        ("tests/autodq/test_autodq_judge.py::test_a_clip_that_never_gets_a_valid_reply_fails_loudly_and_is_excluded",),
    ),
    Mutation(
        "mean-of-f1",
        "AutoDQ overall F1 as F1 of pooled clip means instead of the mean over sources",
        "lmms_tasks/autodq/metrics.py",
        """        "overall": overall_scores(per_source),""",
        """        "overall": {**mean_scores(scored), "n": len(scored)},""",
        ("tests/autodq/test_autodq_metrics.py::test_sources_weigh_equally_when_clips_fail",),
    ),
    Mutation(
        "bf16-on-gpu",
        "load_tarsier picks fp16 on GPUs that support bf16",
        "tarsier_hf/loading.py",
        "return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16",
        "return torch.float16",
        ("tests/test_loading.py::test_choices_on_a_cuda_machine",),
    ),
    Mutation(
        "plugin-square-mode",
        "the lmms-eval plugin does not pass square_mode to the processor",
        "lmms_tasks/models/tarsier.py",
        """            **({"square_mode": self.square_mode} if self.family == "tarsier" else {}),""",
        """            **({} if self.family == "tarsier" else {}),""",
        ("tests/lmms/test_lmms_dream1k_parts.py::test_chat_model_options_reach_the_processor_and_the_model",),
    ),
]


def copy_repo(target: Path) -> None:
    """Tracked and untracked (not ignored) files of the checkout, as they are now."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for relative in filter(None, listed):
        source = REPO / relative
        if source.is_file():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def run_mutation(mutation: Mutation, copy: Path, timeout: int) -> tuple[str, float, str]:
    path = copy / mutation.path
    original = path.read_text(encoding="utf-8")
    count = original.count(mutation.old)
    if count != 1:
        return "STALE", 0.0, f"the text to mutate occurs {count} times in {mutation.path}"
    path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mutation.tests],
            check=False,
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        # exit 1: tests failed. Anything else (collection error, usage error) proves nothing: reported as ERROR.
        outcome = {0: "SURVIVED", 1: "KILLED"}.get(result.returncode, f"ERROR (pytest exit {result.returncode})")
        detail = next((line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))), "")
    except subprocess.TimeoutExpired:
        outcome, detail = "ERROR (timeout)", f"no result within {timeout} s"
    finally:
        path.write_text(original, encoding="utf-8")
    return outcome, time.monotonic() - start, detail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutations to run (names or substrings; default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per mutation's test run")
    args = parser.parse_args(argv)
    selected = [m for m in MUTATIONS if not args.names or any(name in m.name for name in args.names)]
    if args.list or not selected:
        for mutation in MUTATIONS:
            print(f"{mutation.name:24} {mutation.what}")
        return 0 if args.list else 2

    survived = stale = errors = 0
    with tempfile.TemporaryDirectory(prefix="tarsier-mutants-") as tmp:
        copy = Path(tmp) / "repo"
        copy_repo(copy)
        for mutation in selected:
            outcome, seconds, detail = run_mutation(mutation, copy, args.timeout)
            survived += outcome == "SURVIVED"
            stale += outcome == "STALE"
            errors += outcome.startswith("ERROR")
            print(
                f"{outcome:28} {mutation.name:24} {seconds:6.1f}s  {mutation.what}"
                + (f"\n{'':30}{detail}" if detail else ""),
                flush=True,
            )
    killed = len(selected) - survived - stale - errors
    print(f"{killed} of {len(selected)} mutations killed, {survived} survived, {errors} errors, {stale} stale")
    return 2 if stale else (1 if survived or errors else 0)


if __name__ == "__main__":
    sys.exit(main())
