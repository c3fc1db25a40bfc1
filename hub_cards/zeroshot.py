"""Which data a zero-shot result (lmms-eval ``tarsier_*`` / ``tarsier_*_hub`` tasks, ``tarsier-eval`` reports) was
measured on, for the card's ``model-index`` and ``.eval_results``.

The lmms-eval config of a local ``tarsier_*`` task says nothing true about its data (``dataset_path: json``, a
``test`` split that is only the key of a placeholder file); the result itself does. Each task's ``results,none``
metric (the scorer's report, inline or as the path of ``<benchmark>_results.json``) holds a ``protocol`` with
``benchmark`` (key of :data:`lmms_tasks.zeroshot.benchmarks.BENCHMARKS`, or an MVBench sub-task such as
``mvbench_action_count``), ``annotation_file`` (the released file name) and ``annotations`` (the data sources the
rows came from: local file paths, or ``"hub:<dataset id> (<config>[, revision <rev>]) split <split>"`` for the hub
tasks). From these:

- ``name``: the benchmark's readable name (:data:`READABLE_NAMES`, ``MVBench (Action Count)`` for a sub-task);
- Hub tasks: ``type`` = the Hub dataset id (``lmms-eval/NExTQA``), its config, split and revision, from the data
  source (else, when the result names no local file, from a Hub ``dataset_path`` in the task's lmms-eval config);
- local tasks: no Hub dataset exists for the released annotation files, so ``type`` is ``local:<released file
  stem>`` (``local:Next-QA-val-multi_choice``; MVBench sub-tasks add their config), an identifier that cannot be
  mistaken for a Hub id (``:`` is not allowed in one); the split is the split word of the released file name
  (``Next-QA-val-multi_choice.jsonl`` → ``val``, ``MSVD-Caption-test.jsonl`` → ``test``; none for
  ``EgoSchema_subset.jsonl`` / ``MVBench.jsonl``), since rows are selected by that file's ``dataset`` field. The card
  says that the dataset is not on the Hub, and no ``.eval_results`` file is written for it (that format points at a
  Hub benchmark dataset).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LOCAL_PREFIX = "local:"
READABLE_NAMES = {
    "nextqa_mc": "NExT-QA (multi-choice)",
    "egoschema": "EgoSchema (subset)",
    "egoschema_full": "EgoSchema (full set)",
    "mvbench": "MVBench",
    "msvd_qa": "MSVD-QA",
    "msrvtt_qa": "MSR-VTT-QA",
    "activitynet_qa": "ActivityNet-QA",
    "tgif_qa": "TGIF-QA",
    "msvd_caption": "MSVD (captioning)",
    "msrvtt_caption": "MSR-VTT (captioning)",
    "vatex_caption": "VATEX (captioning)",
}
_SPLIT_WORDS = {"val": "val", "validation": "validation", "dev": "dev", "test": "test", "train": "train"}
# hub.py of the tarsier_zeroshot tasks: "hub:lmms-eval/NExTQA (MC) split test",
# "hub:OpenGVLab/MVBench (action_count, revision video) split train", "hub:lmms-eval/ActivityNetQA split test".
_HUB_SOURCE = re.compile(
    r"^hub:(?P<id>[\w.-]+/[\w.-]+)(?: \((?P<config>[^,()]+)(?:, revision (?P<revision>[^()]+))?\))?"
    r"(?: split (?P<split>\S+))?$"
)


@dataclass(frozen=True)
class ZeroShotDataset:
    """Where a zero-shot result's rows came from. ``dataset_id``: Hub id, or ``local:...`` (module docstring);
    ``data``: what the card says about the source (annotation file names, or the Hub dataset)."""

    dataset_id: str
    name: str
    config: str | None
    split: str | None
    revision: str | None
    data: str

    @property
    def on_hub(self) -> bool:
        return not self.dataset_id.startswith(LOCAL_PREFIX)


def split_of(file_name: str) -> str | None:
    """The split word of an annotation file name (``Next-QA-val-multi_choice.jsonl`` → ``val``), or None."""
    words = re.split(r"[-_.\s]+", Path(file_name).stem.lower())
    return next((_SPLIT_WORDS[word] for word in words if word in _SPLIT_WORDS), None)


def parse_hub_source(source: str) -> dict | None:
    """``{"id", "config", "revision", "split"}`` of a hub task's data source string, or None for anything else."""
    match = _HUB_SOURCE.match(source.strip()) if isinstance(source, str) else None
    return {key: (value.strip() if value else None) for key, value in match.groupdict().items()} if match else None


