"""The sft_tarsier script: config parsing, bad input failing before any step (one line, exit 2), the training
record, stage 1 on a 3-dataset mixture."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tarsier_hf.testing import save_tiny_checkpoint
from trl_recipes.sft_tarsier import (
    CONFIG_DIR,
    EXIT_CONFIG_ERROR,
    _shipped_config,
    build_dataset,
    check_args,
    cli,
    gradient_accumulation,
    make_parser,
    write_training_record,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _train_data import CAPTIONS, make_media, stage2_rows, write_jsonl

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("script")
    checkpoint = save_tiny_checkpoint(root / "tiny")
    data = make_media(root / "data", num_videos=3, num_images=3, frames=12)
    write_jsonl(data / "stage2.jsonl", stage2_rows(3))
    return root, checkpoint, data


def _base(workspace, *extra):
    root, checkpoint, _ = workspace
    return [
        "--config",
        "stage2.yaml",
        "--model_name_or_path",
        str(checkpoint),
        "--output_dir",
        str(root / "out"),
        "--use_cpu",
        "true",
        "--bf16",
        "false",
        "--report_to",
        "none",
        *extra,
    ]


def test_shipped_configs_parse_with_table7_values():
    parser = make_parser()
    script, training, model = parser.parse_args_and_config(
        args=[
            "--config",
            str(CONFIG_DIR / "stage1.yaml"),
            "--output_dir",
            "x",
            "--learning_rate",
            "1e-5",
            "--use_cpu",
            "true",
        ]
    )
    assert script.stage == 1 and script.global_batch_size == 288 and training.max_steps == 100000
    assert training.warmup_steps == 1000 and training.learning_rate == 1e-5  # the CLI overrides the YAML
    assert training.adam_epsilon == 1e-6 and training.weight_decay == 0.01 and training.max_grad_norm == 1.0
    assert str(training.lr_scheduler_type.value) == "cosine"
    script, training, model = parser.parse_args_and_config(
        args=[
            "--config",
            str(CONFIG_DIR / "stage2_lora.yaml"),
            "--output_dir",
            "x",
            "--use_cpu",
            "true",
        ]
    )
    assert model.use_peft and script.global_batch_size == 96 and training.warmup_steps == 1500
    script, _, _ = parser.parse_args_and_config(
        args=[
            "--config",
            str(CONFIG_DIR / "stage2_top8.yaml"),
            "--output_dir",
            "x",
            "--use_cpu",
            "true",
        ]
    )
    assert script.train_llm_layers == 8 and not script.train_embeddings


def test_gradient_accumulation_from_global_batch():
    assert gradient_accumulation(96, 8, 1) == 12
    assert gradient_accumulation(288, 16, 2) == 9
    with pytest.raises(
        ValueError,
        match="global_batch_size=96 is not a positive multiple of world_size",
    ):
        gradient_accumulation(96, 5, 1)


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--global_batch_size", "3", "--per_device_train_batch_size", "2"],
            "global_batch_size=3",
        ),
        (
            ["--video_root", "/no/such/root"],
            "video_root '/no/such/root' is not an existing folder",
        ),
        (
            ["--use_peft", "true", "--freeze_vision_tower", "false"],
            "LoRA .* restricted to the language model",
        ),
        (
            ["--use_peft", "true", "--lora_target_modules", "fc1"],
            "restricted to the language model",
        ),
        (["--overlong", "banana"], "overlong must be 'truncate' or 'skip', got 'banana'"),
        (["--train_llm_layers", "99"], r"train_llm_layers must be in \[1, 2\] \(the LLM's layers\), got 99"),
        (["--converter", None], "no 'messages' column and no converter"),
    ],
)
def test_bad_input_fails_before_any_step(workspace, capsys, extra, message):
    """Each is reported by cli() as one stderr line ``<prog>: error: ...`` with exit status 2, before any step."""
    root, _, data = workspace
    dataset = data / "stage2.jsonl"
    if extra == [
        "--converter",
        None,
    ]:  # caption rows without messages and without a converter
        dataset = write_jsonl(
            data / "captions.jsonl",
            [{"id": "c", "video": "videos/v0.mp4", "caption": "x"}],
        )
        extra = []
    args = _base(workspace, "--dataset_name", str(dataset), *extra)
    if "--video_root" not in extra:
        args += ["--video_root", str(data)]
    with pytest.raises(SystemExit) as exit_info:
        cli(args)
    assert exit_info.value.code == EXIT_CONFIG_ERROR == 2
    assert_one_error_line(capsys.readouterr().err, message)
    assert not list((root / "out").glob("checkpoint-*"))


def assert_one_error_line(stderr: str, message: str) -> str:
    """``stderr`` ends with the one ``prog: error: ...`` line matching ``message`` and holds no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if re.match(r"^\S+: error: ", line)]
    assert len(errors) == 1 and stderr.strip().splitlines()[-1] == errors[0], stderr
    assert re.search(message, errors[0]), errors[0]
    return errors[0]


