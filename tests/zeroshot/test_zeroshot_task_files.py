"""The ``tarsier_*`` task YAML files: one per benchmark and MVBench sub-task, hooks that exist, the two groups."""

from pathlib import Path

import yaml

from lmms_tasks.tasks.tarsier_zeroshot import utils
from lmms_tasks.zeroshot.benchmarks import BENCHMARKS, MVBENCH_SUBTASKS, mvbench_subtask

TEMPLATES = {"mc_qa": "_mc_template_yaml", "oe_qa": "_oe_qa_template_yaml", "caption": "_caption_template_yaml"}
TASKS_DIR = Path(__file__).resolve().parents[2] / "lmms_tasks" / "tasks" / "tarsier_zeroshot"


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))


def load(name: str) -> dict:
    return yaml.load((TASKS_DIR / name).read_text(), Loader=_Loader)


def test_every_benchmark_and_sub_task_has_a_task_whose_hooks_exist():
    benchmarks = [*BENCHMARKS.values(), *(mvbench_subtask(name) for name in MVBENCH_SUBTASKS)]
    for benchmark in benchmarks:
        if benchmark.key == "mvbench":
            continue
        config = load(f"{benchmark.task}.yaml")
        assert config["task"] == benchmark.task
        assert config["include"] == TEMPLATES[benchmark.family]
        assert config["process_docs"] == ("function", f"utils.{benchmark.key}_docs")
        assert callable(getattr(utils, f"{benchmark.key}_docs"))
    for family, name in TEMPLATES.items():
        template = load(name)
        assert template["generation_kwargs"] == {
            "max_new_tokens": 512,
            "temperature": 0,
            "do_sample": False,
            "until": [],
        }
        hooks = [template[name][1] for name in ("doc_to_visual", "doc_to_text", "doc_to_messages", "process_results")]
        hooks += [metric["aggregation"][1] for metric in template["metric_list"]]
        assert all(callable(getattr(utils, hook.removeprefix("utils."))) for hook in hooks)
        metrics = {metric["metric"] for metric in template["metric_list"]}
        assert metrics == set(
            {"mc_qa": utils.MC_METRICS, "oe_qa": utils.OE_QA_METRICS, "caption": utils.CAPTION_METRICS}[family]
        )


def test_groups():
    mvbench = load("tarsier_mvbench.yaml")
    assert mvbench["task"] == [mvbench_subtask(name).task for name in MVBENCH_SUBTASKS] and len(mvbench["task"]) == 20
    assert all(
        entry["aggregation"] == "mean" and entry["weight_by_size"] is False
        for entry in mvbench["aggregate_metric_list"]
    )
    zeroshot = load("tarsier_zeroshot.yaml")
    assert zeroshot["task"] == [f"tarsier_{key}" for key in BENCHMARKS if key != "egoschema_full"]


def test_hub_tasks_and_groups():
    from lmms_tasks.tasks.tarsier_zeroshot.hub import HUB_SOURCES

    for key, source in HUB_SOURCES.items():
        config = load(f"tarsier_{key}_hub.yaml")
        benchmark = BENCHMARKS.get(key) or next(
            mvbench_subtask(name) for name in MVBENCH_SUBTASKS if mvbench_subtask(name).key == key
        )
        assert config["task"] == f"{benchmark.task}_hub"
        assert config["include"] == TEMPLATES[benchmark.family]
        assert config["process_docs"] == ("function", f"utils.{key}_hub_docs")
        assert config["dataset_kwargs"]["cache_dir"] == source.cache_dir and config["dataset_kwargs"]["video"] is True
    mvbench = load("tarsier_mvbench_hub.yaml")
    assert mvbench["task"] == [f"{mvbench_subtask(name).task}_hub" for name in MVBENCH_SUBTASKS]
    assert mvbench["aggregate_metric_list"] == load("tarsier_mvbench.yaml")["aggregate_metric_list"]
    assert load("tarsier_zeroshot_hub.yaml")["task"] == [
        "tarsier_nextqa_mc_hub",
        "tarsier_egoschema_hub",
        "tarsier_mvbench_hub",
        "tarsier_activitynet_qa_hub",
        "tarsier_vatex_caption_hub",
    ]


def test_lmms_eval_indexes_the_hub_tasks():
    import lmms_eval.models  # noqa: F401  (the model entry points install the task discovery)
    from lmms_eval.tasks import TaskManager

    index = TaskManager().task_index
    assert index["tarsier_nextqa_mc_hub"]["yaml_path"] == str(TASKS_DIR / "tarsier_nextqa_mc_hub.yaml")
    assert index["tarsier_zeroshot_hub"]["type"] == "group" and index["tarsier_mvbench_hub"]["type"] == "group"
    # lmms-eval's own tasks of the same benchmarks stay as they are
    assert index["nextqa_mc_test"]["yaml_path"] != index["tarsier_nextqa_mc_hub"]["yaml_path"]
