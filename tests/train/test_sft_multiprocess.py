"""End-to-end: real 2-process CPU DDP runs (torchrun, gloo) of the stage-2 recipe, resume, and a stage-1 mixture.

One module-scoped pair of runs feeds several assertions:
- run A: 2 processes, 6 optimizer steps on an 8-clip overfit set, checkpoint at step 3;
- run B: the same command resumed from run A's step-3 checkpoint.
"""

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file

from tarsier_hf import TarsierForConditionalGeneration, TarsierProcessor
from tarsier_hf.testing import save_tiny_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _train_data import make_media, stage2_rows, write_jsonl

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env.update(
        OMP_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        HF_DATASETS_OFFLINE="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_NO_ADVISORY_WARNINGS="1",
        ACCELERATE_USE_CPU="1",
    )
    return env


def _stage2_args(checkpoint: Path, data: Path, output_dir: Path, *extra: str) -> list[str]:
    return [
        "--config",
        "stage2.yaml",
        "--model_name_or_path",
        str(checkpoint),
        "--dataset_name",
        str(data / "stage2.jsonl"),
        "--video_root",
        str(data),
        "--output_dir",
        str(output_dir),
        "--max_steps",
        "6",
        "--warmup_steps",
        "0",
        "--learning_rate",
        "1e-2",
        "--lr_scheduler_type",
        "constant",
        "--global_batch_size",
        "2",
        "--per_device_train_batch_size",
        "1",
        "--bf16",
        "false",
        "--dtype",
        "float32",
        "--use_cpu",
        "true",
        "--gradient_checkpointing",
        "false",
        "--report_to",
        "none",
        "--logging_steps",
        "1",
        "--save_steps",
        "3",
        "--save_only_model",
        "false",
        "--dataloader_num_workers",
        "1",
        "--max_length",
        "256",
        "--log_sample_ids",
        "true",
        "--optim",
        "adamw_torch",
        *extra,
    ]


def _torchrun(args: list[str], log: Path) -> None:
    command = [
        PYTHON,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "trl_recipes.sft_tarsier",
        *args,
    ]
    # Output to the log file, not a pipe: a rank that outlives the launcher cannot keep the test waiting for EOF.
    with log.open("w") as output:
        process = subprocess.Popen(
            command, env=_env(), cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            process.wait(timeout=420)
        except subprocess.TimeoutExpired:
            _kill_tree(process.pid)  # torchrun starts each rank in a session of its own: kill them one by one
            process.wait()
            pytest.fail(f"torchrun timed out; log: {log}\n{log.read_text()[-3000:]}")
    assert process.returncode == 0, log.read_text()[-4000:]


def _kill_tree(pid: int) -> None:
    parent = psutil.Process(pid)
    for process in [*parent.children(recursive=True), parent]:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def _losses(output_dir: Path) -> list[float]:
    states = sorted(
        output_dir.glob("checkpoint-*/trainer_state.json"),
        key=lambda p: int(p.parent.name.split("-")[1]),
    )
    history = json.loads(states[-1].read_text())["log_history"]
    return [entry["loss"] for entry in history if "loss" in entry]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    checkpoint = save_tiny_checkpoint(root / "tiny")
    data = make_media(root / "data", num_videos=8, frames=12)
    write_jsonl(data / "stage2.jsonl", stage2_rows(8))
    run_a, run_b = root / "run_a", root / "run_b"
    _torchrun(_stage2_args(checkpoint, data, run_a), root / "run_a.log")
    resume = str(run_a / "checkpoint-3")
    _torchrun(
        _stage2_args(checkpoint, data, run_b, "--resume_from_checkpoint", resume),
        root / "run_b.log",
    )
    return {
        "checkpoint": checkpoint,
        "data": data,
        "a": run_a,
        "b": run_b,
        "root": root,
    }


def test_loss_decreases_on_overfit_set(runs):
    losses = _losses(runs["a"])
    assert len(losses) == 6
    assert sum(losses[-2:]) / 2 < 0.9 * sum(losses[:2]) / 2, losses


def test_ranks_see_disjoint_samples(runs):
    per_rank = []
    for rank in (0, 1):
        entries = [json.loads(line) for line in (runs["a"] / f"sample_ids_rank{rank}.jsonl").read_text().splitlines()]
        assert len(entries) == 6  # one micro-batch per optimizer step (global batch 2 = 2 ranks x 1)
        per_rank.append(entries)
    first_epoch = [{i for e in entries[:4] for i in e["ids"]} for entries in per_rank]  # 8 rows = 4 steps x 2 ranks
    assert first_epoch[0].isdisjoint(first_epoch[1])
    assert first_epoch[0] | first_epoch[1] == {f"stage2/s2-{i}" for i in range(8)}
    # accelerate's set_epoch reaches the rows built in the dataloader worker: epoch 1 draws new frame seeds
    assert [e["epochs"] for e in per_rank[0]] == [[0]] * 4 + [[1]] * 2


def test_resumed_run_ends_with_the_same_weights(runs):
    # The checkpoint is in the official key layout; before the fix, Trainer's load_state_dict(strict=False) matched
    # no key and the resumed run silently continued from the initial weights.
    final_a = load_file(runs["a"] / "model.safetensors")
    final_b = load_file(runs["b"] / "model.safetensors")
    initial = load_file(runs["checkpoint"] / "model.safetensors")
    assert final_a.keys() == final_b.keys()
    for key in final_a:
        assert torch.equal(final_a[key], final_b[key]), key
    changed = [k for k in final_a if not torch.equal(final_a[k], initial[k])]
    assert changed and all("vision_tower" not in k and "multi_modal_projector" not in k for k in changed)
    resumed_log = (runs["root"] / "run_b.log").read_text()
    assert "missing" not in resumed_log.lower() or "There were missing keys" not in resumed_log
    # the resumed run logged only steps 4-6
    resumed = [json.loads(line) for line in (runs["b"] / "sample_ids_rank0.jsonl").read_text().splitlines()]
    assert [e["step"] for e in resumed] == [3, 4, 5]


def test_final_model_reloads_and_generates(runs):
    out = runs["a"]
    record = json.loads((out / "tarsier_training.json").read_text())
    assert record["stage"] == 2 and record["steps"] == 6 and record["global_batch_size"] == 2
    assert record["datasets"][0]["frames"]["sampler"] == "stage2"
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "tarsier"
    model = TarsierForConditionalGeneration.from_pretrained(out).eval()
    processor = TarsierProcessor.from_pretrained(out)
    inputs = processor(
        text="<video>\nDescribe the video in detail.",
        videos=str(runs["data"] / "videos" / "v0.mp4"),
        num_frames=2,
        return_tensors="pt",
    )
    generated = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert generated.shape[1] > inputs["input_ids"].shape[1]
