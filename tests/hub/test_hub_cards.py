"""Model cards: built from real lmms-eval results files of the ``dream1k`` end-to-end runs (tests/data/hub), parsed
back, ``model-index`` round trips, the Hub's YAML checks (huggingface_hub's own parsing, and the local Hub's
``/api/validate-yaml``), merging into foreign cards, training records, ``.eval_results`` files, the converter."""

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from _hub_harness import DATA
from huggingface_hub import EvalResult, ModelCard, RepoCard, constants, parse_eval_result_entries
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

from hub_cards.cli import main as hub_main
from hub_cards.eval_index import eval_results_yaml, to_eval_result_entries, to_eval_results
from hub_cards.model_card import build_model_card, check_model_card, update_model_card, write_training_card
from hub_cards.results import ResultsError, read_results

DUMMY_RESULTS = DATA / "dream1k_dummy_results.json"  # F1 1/9, precision 1/8, recall 1/10
TARSIER_RESULTS = DATA / "dream1k_tarsier_results.json"  # F1 0, precision 1/8, recall 0
# The dummy run's AutoDQ report, in its run folder next to the results file (where the results file points).
AUTODQ_REPORT = next(DATA.glob("dream1k_autodq_*/autodq_results.json"))
# The same run's numbers from the dream1k task before it kept only scalars: the report inline under autodq,none.
INLINE_REPORT_RESULTS = DATA / "dream1k_dummy_results_inline_report.json"
EXAMPLE_CARD = DATA / "example_model_card.md"


def metrics_of(card) -> dict:
    return {(r.dataset_type, r.metric_type): r.metric_value for r in card.data.eval_results}


def test_card_from_real_dream1k_results_holds_f1_precision_recall(tiny_checkpoint):
    tasks = read_results(DUMMY_RESULTS)
    card = build_model_card(
        tiny_checkpoint, tasks=tasks, repo_id="me/tiny-tarsier", base_model="omni-research/Tarsier-7b"
    )
    parsed = ModelCard(str(card))  # parses back, strictly
    assert metrics_of(parsed) == {
        ("omni-research/DREAM-1K", "f1"): 0.1111,
        ("omni-research/DREAM-1K", "precision"): 0.125,
        ("omni-research/DREAM-1K", "recall"): 0.1,
    }
    result = parsed.data.eval_results[0]
    assert (result.task_type, result.dataset_name, result.dataset_split, result.metric_name) == (
        "video-text-to-text",
        "DREAM-1K",
        "test",
        "AutoDQ F1",
    )
    data = parsed.data.to_dict()
    assert data["library_name"] == "transformers" and data["pipeline_tag"] == "video-text-to-text"
    assert data["license"] == "apache-2.0" and data["base_model"] == "omni-research/Tarsier-7b"
    assert {"tarsier", "video-description"} <= set(data["tags"])
    assert data["model-index"][0]["name"] == "tiny-tarsier"
    text = parsed.text
    # What the model is: the tiny config's 28 px input / 14 px patches → 2 x (2 + 1) + 1 = 7 positions per frame.
    assert "Tokens per frame: 7 LLM positions (2 rows of 2 patches" in text
    assert 'from_pretrained("me/tiny-tarsier"' in text and "tarsier describe video.mp4 --model me/tiny-tarsier" in text
    assert "--tasks dream1k" in text and "@misc{wang2024tarsier" in text and "## Limitations" in text
    # The protocol of the run, from the file: prompt, judge, counts, CI, limit.
    assert "| DREAM-1K | test | AutoDQ F1 | 0.1111 |" in text
    assert "- Prompt: `Describe the video in detail.`" in text and "- Judge model: gpt-3.5-turbo-0125" in text
    assert "- Scored: 4, failed: 0" in text and "- F1 95% CI (bootstrap over clips): [0.0000, 0.3333]" in text
    assert "first 4 examples only" in text and "- Results file: `dream1k_dummy_results.json`" in text
    # The tarsier run's protocol names its frames.
    tarsier = build_model_card(tiny_checkpoint, tasks=read_results(TARSIER_RESULTS))
    assert "- Frames: 2\n" in tarsier.text and metrics_of(tarsier)[("omni-research/DREAM-1K", "precision")] == 0.125


