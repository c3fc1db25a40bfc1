"""End-to-end: one ``lmms-eval --model tarsier --tasks tarsier_nextqa_mc,tarsier_msvd_qa,tarsier_msvd_caption,
tarsier_egoschema --limit 4`` run in a subprocess (tiny checkpoint, generated clips named after the excerpts'
``vid``s, the local annotation excerpts, the local judge), shared by the assertions below; then
``tarsier-eval score`` on the released-format predictions it wrote must give the same numbers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _lmms_harness import base_env, output_of, run_lmms_eval, write_clip

from lmms_tasks.autodq.testing import LocalJudgeServer
from lmms_tasks.zeroshot.benchmarks import BENCHMARKS
from lmms_tasks.zeroshot.open_qa import PROMPT_HASH
from lmms_tasks.zeroshot.released_format import released_prompt

REPO = Path(__file__).resolve().parents[2]
EXCERPTS = REPO / "tests" / "data" / "tarsier_eval"
TASKS = ("tarsier_nextqa_mc", "tarsier_msvd_qa", "tarsier_msvd_caption", "tarsier_egoschema")
MAX_NEW_TOKENS = 8
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("zeroshot_run")
    videos = root / "videos"
    videos.mkdir()
    vids = sorted({json.loads(line)["vid"] for f in EXCERPTS.glob("*.jsonl") for line in f.read_text().splitlines()})
    for seed, vid in enumerate(vids):
        write_clip(videos / f"{vid}.mp4", seed=seed, num_frames=20)
    with LocalJudgeServer() as server:
        env = base_env(root)
        env.update(
            TARSIER_EVAL_ANNOTATIONS_DIR=str(EXCERPTS),
            TARSIER_EVAL_VIDEO_DIR=str(videos),
            TARSIER_JUDGE_BASE_URL=server.base_url,
            TARSIER_AUTODQ_CACHE=str(root / "judge_cache"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        )
        model_args = f"pretrained={tiny_checkpoint},max_new_tokens={MAX_NEW_TOKENS},dtype=float32"
        args = ["--model", "tarsier", "--model_args", model_args, "--tasks", ",".join(TASKS), "--limit", "4"]
        process = run_lmms_eval([*args, "--output_path", str(root / "out"), "--log_samples"], env, root, timeout=600)
        calls = server.calls
        results_files = sorted((root / "out").rglob("[0-9]*_results.json"))
        assert len(results_files) == 1, output_of(process)
        results = json.loads(results_files[0].read_text())
        samples = {}
        for task in TASKS:
            (path,) = (root / "out").rglob(f"[0-9]*_samples_{task}.jsonl")
            samples[task] = sorted(
                (json.loads(line) for line in path.read_text().splitlines()), key=lambda s: s["doc_id"]
            )
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "lmms_tasks.eval_cli",
                "score",
                str(root / "out"),
                "--output-dir",
                str(root / "cli"),
                "--quiet",
                "--benchmarks",
                "nextqa_mc",
                "msvd_qa",
                "msvd_caption",
                "egoschema",
            ],
            check=False,
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        yield {
            "root": root,
            "results": results,
            "samples": samples,
            "calls": calls,
            "cli": cli,
            "videos": videos,
            "process": process,
            "server": server,
        }


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    from tarsier_hf.modeling_tarsier import TarsierForConditionalGeneration
    from tarsier_hf.processing_tarsier import TarsierProcessor

    return TarsierForConditionalGeneration.from_pretrained(tiny_checkpoint).eval(), TarsierProcessor.from_pretrained(
        tiny_checkpoint
    )


def direct_predictions(tiny, videos: Path, key: str, n_rows: int, num_frames: int) -> list[str]:
    """The tiny model on the released prompt, through the processor directly (no lmms-eval, no plugin)."""
    model, processor = tiny
    rows = [json.loads(line) for line in (EXCERPTS / BENCHMARKS[key].annotation_file).read_text().splitlines()][:n_rows]
    outputs = []
    for row in rows:
        inputs = processor(
            text=released_prompt(row["text"]["prompt"]),
            videos=[str(videos / f"{row['vid']}.mp4")],
            num_frames=num_frames,
            return_tensors="pt",
        )
        with torch.inference_mode():
            generated = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
        outputs.append(
            processor.tokenizer.decode(generated[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()
        )
    return outputs


def full(entry: dict) -> dict:
    """The task's full results: its ``results`` metric is the path of ``<benchmark>_results.json``."""
    path = Path(entry["results,none"])
    assert path.is_file(), entry["results,none"]
    return json.loads(path.read_text())


