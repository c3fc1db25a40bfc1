"""Zero-shot results (``tarsier_*`` and ``tarsier_*_hub`` tasks) in cards: the benchmark's readable name, the real
split, the Hub dataset id only where there is one. Built from real lmms-eval results files of NExT-QA runs
(tests/data/hub/regenerate_zeroshot.py): the local task on the NExT-QA *val* excerpt, the hub task on
``lmms-eval/NExTQA`` (config ``MC``, split ``test``) of a local Hub; each in the current form (``results,none`` is
the path of ``nextqa_mc_results.json`` in the run folder next to it) and the older one (the report inline)."""

import json
import shutil
from pathlib import Path

import pytest
import yaml
from _hub_harness import DATA
from huggingface_hub import ModelCard, parse_eval_result_entries

from hub_cards.cli import main as hub_main
from hub_cards.eval_index import to_eval_result_entries, to_eval_results
from hub_cards.model_card import build_model_card, check_model_card
from hub_cards.results import read_results
from hub_cards.zeroshot import READABLE_NAMES, parse_hub_source, split_of

LOCAL = DATA / "zeroshot_nextqa_local_results.json"  # tarsier_nextqa_mc on Next-QA-val-multi_choice.jsonl
HUB = DATA / "zeroshot_nextqa_hub_results.json"  # tarsier_nextqa_mc_hub on lmms-eval/NExTQA (MC) split test
LOCAL_INLINE = DATA / "zeroshot_nextqa_local_results_inline_report.json"
HUB_INLINE = DATA / "zeroshot_nextqa_hub_results_inline_report.json"
NEXTQA = "NExT-QA (multi-choice)"


def identity(task) -> tuple:
    return task.dataset_id, task.dataset_name, task.dataset_config, task.split, task.revision


def test_local_task_names_the_benchmark_its_val_split_and_no_hub_dataset():
    (task,) = read_results(LOCAL)
    assert task.task == "tarsier_nextqa_mc"
    assert identity(task) == ("local:Next-QA-val-multi_choice", NEXTQA, None, "val", None) and not task.on_hub
    assert task.metrics == {"accuracy_all": 0.0}  # the tiny model's answers do not parse: accuracy is null
    assert task.data == "annotation file `Next-QA-val-multi_choice.jsonl` (released Tarsier format)"
    (result,) = to_eval_results([task])
    assert (result.dataset_type, result.dataset_name, result.dataset_split) == (
        "local:Next-QA-val-multi_choice",
        NEXTQA,
        "val",
    )
    assert to_eval_result_entries([task]) == {}  # .eval_results names Hub benchmark datasets only


def test_hub_task_names_its_hub_dataset_config_and_split():
    (task,) = read_results(HUB)
    assert task.task == "tarsier_nextqa_mc_hub" and task.on_hub
    assert identity(task) == ("lmms-eval/NExTQA", NEXTQA, "MC", "test", None)
    (result,) = to_eval_results([task])
    assert (result.dataset_type, result.dataset_name, result.dataset_config, result.dataset_split) == (
        "lmms-eval/NExTQA",
        NEXTQA,
        "MC",
        "test",
    )
    files = to_eval_result_entries([task])
    (entry,) = files["tarsier_nextqa_mc_hub.yaml"]
    assert (entry.dataset_id, entry.task_id, entry.value) == ("lmms-eval/NExTQA", "tarsier_nextqa_mc_hub", 0.0)