def test_model_index_round_trips_to_the_same_eval_results(tiny_checkpoint):
    card = build_model_card(
        tiny_checkpoint,
        tasks=read_results(DUMMY_RESULTS) + read_results(TARSIER_RESULTS),
        source_url="https://huggingface.co/me/tiny/blob/main/evaluation/r.json",
    )
    model_index = ModelCard(str(card)).data.to_dict()["model-index"]
    name, results = model_index_to_eval_results(model_index)
    assert name == card.data.model_name
    assert results == card.data.eval_results and all(isinstance(r, EvalResult) for r in results)
    assert eval_results_to_model_index(name, results) == model_index
    assert model_index[0]["results"][0]["source"] == {
        "url": "https://huggingface.co/me/tiny/blob/main/evaluation/r.json",
        "name": "tarsier-hf evaluation",
    }
    check_model_card(card)


def test_card_metadata_passes_the_hub_yaml_validation(tiny_checkpoint, hub_server, monkeypatch):
    monkeypatch.setattr(constants, "ENDPOINT", hub_server.endpoint)
    card = build_model_card(tiny_checkpoint, tasks=read_results(DUMMY_RESULTS))
    card.validate(repo_type="model")  # POST /api/validate-yaml: ModelCardData parses it strictly, types are right
    broken = RepoCard(str(card).replace("  results:\n", "  resultz:\n", 1))  # RepoCard keeps the YAML as written
    with pytest.raises(ValueError, match="metadata does not parse.*results"):
        broken.validate(repo_type="model")
    with pytest.raises(ValueError, match='"tags" must be'):
        RepoCard("---\ntags: {a: 1}\n---\n# x\n").validate(repo_type="model")


FOREIGN_CARD = """---
license: mit
my_custom_key: keep me
model-index:
- name: someone-model
  results:
  - task: {type: video-text-to-text}
    dataset: {name: Other Bench, type: someone/other-bench, split: validation}
    metrics:
    - {type: accuracy, value: 0.42, name: Accuracy}
---

# Someone's model

Hand-written prose that must survive. It explains the training data.
"""


def test_merging_keeps_foreign_entries_metadata_and_prose():
    foreign = ModelCard(FOREIGN_CARD)
    merged = update_model_card(foreign, read_results(DUMMY_RESULTS))
    assert ModelCard(FOREIGN_CARD).content == foreign.content  # the input card is not modified
    assert metrics_of(merged) == {
        ("someone/other-bench", "accuracy"): 0.42,
        ("omni-research/DREAM-1K", "f1"): 0.1111,
        ("omni-research/DREAM-1K", "precision"): 0.125,
        ("omni-research/DREAM-1K", "recall"): 0.1,
    }
    assert merged.data.eval_results[0] == foreign.data.eval_results[0]
    assert merged.data.model_name == "someone-model" and merged.data["my_custom_key"] == "keep me"
    assert merged.data.license == "mit" and merged.data.pipeline_tag == "video-text-to-text"
    assert "Hand-written prose that must survive. It explains the training data." in merged.text
    assert "| Other Bench | validation | Accuracy | 0.4200 |" in merged.text
    # Merging new numbers for the same metrics replaces them (no duplicates) and the task's protocol block.
    again = update_model_card(merged, read_results(TARSIER_RESULTS))
    assert metrics_of(again)[("omni-research/DREAM-1K", "f1")] == 0.0
    assert len(again.data.eval_results) == 4 and metrics_of(again)[("someone/other-bench", "accuracy")] == 0.42
    assert again.text.count("<!-- tarsier-hub:protocol:dream1k -->") == 1 and "- Frames: 2" in again.text
    assert again.text.count("## Evaluation") == 1 and "Hand-written prose" in again.text
    check_model_card(again)