def _benchmark(key: str):
    """The benchmark (or MVBench sub-task) definition of ``key``, or None when the key is unknown."""
    from lmms_tasks.zeroshot.benchmarks import BENCHMARKS, MVBENCH_SUBTASKS, mvbench_subtask

    if key in BENCHMARKS:
        return BENCHMARKS[key]
    return next((mvbench_subtask(name) for name in MVBENCH_SUBTASKS if mvbench_subtask(name).key == key), None)


def benchmark_key(task: str | None, protocol: dict | None) -> str | None:
    """The benchmark key of a result: the protocol's ``benchmark``, else the task name without ``tarsier_`` and
    ``_hub`` (``tarsier_mvbench_hub`` → ``mvbench``); None when it names no zero-shot benchmark."""
    key = (protocol or {}).get("benchmark")
    if not isinstance(key, str) and isinstance(task, str) and task.startswith("tarsier_"):
        key = task.removeprefix("tarsier_").removesuffix("_hub")
    return key if isinstance(key, str) and _benchmark(key) is not None else None


def readable_name(key: str) -> str:
    benchmark = _benchmark(key)
    if benchmark is not None and benchmark.subtask:
        return f"MVBench ({benchmark.subtask.split('/', 1)[1]})"
    return READABLE_NAMES.get(key, key)


def _sources(protocols: list[dict]) -> list[str]:
    found = []
    for protocol in protocols:
        annotations = protocol.get("annotations")
        annotations = [annotations] if isinstance(annotations, str) else annotations or []
        found += [str(source) for source in annotations if str(source).strip()]
    return list(dict.fromkeys(found))


def _common(values: list) -> str | None:
    """The one value all sources agree on (a group's sub-tasks: same dataset, other configs → no config)."""
    return values[0] if values and all(value == values[0] for value in values) else None


def zeroshot_dataset(
    task: str | None, protocol: dict | None, config: dict | None = None, sub_protocols: list[dict] = ()
) -> ZeroShotDataset | None:
    """The dataset of a zero-shot result, or None when ``task`` / ``protocol`` name no zero-shot benchmark.

    ``protocol``: the scorer report's protocol (empty for a group such as ``tarsier_mvbench``, whose sub-tasks'
    protocols come as ``sub_protocols``); ``config``: the task's lmms-eval config (used for hub tasks whose result
    names no Hub source)."""
    protocol = protocol or {}
    key = benchmark_key(task, protocol)
    if key is None:
        return None
    benchmark = _benchmark(key)
    name = readable_name(key)
    sources = _sources([protocol, *sub_protocols])
    hub = [parse_hub_source(source) for source in sources if source.startswith("hub:")]
    if hub and all(hub) and len(hub) == len(sources):
        dataset_id = _common([source["id"] for source in hub])
        if dataset_id:
            config_name, split = _common([s["config"] for s in hub]), _common([s["split"] for s in hub])
            revision = _common([s["revision"] for s in hub])
            return ZeroShotDataset(dataset_id, name, config_name, split, revision, f"Hub dataset `{dataset_id}`")
    config = config or {}
    path = config.get("dataset_path")
    local_sources = [source for source in sources if not source.startswith("hub:")]
    if not local_sources and isinstance(path, str) and re.fullmatch(r"[\w.-]+/[\w.-]+", path):
        kwargs = config.get("dataset_kwargs") if isinstance(config.get("dataset_kwargs"), dict) else {}
        split = config.get("test_split") or config.get("validation_split")
        return ZeroShotDataset(
            path, name, config.get("dataset_name"), split, kwargs.get("revision"), f"Hub dataset `{path}`"
        )
    released = str(protocol.get("annotation_file") or benchmark.annotation_file)
    files = [Path(source).name for source in local_sources]
    subtask = key.removeprefix("mvbench_") if benchmark.subtask else None
    data = "annotation file " + (", ".join(f"`{file}`" for file in files) if files else f"`{released}`")
    data += f" (released Tarsier format{'' if benchmark.released_file else ', file not in the released repository'})"
    return ZeroShotDataset(f"{LOCAL_PREFIX}{Path(released).stem}", name, subtask, split_of(released), None, data)