def test_config_resolution():
    """A local file, a shipped config by name (both flag forms), and a clear error for neither."""
    assert _shipped_config(["--config=stage2.yaml", "--x", "1"]) == [
        "--config",
        str(CONFIG_DIR / "stage2.yaml"),
        "--x",
        "1",
    ]
    assert _shipped_config(["--config", "stage1.yaml"]) == ["--config", str(CONFIG_DIR / "stage1.yaml")]
    local = str(CONFIG_DIR / "stage2_top8.yaml")
    assert _shipped_config(["--config", local]) == ["--config", local]
    with pytest.raises(ValueError, match=r"config file 'nope.yaml' not found \(shipped configs: stage1.yaml, "):
        _shipped_config(["--config", "nope.yaml"])
    with pytest.raises(ValueError, match="--config needs a YAML file"):
        _shipped_config(["--config"])


def test_command_line_syntax_error_prints_a_short_usage(capsys):
    """argparse's own errors (a value of the wrong type): exit 2, the error line under a one-line usage."""
    with pytest.raises(SystemExit) as exit_info:
        cli(["--config", "stage2.yaml", "--stage", "one", "--use_cpu", "true"])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].endswith("error: argument --stage: invalid int value: 'one'")
    assert len(lines) == 2 and lines[0].startswith("usage: ") and "--help lists the options" in lines[0]


def test_unknown_config_key_is_an_error(workspace, tmp_path, capsys):
    config = yaml.safe_load((CONFIG_DIR / "stage2.yaml").read_text())
    config["frames_per_video"] = 8
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exit_info:
        cli(
            [
                "--config",
                str(tmp_path / "bad.yaml"),
                "--output_dir",
                str(tmp_path / "o"),
                "--use_cpu",
                "true",
            ]
        )
    assert exit_info.value.code == 2
    assert_one_error_line(capsys.readouterr().err, "Unknown arguments from config file: .*frames_per_video")