def test_autodq_report_and_lmms_results_give_the_same_numbers():
    (from_report,), (from_lmms,) = read_results(AUTODQ_REPORT), read_results(DUMMY_RESULTS)
    assert from_report.metrics == from_lmms.metrics
    assert (from_report.dataset_id, from_report.split) == ("omni-research/DREAM-1K", "test")
    assert from_report.protocol["n_scored"] == from_lmms.protocol["n_scored"] == 4
    assert to_eval_results([from_report]) == to_eval_results([from_lmms])


def test_results_read_without_their_report_and_in_the_older_inline_form(tmp_path):
    (linked,) = read_results(DUMMY_RESULTS)  # the report is found next to the results file
    assert linked.protocol["judge_model"] == "gpt-3.5-turbo-0125" and linked.protocol["n_scored"] == 4
    data = json.loads(DUMMY_RESULTS.read_text())
    data["results"]["dream1k"]["autodq,none"] = str(tmp_path / "gone" / "autodq_results.json")
    moved = tmp_path / "results.json"
    moved.write_text(json.dumps(data))
    (alone,) = read_results(moved)  # no report: the scalars of the results file are all there is
    assert alone.metrics == linked.metrics
    assert alone.protocol["f1_ci95"] == linked.protocol["f1_ci95"] == pytest.approx([0.0, 1 / 3])
    assert (alone.protocol["n_scored"], alone.protocol["n_failed"]) == (4, 0) and "judge_model" not in alone.protocol
    assert alone.protocol["generation_prompt"] == "Describe the video in detail."  # from the task config
    (tarsier,) = read_results(TARSIER_RESULTS)  # its report folder is not kept: frames come from the model args
    assert tarsier.protocol["frames"] == 2 and tarsier.metrics["autodq_precision"] == 0.125
    (inline,) = read_results(INLINE_REPORT_RESULTS)
    assert inline.metrics == linked.metrics and inline.protocol["judge_model"] == "gpt-3.5-turbo-0125"
    assert inline.protocol["f1_ci95"] == pytest.approx([0.0, 1 / 3])


def zero_shot_results(tmp_path) -> Path:
    """The real results file with its task swapped for zero-shot tasks as issue 9 names them (generic metrics)."""
    data = json.loads(DUMMY_RESULTS.read_text())
    base = data["configs"]["dream1k"]
    data["results"] = {
        "tarsier_msvd_qa": {
            "alias": "tarsier_msvd_qa",
            "accuracy,none": 0.77,
            "accuracy_stderr,none": 0.01,
            "score,none": 4.1,
            "n_failed,none": 2,
            "judge,none": {"not": "a number"},
        },
        "tarsier_msvd_caption": {"cider,none": 98.0, "cider_stderr,none": "N/A"},
        "tarsier_mvbench_action": {"accuracy,none": 0.5},
        "tarsier_mvbench": {"accuracy,none": 0.6},
    }
    data["group_subtasks"] = {"tarsier_mvbench": ["tarsier_mvbench_action"]}
    data["configs"] = {
        "tarsier_msvd_qa": {
            **base,
            "task": "tarsier_msvd_qa",
            "dataset_path": "someone/msvd-qa",
            "dataset_name": "qa",
            "dataset_kwargs": {"revision": "abc123"},
            "test_split": "test",
        },
        "tarsier_msvd_caption": {**base, "task": "tarsier_msvd_caption", "dataset_path": "json", "test_split": "test"},
    }
    path = tmp_path / "zero_shot_results.json"
    path.write_text(json.dumps(data))
    return path


