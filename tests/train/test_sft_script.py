"""The sft_tarsier script: config parsing, bad input failing before any step, stage 1 on a 3-dataset mixture."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tarsier_hf.testing import save_tiny_checkpoint
from trl_recipes.sft_tarsier import CONFIG_DIR, cli, gradient_accumulation, make_parser

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
        (["--converter", None], "no 'messages' column and no converter"),
    ],
)
def test_bad_input_fails_before_any_step(workspace, extra, message):
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
    with pytest.raises(ValueError, match=message):
        cli(args)
    assert not list((root / "out").glob("checkpoint-*"))


def test_unknown_config_key_is_an_error(workspace, tmp_path):
    config = yaml.safe_load((CONFIG_DIR / "stage2.yaml").read_text())
    config["frames_per_video"] = 8
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match="frames_per_video"):
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
    assert record["stage"] == 1 and record["steps"] == 2
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