def _run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m trl_recipes.sft_tarsier ARGS`` on a machine without a visible GPU."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    command = [sys.executable, "-m", "trl_recipes.sft_tarsier", *args]
    return subprocess.run(command, check=False, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def _unloadable_model(folder: Path) -> Path:
    """A folder that passes the model-location check (it has a config.json) but that no from_pretrained can load:
    reaching the model loading would end in a traceback, not in a configuration error."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    return folder


@pytest.mark.parametrize(
    "case",
    ["missing_config", "no_data", "model_not_found", "mixture_video_root", "bf16_without_gpu"],
)
def test_configuration_errors_exit_2_with_one_line(tmp_path, case):
    """The new-user trial's cases as real command lines: one stderr line naming the problem, exit status 2, no
    traceback, nothing written. Where the model path does not exist or cannot be loaded, the expected message
    proves that the error came before any model loading."""
    missing_model = str(tmp_path / "no" / "such" / "model")
    mixture = tmp_path / "mixture.yaml"
    mixture.write_text(yaml.safe_dump({"datasets": [{"path": "rows.jsonl", "video_root": "no_such_videos"}]}))
    out = ["--output_dir", str(tmp_path / "out")]
    cpu = ["--bf16", "false", "--use_cpu", "true"]
    args, message = {
        "missing_config": (["--config", "nope.yaml", *out], r"config file 'nope\.yaml' not found \(shipped configs:"),
        "no_data": (
            ["--config", "stage2.yaml", "--model_name_or_path", missing_model, *cpu, *out],
            r"give exactly one of --mixture .* or --dataset_name",
        ),
        "model_not_found": (
            ["--config", "stage2.yaml", "--model_name_or_path", missing_model, "--mixture", str(mixture), *cpu, *out],
            rf"--model_name_or_path {re.escape(missing_model)}: folder not found$",
        ),
        "mixture_video_root": (
            ["--config", "stage2.yaml", "--model_name_or_path", str(_unloadable_model(tmp_path / "m"))]
            + ["--mixture", str(mixture), *cpu, *out],
            r"dataset 'rows': video_root 'no_such_videos' is not an existing folder",
        ),
        # the shipped configs set bf16: true; on a machine without a GPU that is the first thing reported
        "bf16_without_gpu": (
            ["--config", "stage2.yaml", "--model_name_or_path", missing_model, *out],
            r"bf16 mixed precision is on .* but no GPU found; pass --bf16 false",
        ),
    }[case]
    result = _run_script(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    line = assert_one_error_line(result.stderr, message)
    assert line.startswith("sft_tarsier.py: error: ")
    assert not (tmp_path / "out").exists()


def test_training_record_holds_plain_values(tmp_path):
    """tarsier_training.json: enums as their values ("cosine", not "SchedulerType.COSINE"), the mixture as counted."""
    write_jsonl(
        tmp_path / "text.jsonl",
        [
            {"id": f"t{i}", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": c}]}
            for i, c in enumerate(CAPTIONS[:3])
        ],
    )
    script, training, model = make_parser().parse_args_and_config(
        args=["--config", str(CONFIG_DIR / "stage2.yaml"), "--dataset_name", str(tmp_path / "text.jsonl")]
        + ["--model_name_or_path", "some/model", "--output_dir", str(tmp_path), "--use_cpu", "true"]
        + ["--global_batch_size", "4", "--per_device_train_batch_size", "2"]
    )
    check_args(script, training, model)
    path = write_training_record(str(tmp_path), script, training, model, build_dataset(script), steps=7)
    record = json.loads(path.read_text())
    assert record["lr_scheduler_type"] == "cosine" and "SchedulerType" not in path.read_text()
    assert record["stage"] == 2 and record["steps"] == 7 and record["global_batch_size"] == 4
    assert record["base_model"] == "some/model" and record["learning_rate"] == 2e-5 and record["warmup_steps"] == 1500
    assert record["datasets"] == [
        {
            "name": "text",
            "path": str(tmp_path / "text.jsonl"),
            "weight": 1.0,
            "converter": None,
            "samples_per_epoch": 3,
            "frames": {"sampler": "stage2", "num_frames": [8], "min_frames": 8, "max_frames": 32},
        }
    ]
    assert record["recipe"]["overlong"] == "truncate" and record["recipe"]["global_batch_size"] == 4


@pytest.mark.slow
def test_stage1_three_dataset_mixture_runs(workspace):
    """Video captions with a prompt pool, image captions and text-only chat, mixed in each batch."""
    root, checkpoint, data = workspace
    write_jsonl(
        data / "video_captions.jsonl",
        [{"id": f"v{i}", "video": f"videos/v{i}.mp4", "caption": CAPTIONS[i]} for i in range(3)],
    )
    write_jsonl(
        data / "image_captions.jsonl",
        [{"id": f"i{i}", "images": [f"images/i{i}.png"], "caption": CAPTIONS[i + 3]} for i in range(3)],
    )
    write_jsonl(
        data / "text.jsonl",
        [
            {
                "id": f"t{i}",
                "messages": [
                    {"role": "user", "content": f"Repeat: {CAPTIONS[i]}"},
                    {"role": "assistant", "content": CAPTIONS[i]},
                ],
            }
            for i in range(3)
        ],
    )
    mixture = {
        "seed": 1,
        "samples_per_epoch": 6,
        "datasets": [
            {
                "name": "webvid_like",
                "path": "video_captions.jsonl",
                "video_root": ".",
                "weight": 2,
                "converter": "caption",
                "prompts": "short_caption",
                "frames": {"sampler": "stage1", "min_frames": 2, "max_frames": 4},
            },
            {
                "name": "coco_like",
                "path": "image_captions.jsonl",
                "video_root": ".",
                "converter": "caption",
                "prompts": "image_caption",
            },
            {"name": "text_only", "path": "text.jsonl"},
        ],
    }
    (data / "mixture.yaml").write_text(yaml.safe_dump(mixture))
    out = root / "stage1"
    command = [
        sys.executable,
        str(ROOT / "trl_recipes" / "sft_tarsier.py"),  # run as a file, like TRL's scripts
        "--config",
        "stage1.yaml",
        "--model_name_or_path",
        str(checkpoint),
        "--mixture",
        str(data / "mixture.yaml"),
        "--output_dir",
        str(out),
        "--max_steps",
        "2",
        "--warmup_steps",
        "0",
        "--global_batch_size",
        "3",
        "--per_device_train_batch_size",
        "3",
        "--use_cpu",
        "true",
        "--bf16",
        "false",
        "--dtype",
        "float32",
        "--report_to",
        "none",
        "--logging_steps",
        "1",
        "--max_length",
        "512",
        "--save_strategy",
        "no",
        "--log_sample_ids",
        "true",
        "--gradient_checkpointing",
        "false",
        "--dataloader_num_workers",
        "1",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    result = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    record = json.loads((out / "tarsier_training.json").read_text())
    assert record["stage"] == 1 and record["steps"] == 2 and record["lr_scheduler_type"] == "cosine"
    assert {d["name"]: d["samples_per_epoch"] for d in record["datasets"]} == {
        "webvid_like": 3,
        "coco_like": 2,
        "text_only": 1,
    }
    seen = [i for line in (out / "sample_ids_rank0.jsonl").read_text().splitlines() for i in json.loads(line)["ids"]]
    assert {i.split("/")[0] for i in seen} == {"webvid_like", "coco_like", "text_only"}
    logs = [json.loads(line.replace("'", '"')) for line in result.stdout.splitlines() if line.startswith("{'loss'")]
    assert len(logs) == 2 and all(float(entry["samples_skipped"]) == 0 for entry in logs)
    assert all(float(entry["frames_per_second"]) > 0 and float(entry["tokens_per_second"]) > 0 for entry in logs)
