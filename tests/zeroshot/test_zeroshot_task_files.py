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
