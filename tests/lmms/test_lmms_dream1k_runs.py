"""End-to-end: ``lmms-eval ... --tasks dream1k`` in subprocesses, over real DREAM-1K annotations (the committed
subset), generated clips
named after the clip ids and the local judge; the tests read what the runs write (lmms-eval exits 0 on failure).

The numbers are computed by hand from the local judge's rules (``lmms_tasks.autodq.testing``): an event is entailed
when its text (lowercased, final "." dropped) occurs in the other description; extraction splits at ".".
"""

import json
import sys
from pathlib import Path

import pytest
import torch
from _lmms_harness import TASKS_DIR, base_env, load_run, output_of, run_lmms_eval

from lmms_tasks.autodq import PROMPT_HASH

# Clip 1's reference: "A character emerges from smoke and fire, then half knelt on the ground and made a gesture ...",
# events: emerges from smoke and fire / half kneels on the ground / makes a gesture / a group rushes forward / grabs.
DUMMY_RESPONSE = "A character emerges from smoke and fire. The character half kneels on the ground."
PROMPT = "Describe the video in detail."


def dream1k_args(output_path: Path, *extra: str) -> list[str]:
    return ["--tasks", "dream1k", "--limit", "4", "--output_path", str(output_path), "--log_samples", *extra]


def check_report_shape(task: dict, n_clips: int) -> dict:
    """The task's results hold the headline numbers and the path of the full AutoDQ report; returns the report."""
    report_file = Path(task["autodq,none"])
    report = json.loads(report_file.read_text())
    assert report["benchmark"] == "DREAM-1K"
    assert set(report["overall"]) == {"f1", "precision", "recall", "n"}
    assert report["overall"]["f1"] == task["autodq_f1,none"]
    assert report["overall"]["precision"] == task["autodq_precision,none"]
    assert report["f1_ci95"] == [task["autodq_f1_ci95_low,none"], task["autodq_f1_ci95_high,none"]]
    assert set(report["buckets"]) == {"subjects", "shots", "events"}
    assert set(report["buckets"]["events"]) == {"<=3", "in [4, 5]", "in [6, 7]", ">=8"}
    assert report["n_scored"] == n_clips and report["n_failed"] == 0 and report["failed_ids"] == []
    assert task["autodq_n_scored,none"] == n_clips and task["autodq_n_failed,none"] == 0
    assert len(report["f1_ci95"]) == 2 and report["f1_ci95"][0] <= report["overall"]["f1"] <= report["f1_ci95"][1]
    protocol = report["protocol"]
    assert protocol["generation_prompt"] == PROMPT
    assert protocol["judge_model"] == "gpt-3.5-turbo-0125"
    assert protocol["prompt_hash"] == PROMPT_HASH
    assert protocol["package_versions"]["lmms-eval"] == "0.7.3"
    assert protocol["limit"] == 4
    run_dir = report_file.parent
    assert len((run_dir / "autodq_per_clip.jsonl").read_text().splitlines()) == n_clips
    assert len((run_dir / "predictions.jsonl").read_text().splitlines()) == n_clips
    assert (run_dir / "autodq.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return report


def test_dummy_model_run_is_scored_once_with_every_field(tmp_path, lmms_env, judge_server):
    calls_before = judge_server.calls
    process = run_lmms_eval(
        ["--model", "dummy", "--model_args", f"response={DUMMY_RESPONSE}", *dream1k_args(tmp_path / "out")],
        lmms_env,
        tmp_path,
    )
    results, samples = load_run(tmp_path / "out", process)
    task = results["results"]["dream1k"]

    # Clip 1: recall 2/5, precision 1/2 ("the character half kneels on the ground" is not in its reference text);
    # clips 2-4 share nothing with the response. One source, so overall = movie_animation = mean over the 4 clips.
    assert task["autodq_recall,none"] == pytest.approx(0.4 / 4)
    assert task["autodq_precision,none"] == pytest.approx(0.5 / 4)
    assert task["autodq_f1,none"] == pytest.approx(2 * 0.1 * 0.125 / 0.225)
    report = check_report_shape(task, n_clips=4)
    assert list(report["per_source"]) == ["DREAM/movie_animation"]
    assert report["per_source"]["DREAM/movie_animation"]["n"] == 4
    # n_subjects of clips 1-4: 4, 2, 6, 3 -> clips 1 and 3 in ">=4".
    assert report["buckets"]["subjects"][">=4"]["recall"] == pytest.approx(0.2)
    assert report["buckets"]["subjects"]["<=1"]["n"] == 0
    assert report["protocol"]["model"] == "dummy" and report["protocol"]["frames"] is None
    assert report["n_annotations"] == 50 and report["n_predictions"] == 4
    # One extraction of the shared response, then one entailment call per side and clip.
    assert judge_server.calls - calls_before == 1 + 4 + 4

    assert [sample["autodq"]["clip_id"] for sample in samples] == ["1", "2", "3", "4"]
    first = samples[0]["autodq"]
    assert first["prediction"] == DUMMY_RESPONSE and first["source"] == "DREAM/movie_animation"
    assert first["ref_events"][0] == "A character emerges from smoke and fire."
    assert first["pred_events"] == [
        "a character emerges from smoke and fire",
        "the character half kneels on the ground",
    ]
    assert [j["relationship"] for j in first["recall_judgments"]] == ["entailment"] * 2 + ["neutral"] * 3
    assert [j["relationship"] for j in first["precision_judgments"]] == ["entailment", "neutral"]
    assert (first["recall"], first["precision"], first["error"]) == (0.4, 0.5, None)
    assert samples[0]["autodq_f1"] == "1"  # the other metrics' items are written as the clip id
    assert samples[0]["input"] == PROMPT

    # The same predictions again: every judge reply comes from the cache and the numbers are identical.
    calls_before = judge_server.calls
    again = run_lmms_eval(
        ["--model", "dummy", "--model_args", f"response={DUMMY_RESPONSE}", *dream1k_args(tmp_path / "again")],
        lmms_env,
        tmp_path,
    )
    repeated, _ = load_run(tmp_path / "again", again)
    assert judge_server.calls == calls_before
    again_report = json.loads(Path(repeated["results"]["dream1k"]["autodq,none"]).read_text())
    for key in ("overall", "per_source", "buckets", "f1_ci95"):
        assert again_report[key] == report[key]


def reference_predictions(checkpoint: Path, videos: list[Path], num_frames: int, max_new_tokens: int) -> list[str]:
    """What Tarsier says about each clip, asked directly with the official prompt (no lmms-eval)."""
    from tarsier_hf import TarsierForConditionalGeneration
    from tarsier_hf.processing_tarsier import TarsierProcessor

    model = TarsierForConditionalGeneration.from_pretrained(checkpoint).eval()
    processor = TarsierProcessor.from_pretrained(checkpoint)
    predictions = []
    for video in videos:
        inputs = processor(
            text=f"USER: <video>\n{PROMPT} ASSISTANT: ", videos=[str(video)], num_frames=num_frames, return_tensors="pt"
        )
        with torch.inference_mode():
            output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        predictions.append(
            processor.tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()
        )
    return predictions


def test_tarsier_model_run_matches_direct_generation(tmp_path, lmms_env, tiny_checkpoint, dream1k_videos):
    model_args = f"pretrained={tiny_checkpoint},num_frames=2,max_new_tokens=8,dtype=float32"
    process = run_lmms_eval(
        ["--model", "tarsier", "--model_args", model_args, "--batch_size", "3", *dream1k_args(tmp_path / "out")],
        lmms_env,
        tmp_path,
    )
    results, samples = load_run(tmp_path / "out", process)

    expected = reference_predictions(
        tiny_checkpoint, [dream1k_videos / f"{i}.mp4" for i in "1234"], num_frames=2, max_new_tokens=8
    )
    assert len(set(expected)) == 4  # the clips look different to the model
    assert [sample["autodq"]["prediction"] for sample in samples] == expected
    assert [sample["filtered_resps"] for sample in samples] == expected
    assert results["config"]["model_backend"] == "lmms_tasks.models.tarsier.TarsierChat (chat)"
    report = check_report_shape(results["results"]["dream1k"], n_clips=4)
    protocol = report["protocol"]
    assert protocol["frames"] == 2 and protocol["frame_sampling"].startswith("uniform")
    assert protocol["model_settings"]["pretrained"] == str(tiny_checkpoint)
    assert protocol["model_settings"]["dtype"] == "float32"
    # The results sit in lmms-eval's folder for the model (named after `pretrained`), the AutoDQ files next to them.
    results_file = next((tmp_path / "out").rglob("[0-9]*_results.json"))
    assert Path(results["results"]["dream1k"]["autodq,none"]).parent.parent == results_file.parent


@pytest.mark.slow
def test_two_processes_share_the_clips_and_score_them_once(tmp_path, lmms_env, tiny_checkpoint, dream1k_videos):
    """``torchrun`` is what ``accelerate launch`` runs for several processes; lmms-eval gives each rank half the clips."""
    model_args = f"pretrained={tiny_checkpoint},num_frames=2,max_new_tokens=8"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    process = run_lmms_eval(
        ["--model", "tarsier", "--model_args", model_args, *dream1k_args(tmp_path / "out")],
        lmms_env,
        tmp_path,
        launcher=launcher,
    )
    results, samples = load_run(tmp_path / "out", process)
    assert "Postprocessed 2 docs for dream1k" in process.stdout + process.stderr, output_of(process)

    expected = reference_predictions(
        tiny_checkpoint, [dream1k_videos / f"{i}.mp4" for i in "1234"], num_frames=2, max_new_tokens=8
    )
    assert [sample["autodq"]["prediction"] for sample in samples] == expected
    # Rank 1's logged rows carry the judgments made on rank 0 too.
    assert all(sample["autodq"]["recall_judgments"] and sample["autodq"]["error"] is None for sample in samples)
    assert results["results"]["dream1k"]["autodq_n_scored,none"] == 4


def test_include_path_runs_the_task_without_automatic_discovery(tmp_path, lmms_env, tiny_checkpoint, dream1k_videos):
    """Also the simple model class (``--force_simple``): same prompt, same predictions as the chat one."""
    lmms_env["TARSIER_HF_TASK_DISCOVERY"] = "0"
    model_args = f"pretrained={tiny_checkpoint},num_frames=2,max_new_tokens=8"
    process = run_lmms_eval(
        [
            "--model",
            "tarsier",
            "--force_simple",
            "--model_args",
            model_args,
            "--include_path",
            str(TASKS_DIR),
            *dream1k_args(tmp_path / "out"),
        ],
        lmms_env,
        tmp_path,
    )
    results, samples = load_run(tmp_path / "out", process)
    assert results["config"]["model_backend"] == "lmms_tasks.models.tarsier.Tarsier (simple)"
    expected = reference_predictions(
        tiny_checkpoint, [dream1k_videos / f"{i}.mp4" for i in "1234"], num_frames=2, max_new_tokens=8
    )
    assert [sample["autodq"]["prediction"] for sample in samples] == expected
    check_report_shape(results["results"]["dream1k"], n_clips=4)


def test_task_listing_needs_no_judge_key_nor_data(tmp_path):
    env = base_env(tmp_path)  # no judge, no annotations, no videos, offline
    listed = run_lmms_eval(["--tasks", "list"], env, tmp_path, timeout=180)
    assert " - dream1k\n" in listed.stdout + listed.stderr, output_of(listed)

    env["TARSIER_HF_TASK_DISCOVERY"] = "0"
    without = run_lmms_eval(["--tasks", "list"], env, tmp_path, timeout=180)
    assert " - videomme\n" in without.stdout + without.stderr, output_of(without)
    assert " - dream1k\n" not in without.stdout + without.stderr

    subcommand = run_lmms_eval(["tasks", "list", "--include-path", str(TASKS_DIR)], env, tmp_path, timeout=180)
    assert "  dream1k\n" in subcommand.stdout, output_of(subcommand)