def test_zero_shot_metrics_are_handled_by_name(tmp_path):
    tasks = {task.task: task for task in read_results(zero_shot_results(tmp_path))}
    assert set(tasks) == {
        "tarsier_msvd_qa",
        "tarsier_msvd_caption",
        "tarsier_mvbench",
    }  # the group stands for its sub-task
    qa = tasks["tarsier_msvd_qa"]
    assert qa.metrics == {"accuracy": 0.77, "score": 4.1} and qa.protocol["n_failed"] == 2
    assert (qa.dataset_id, qa.dataset_config, qa.split, qa.revision) == ("someone/msvd-qa", "qa", "test", "abc123")
    results = to_eval_results(list(tasks.values()))
    by_metric = {(r.dataset_type, r.metric_type): r for r in results}
    assert by_metric[("someone/msvd-qa", "accuracy")].task_name == "Video question answering"
    assert by_metric[("someone/msvd-qa", "score")].metric_value == 4.1
    # Local annotation files: the benchmark's name and the split of its released file, a non-Hub identifier.
    caption = by_metric[("local:MSVD-Caption-test", "cider")]
    assert (caption.metric_value, caption.metric_name, caption.task_name) == (98.0, "CIDEr", "Video captioning")
    assert (caption.dataset_name, caption.dataset_split) == ("MSVD (captioning)", "test")
    mvbench = by_metric[("local:MVBench", "accuracy")]
    assert (mvbench.metric_value, mvbench.dataset_name, mvbench.dataset_split) == (0.6, "MVBench", None)


def test_eval_results_files_round_trip_with_the_primary_metric(tmp_path):
    tasks = read_results(DUMMY_RESULTS) + read_results(zero_shot_results(tmp_path))
    files = to_eval_result_entries(tasks, source_url="https://example.org/r.json")
    # Only datasets on the Hub get a file; tarsier_msvd_caption and tarsier_mvbench read local annotation files.
    assert set(files) == {"dream1k.yaml", "tarsier_msvd_qa.yaml"}
    (entry,) = parse_eval_result_entries(yaml.safe_load(eval_results_yaml(files["dream1k.yaml"])))
    assert (entry.dataset_id, entry.task_id, entry.value) == ("omni-research/DREAM-1K", "dream1k", 0.1111)
    assert (
        entry.source_url == "https://example.org/r.json" and "AutoDQ F1" in entry.notes and "n_scored: 4" in entry.notes
    )
    (qa,) = parse_eval_result_entries(yaml.safe_load(eval_results_yaml(files["tarsier_msvd_qa.yaml"])))
    assert (qa.value, qa.dataset_revision) == (0.77, "abc123")


def test_bad_results_files_are_named(tmp_path):
    with pytest.raises(ResultsError, match="not found"):
        read_results(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(ResultsError, match="x.json: neither an lmms-eval results file"):
        read_results(tmp_path / "x.json")
    data = json.loads(DUMMY_RESULTS.read_text())
    data["results"]["dream1k"] = {"autodq_n_scored,none": 4}
    (tmp_path / "counts.json").write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="no headline metric"):
        read_results(tmp_path / "counts.json")


TRAINING_RECORD = {
    "recipe": "trl_recipes/sft_tarsier.py",
    "stage": 2,
    "base_model": "omni-research/Tarsier-7b",
    "mixture_names": ["dream_sft", "activitynet_captions"],
    "datasets": ["someone/video-sft"],
    "global_step": 1200,
    "global_batch": 64,
    "frames": [8, 16],
    "config": {"learning_rate": 2e-5, "num_train_epochs": 1},
}


def test_training_run_card_replaces_trls_and_reads_the_training_record(tiny_checkpoint, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_checkpoint, run)
    (run / "tarsier_training.json").write_text(json.dumps(TRAINING_RECORD))
    (run / "README.md").write_text(
        "---\nlibrary_name: transformers\nlicence: license\npipeline_tag: text-generation\n---\n# generic TRL card\n"
    )
    card = ModelCard.load(write_training_card(run, [DUMMY_RESULTS]))
    data = card.data.to_dict()
    assert "licence" not in data and "generic TRL card" not in card.text  # TRL's card is replaced
    assert data["pipeline_tag"] == "video-text-to-text"
    assert data["base_model"] == "omni-research/Tarsier-7b" and data["base_model_relation"] == "finetune"
    assert data["datasets"] == ["someone/video-sft"] and {"trl", "sft"} <= set(data["tags"])
    text = card.text
    for line in (
        "- Recipe: `trl_recipes/sft_tarsier.py`",
        "- Stage: 2",
        "- Data mixture: dream_sft, activitynet_captions",
        "- Optimizer steps: 1200",
        "- Global batch size: 64",
        "- Frames per video: 8-16 (sampled per video)",
        "learning_rate: 2.0e-05",
        "Fine-tuned from [`omni-research/Tarsier-7b`]",
    ):
        assert line in text
    assert metrics_of(card)[("omni-research/DREAM-1K", "f1")] == 0.1111