def test_card_and_eval_results_files_of_both_runs(tiny_checkpoint, tmp_path, capsys):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    assert hub_main(["model-card", str(folder), "--results", str(LOCAL), str(HUB), "--repo-id", "me/tiny"]) == 0
    out = capsys.readouterr().out
    assert "no .eval_results file for tarsier_nextqa_mc: its dataset (local:Next-QA-val-multi_choice) is not" in out
    assert sorted(path.name for path in (folder / ".eval_results").iterdir()) == ["tarsier_nextqa_mc_hub.yaml"]
    (entry,) = parse_eval_result_entries(
        yaml.safe_load((folder / ".eval_results" / "tarsier_nextqa_mc_hub.yaml").read_text())
    )
    assert entry.dataset_id == "lmms-eval/NExTQA"
    card = ModelCard.load(folder / "README.md")
    check_model_card(card)
    datasets = [entry["dataset"] for entry in card.data.to_dict()["model-index"][0]["results"]]
    assert datasets == [
        {"name": NEXTQA, "type": "local:Next-QA-val-multi_choice", "split": "val"},
        {"name": NEXTQA, "type": "lmms-eval/NExTQA", "config": "MC", "split": "test"},
    ]
    text = card.text
    assert f"| {NEXTQA} | val | Accuracy all | 0.0000 |" in text and f"| {NEXTQA} (MC) | test | Accuracy all |" in text
    assert "tarsier_nextqa_mc |" not in text and "split `test`" not in text.split("tarsier_nextqa_mc_hub")[0]
    assert (
        "- Dataset: `local:Next-QA-val-multi_choice`, split `val` (not a Hugging Face Hub dataset: the identifier "
        "in `model-index` names it, no `.eval_results` entry is made)" in text
    )
    assert "- Data: annotation file `Next-QA-val-multi_choice.jsonl` (released Tarsier format)" in text
    assert "- Dataset: `lmms-eval/NExTQA` config `MC`, split `test`\n- Data: Hub dataset `lmms-eval/NExTQA`" in text
    # The real run's model arguments, with its generation length intact.
    assert "- Model arguments: `pretrained=/run/ckpt,max_new_tokens=16,dtype=bfloat16`" in text


def linked_report(results: Path) -> Path:
    """The run folder's ``nextqa_mc_results.json`` that ``results,none`` of ``results`` points to."""
    data = json.loads(results.read_text())
    (values,) = data["results"].values()
    path = Path(values["results,none"])
    return results.parent / path.parent.name / path.name


@pytest.mark.parametrize("current, inline", [(LOCAL, LOCAL_INLINE), (HUB, HUB_INLINE)], ids=["local", "hub"])
def test_report_as_a_path_inline_or_as_its_own_file_gives_the_same_dataset(current, inline, tmp_path):
    (linked,) = read_results(current)
    assert isinstance(json.loads(current.read_text())["results"][linked.task]["results,none"], str)
    (older,) = read_results(inline)
    assert isinstance(json.loads(inline.read_text())["results"][older.task]["results,none"], dict)
    assert (linked.task, identity(linked), linked.metrics) == (older.task, identity(older), older.metrics)
    assert linked.protocol["faithful_to"] == older.protocol["faithful_to"] and linked.data == older.data
    (report,) = read_results(linked_report(current))  # tarsier-eval's <benchmark>_results.json, read on its own
    assert (report.task, identity(report)) == (linked.task, identity(linked))
    assert to_eval_results([report]) == to_eval_results([linked])
    older_report = json.loads(linked_report(current).read_text())
    del older_report["task"], older_report["protocol"]["benchmark"]  # a report naming its benchmark only at the top
    (tmp_path / "older_results.json").write_text(json.dumps(older_report))
    (from_older,) = read_results(tmp_path / "older_results.json")
    assert (from_older.task, identity(from_older)) == (linked.task, identity(linked))


def test_without_its_report_a_task_is_known_by_its_name(tmp_path):
    """The report is gone (or was not saved): the task name still says which benchmark, so which released file."""
    for source, expected in (
        (LOCAL, ("local:Next-QA-val-multi_choice", NEXTQA, None, "val", None)),
        (HUB, ("lmms-eval/NExTQA", NEXTQA, "MC", "test", None)),  # the task config's Hub dataset
    ):
        for value in (str(tmp_path / "gone" / "nextqa_mc_results.json"), "not saved (run with --output_path ...)"):
            data = json.loads(source.read_text())
            (task,) = data["results"]
            data["results"][task]["results,none"] = value
            (tmp_path / source.name).write_text(json.dumps(data))
            (alone,) = read_results(tmp_path / source.name)
            assert identity(alone) == expected and alone.metrics == {"accuracy_all": 0.0}