def test_every_task_is_scored_with_every_field(run):
    tasks = run["results"]["results"]
    mc = tasks["tarsier_nextqa_mc"]
    assert set(mc) >= {"accuracy,none", "accuracy_all,none", "n_failed_parse,none", "results,none"}, output_of(
        run["process"]
    )
    report = full(mc)
    assert report["overall"]["n"] == 4 and report["overall"]["n_parsed"] + report["n_failed_parse"] == 4
    assert mc["n_failed_parse,none"] == report["n_failed_parse"] == len(report["failed_parse_ids"])
    protocol = report["protocol"]
    assert protocol["frames"] == 8 and protocol["model"] == "tarsier" and protocol["limit"] == 4
    assert protocol["prompt_template_hash"] == BENCHMARKS["nextqa_mc"].template_hash
    assert protocol["n_prompts_matching_template"] == protocol["n_prompts_checked"] == 4
    assert protocol["package_versions"]["lmms-eval"] == "0.7.3"
    assert protocol["generation"].startswith(f"greedy, max_new_tokens {MAX_NEW_TOKENS} (model_args")
    assert (Path(mc["results,none"]).parent / "predictions.jsonl").is_file()

    qa = full(tasks["tarsier_msvd_qa"])
    assert qa["overall"]["n"] == 4 and qa["n_failed"] == 0 and qa["protocol"]["judge_prompt_hash"] == PROMPT_HASH
    assert tasks["tarsier_msvd_qa"]["score,none"] == qa["overall"]["score"]
    assert run["calls"] == 4  # judged once, although six metrics aggregate the task
    caption = full(tasks["tarsier_msvd_caption"])
    assert caption["overall"]["n"] == 4 and tasks["tarsier_msvd_caption"]["cider,none"] == caption["overall"]["cider"]
    assert len(caption["cider_ci95"]) == 2 and caption["protocol"]["metric"] == "CIDEr-D (PTB tokenized)"
    assert caption["protocol"]["n_prompts_matching_template"] == caption["protocol"]["n_prompts_checked"] == 4
    assert full(tasks["tarsier_egoschema"])["protocol"]["frames"] == 16


def test_predictions_are_the_tiny_model_on_the_released_prompt_with_the_task_frame_count(run, tiny):
    logged = [sample["filtered_resps"] for sample in run["samples"]["tarsier_nextqa_mc"]]
    assert logged == direct_predictions(tiny, run["videos"], "nextqa_mc", 4, num_frames=8)
    egoschema = [sample["filtered_resps"] for sample in run["samples"]["tarsier_egoschema"]]
    assert egoschema == direct_predictions(tiny, run["videos"], "egoschema", 4, num_frames=16)
    assert egoschema[:2] != direct_predictions(tiny, run["videos"], "egoschema", 2, num_frames=8)


def test_tarsier_eval_score_on_the_written_predictions_gives_the_same_numbers(run):
    cli = run["cli"]
    assert cli.returncode in (0, 3), cli.stderr
    tasks = run["results"]["results"]
    for key in ("nextqa_mc", "msvd_qa", "msvd_caption", "egoschema"):
        lmms = full(tasks[f"tarsier_{key}"])
        scored = json.loads((run["root"] / "cli" / f"{key}_results.json").read_text())
        assert scored["overall"] == lmms["overall"], key
        for name in ("accuracy_ci95", "score_ci95", "cider_ci95", "failed_parse_ids", "failed_ids"):
            assert scored.get(name) == lmms.get(name), (key, name)
    assert "nextqa_mc" in cli.stdout and "CIDEr" in cli.stdout