def test_model_card_command_writes_card_and_eval_results_files(tiny_checkpoint, tmp_path, capsys):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    assert hub_main(["model-card", str(folder), "--results", str(DUMMY_RESULTS), "--repo-id", "me/tiny"]) == 0
    card = ModelCard.load(folder / "README.md")
    assert metrics_of(card)[("omni-research/DREAM-1K", "recall")] == 0.1
    (entry,) = parse_eval_result_entries(yaml.safe_load((folder / ".eval_results" / "dream1k.yaml").read_text()))
    assert entry.value == 0.1111
    # Again with other results: merged into the card just written, which keeps the first results' prose.
    (folder / "README.md").write_text((folder / "README.md").read_text() + "\nNotes by the author.\n")
    assert hub_main(["model-card", str(folder), "--results", str(TARSIER_RESULTS)]) == 0
    card = ModelCard.load(folder / "README.md")
    assert metrics_of(card)[("omni-research/DREAM-1K", "f1")] == 0.0 and "Notes by the author." in card.text
    capsys.readouterr()
    assert hub_main(["model-card", str(tmp_path), "--results", str(DUMMY_RESULTS)]) == 1
    assert "no config.json" in capsys.readouterr().err
    assert hub_main(["model-card", str(folder), "--results", str(tmp_path / "nope.json")]) == 1
    assert "results file not found" in capsys.readouterr().err


def test_converter_writes_a_model_card(tmp_path):
    from tarsier_hf.convert import convert
    from tarsier_hf.testing import save_tiny_checkpoint

    source = save_tiny_checkpoint(tmp_path / "official", layout="legacy")
    (source / "README.md").write_text("---\nlicense: apache-2.0\n---\n# the official layout's card\n")
    card = ModelCard.load(convert(str(source), str(tmp_path / "native")) / "README.md")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "video-text-to-text"
    assert card.data.base_model is None  # a local source is no Hub id
    assert "official layout's card" not in card.text and "trust_remote_code=True" in card.text


def example_card(tiny_checkpoint) -> str:
    card = build_model_card(
        tiny_checkpoint,
        tasks=read_results(DUMMY_RESULTS),
        repo_id="your-name/Tarsier-7b-mine",
        base_model="omni-research/Tarsier-7b",
        base_model_relation="finetune",
    )
    return str(card)


def test_readme_example_card_is_what_the_code_renders(tiny_checkpoint):
    """The example in README's "Sharing on the Hub" is this file; regenerate with TARSIER_UPDATE_EXAMPLES=1."""
    rendered = example_card(tiny_checkpoint)
    if os.environ.get("TARSIER_UPDATE_EXAMPLES") == "1":
        EXAMPLE_CARD.write_text(rendered)
    assert EXAMPLE_CARD.read_text() == rendered
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    header = rendered.split("\n---\n", 1)[0] + "\n---"
    assert header in readme, "README's example card header differs from the rendered one"


# What trl_recipes.sft_tarsier.write_training_record writes (its keys and value shapes).
RECIPE_RECORD = {
    "stage": 2,
    "base_model": "omni-research/Tarsier-7b",
    "datasets": [
        {
            "name": "dream_sft",
            "path": "someone/video-sft",
            "weight": 2.0,
            "converter": None,
            "samples_per_epoch": 100,
            "frames": {"sampler": "stage2", "num_frames": [8, 16], "min_frames": 8, "max_frames": 32},
        },
        {
            "name": "local_clips",
            "path": "/data/clips.jsonl",
            "weight": 1.0,
            "converter": "caption",
            "samples_per_epoch": 50,
            "frames": {"sampler": "stage1", "num_frames": [8], "min_frames": 8, "max_frames": 32},
        },
    ],
    "mixture": "trl_recipes/configs/stage2.yaml",
    "global_batch_size": 64,
    "steps": 1200,
    "learning_rate": 2e-05,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 10,
    "max_length": 8192,
    "freeze_vision_tower": True,
    "freeze_projector": False,
    "train_llm_layers": None,
    "train_embeddings": False,
    "lora": False,
    "recipe": {"stage": 2, "mixture": "trl_recipes/configs/stage2.yaml", "freeze_vision_tower": True},
}