def mvbench_results(tmp_path: Path, hub: bool) -> Path:
    """The real local run reshaped into an MVBench group run (20 sub-tasks → one group, as lmms-eval writes it)."""
    data = json.loads(LOCAL_INLINE.read_text())
    report = data["results"].pop("tarsier_nextqa_mc")["results,none"]
    config = data["configs"].pop("tarsier_nextqa_mc")
    suffix = "_hub" if hub else ""
    subtasks = {"action_count": "Action Count", "state_change": "State Change"}
    for key, name in subtasks.items():
        protocol = {
            **report["protocol"],
            "benchmark": f"mvbench_{key}",
            "released_dataset_field": f"MVBench/{name}",
            "annotation_file": "MVBench.jsonl",
            "annotations": [f"hub:OpenGVLab/MVBench ({key}, revision video) split train"]
            if hub
            else ["/data/MVBench.jsonl"],
        }
        task = f"tarsier_mvbench_{key}{suffix}"
        data["results"][task] = {"accuracy,none": 0.5, "results,none": {**report, "protocol": protocol}}
        data["configs"][task] = {**config, "task": task}
    data["results"][f"tarsier_mvbench{suffix}"] = {"accuracy,none": 0.5, "accuracy_stderr,none": "N/A"}
    data["group_subtasks"] = {f"tarsier_mvbench{suffix}": [f"tarsier_mvbench_{key}{suffix}" for key in subtasks]}
    path = tmp_path / f"mvbench{suffix}_results.json"
    path.write_text(json.dumps(data))
    return path


def test_mvbench_group_and_sub_tasks(tmp_path):
    (group,) = read_results(mvbench_results(tmp_path, hub=True))
    assert group.task == "tarsier_mvbench_hub"
    assert identity(group) == ("OpenGVLab/MVBench", "MVBench", None, "train", "video")  # sub-tasks: other configs
    (local_group,) = read_results(mvbench_results(tmp_path, hub=False))
    assert identity(local_group) == ("local:MVBench", "MVBench", None, None, None)
    data = json.loads(mvbench_results(tmp_path, hub=True).read_text())
    data["group_subtasks"] = {}
    (tmp_path / "subtasks.json").write_text(json.dumps(data))
    tasks = {task.task: task for task in read_results(tmp_path / "subtasks.json")}
    assert identity(tasks["tarsier_mvbench_action_count_hub"]) == (
        "OpenGVLab/MVBench",
        "MVBench (Action Count)",
        "action_count",
        "train",
        "video",
    )


def test_every_benchmark_has_a_readable_name_and_its_released_split():
    from lmms_tasks.zeroshot.benchmarks import BENCHMARKS

    assert set(READABLE_NAMES) == set(BENCHMARKS)
    splits = {key: split_of(benchmark.annotation_file) for key, benchmark in BENCHMARKS.items()}
    assert splits == {
        "nextqa_mc": "val",
        "egoschema": None,
        "egoschema_full": None,
        "mvbench": None,
        "msvd_qa": "val",
        "msrvtt_qa": "val",
        "activitynet_qa": "test",
        "tgif_qa": "test",
        "msvd_caption": "test",
        "msrvtt_caption": "test",
        "vatex_caption": "test",
    }


def test_hub_sources_parse_as_the_hub_tasks_write_them():
    assert parse_hub_source("hub:lmms-eval/NExTQA (MC) split test") == {
        "id": "lmms-eval/NExTQA",
        "config": "MC",
        "revision": None,
        "split": "test",
    }
    assert parse_hub_source("hub:OpenGVLab/MVBench (action_count, revision video) split train") == {
        "id": "OpenGVLab/MVBench",
        "config": "action_count",
        "revision": "video",
        "split": "train",
    }
    assert parse_hub_source("hub:lmms-eval/ActivityNetQA split test")["config"] is None
    assert parse_hub_source("/data/Next-QA-val-multi_choice.jsonl") is None
    assert parse_hub_source("hub:not a repo split test") is None


def test_card_builds_from_both_runs_and_keeps_dream1k(tiny_checkpoint):
    tasks = read_results(DATA / "dream1k_dummy_results.json") + read_results(LOCAL) + read_results(HUB)
    card = build_model_card(tiny_checkpoint, tasks=tasks)
    check_model_card(card)
    types = [result.dataset_type for result in card.data.eval_results]
    assert types.count("omni-research/DREAM-1K") == 3 and "local:Next-QA-val-multi_choice" in types