def test_training_card_from_the_record_the_sft_recipe_writes(tiny_checkpoint, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_checkpoint, run)
    (run / "tarsier_training.json").write_text(json.dumps(RECIPE_RECORD))
    card = ModelCard.load(write_training_card(run))
    check_model_card(card)
    assert card.data.datasets == ["someone/video-sft"]  # the Hub id; the local file stays out of the metadata
    assert card.data.base_model == "omni-research/Tarsier-7b" and card.data.base_model_relation == "finetune"
    for line in (
        "- Stage: 2",
        "- Data mixture: `trl_recipes/configs/stage2.yaml`",
        "  - dream_sft: `someone/video-sft`, weight 2.0, 100 samples per epoch, stage2 sampler, 8/16 frames",
        "  - local_clips: `/data/clips.jsonl`, weight 1.0, 50 samples per epoch, stage-1 sampler, 8-32 frames",
        "- Optimizer steps: 1200",
        "- Global batch size: 64",
        "- Learning-rate schedule: cosine",
        "- trained: projector; frozen: vision tower",
        "freeze_vision_tower: true",
    ):
        assert line in card.text


SECRET_ARGS = (
    "api_key",
    "hf_token",
    "token",
    "access_token",
    "password",
    "secret",
    "openai_api_key",
    "apiKey",
    "client_secret",
    "auth_token",
    "passwd",
    "credentials",
    "HF_TOKEN",
    "judge-api-key",
)
SETTING_ARGS = (
    "max_new_tokens",
    "max_tokens",
    "min_new_tokens",
    "num_tokens",
    "tokenizer",
    "tokenizer_name",
    "keyframes",
    "key_frames",
    "pad_token",
    "image_token",
    "pretrained",
    "dtype",
    "monkey",
)


def test_model_args_mask_secrets_and_keep_protocol_settings():
    from hub_cards.results import is_secret_arg, redact_model_args

    assert [name for name in SECRET_ARGS if not is_secret_arg(name)] == []
    assert [name for name in SETTING_ARGS if is_secret_arg(name)] == []
    args = ",".join(f"{name}=v{index}" for index, name in enumerate(SECRET_ARGS + SETTING_ARGS))
    redacted = redact_model_args(args).split(",")
    assert redacted == [f"{name}=***" for name in SECRET_ARGS] + [
        f"{name}=v{index}" for index, name in enumerate(SETTING_ARGS, start=len(SECRET_ARGS))
    ]
    # A credential is masked whatever its argument is called; a flag without a value stays.
    assert redact_model_args("base_url=http://x,extra=hf_abcdefghijklmnop1234,flag,model=sk-") == (
        "base_url=http://x,extra=***,flag,model=sk-"
    )


def test_card_of_a_run_shows_max_new_tokens_and_masks_the_token(tiny_checkpoint, tmp_path, capsys):
    data = json.loads(DUMMY_RESULTS.read_text())
    data["config"]["model_args"] = "pretrained=/m,dtype=bfloat16,max_new_tokens=16,hf_token=hf_secretvalue123"
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps(data))
    (task,) = read_results(path)
    assert task.protocol["model_args"] == "pretrained=/m,dtype=bfloat16,max_new_tokens=16,hf_token=***"
    assert hub_main(["model-card", str(tiny_checkpoint), "--results", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "- Model arguments: `pretrained=/m,dtype=bfloat16,max_new_tokens=16,hf_token=***`" in out
    assert "hf_secretvalue123" not in out
