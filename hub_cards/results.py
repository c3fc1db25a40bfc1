"""Evaluation results files → the numbers a model card reports.

Two kinds of files are read (detected by their content, not their name):

- lmms-eval results JSON (``<output_path>/<model>/<date>_results.json``): ``results`` (and ``groups``) map each task
  to ``"<metric>,<filter>": value`` entries; ``configs`` holds each task's YAML (``dataset_path``,
  ``dataset_name``, ``dataset_kwargs.revision``, ``test_split``, the prompt). ``dream1k`` adds
  ``autodq_f1_ci95_low`` / ``_high`` and, under ``autodq,none``, the path of its AutoDQ report (read when it still
  exists, at that path or in a folder of that name next to the results file: frames, prompt, judge, n scored /
  failed); runs before that change held the report itself there.
- a scorer's report such as ``tarsier-autodq score``'s ``autodq_results.json`` (``benchmark``, ``overall``
  {``f1``, ``precision``, ``recall``, ``n``}, ``n_scored``, ``n_failed``, ``f1_ci95``, ``protocol``), or any file
  of that shape (``benchmark`` + ``overall`` numbers), which is what ``tarsier-eval`` writes per benchmark.

Every *headline* number becomes one :class:`TaskResult` metric: numeric, not a standard error, not a count
(``n_scored`` / ``n_failed`` / ``n`` go to the protocol instead), not NaN. Metric names are kept as the task names
them; :func:`metric_identity` gives the Hub metric id and a pretty name (AutoDQ F1 → ``f1``, accuracy → ``accuracy``,
CIDEr → ``cider``, judged score → ``score``; anything else keeps its own name), so new tasks need no code here.

Dataset ids: the zero-shot tasks (``tarsier_*``, ``tarsier_*_hub``) and their reports take theirs from the
protocol their result carries (:mod:`hub_cards.zeroshot`: readable benchmark name, real split, the Hub dataset of a
hub task, ``local:<released file>`` for local annotation files); a task whose ``dataset_path`` is a Hub id
(``owner/name``) reports it, with ``dataset_name`` as the config, the test (else validation) split and
``dataset_kwargs.revision``; the tasks of this package that read local files name their Hub dataset in
:data:`KNOWN_DATASETS`; otherwise the task name stands in for the dataset (not a Hub id: the card says so and no
``.eval_results`` file is written for it).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .zeroshot import zeroshot_dataset

# Task (or benchmark) name → (Hub dataset id, pretty name, split) for tasks whose lmms-eval config reads local files.
KNOWN_DATASETS = {
    "dream1k": ("omni-research/DREAM-1K", "DREAM-1K", "test"),
    "DREAM-1K": ("omni-research/DREAM-1K", "DREAM-1K", "test"),
}
# Scorer reports name their benchmark; the lmms-eval task that produces the same numbers.
_BENCHMARK_TASKS = {"DREAM-1K": "dream1k"}
_COUNT = re.compile(r"(^|_)(n|count|num)(_|$)")
_STDERR = re.compile(r"_stderr(_|$)")
_CI = re.compile(r"_ci95_(low|high)$")
_HUB_DATASET_ID = re.compile(r"[\w.-]+/[\w.-]+")
# A model argument is a secret when the last word of its name (split at "_", "-", "." and camelCase) is one of these:
# api_key, hf_token, token, access_token, client_secret, password, openai_api_key, apiKey. Names whose last word is a
# plural or a longer word (max_new_tokens, max_tokens, num_tokens, tokenizer, key_frames) are settings, not secrets;
# so is a tokenizer's special token (bos_token, pad_token, image_token: a string the model reads, not a credential).
SECRET_WORDS = frozenset({"key", "apikey", "token", "secret", "password", "passwd", "credential", "credentials"})
_SPECIAL_TOKEN_NAMES = frozenset({"bos", "eos", "pad", "unk", "sep", "cls", "mask", "image", "video", "start", "end"})
# Values that are credentials whatever their argument is called (Hugging Face and OpenAI-style keys).
_SECRET_VALUE = re.compile(r"^(?:hf_|sk-)[A-Za-z0-9_-]{16,}$")


class ResultsError(ValueError):
    """A results file that cannot be read or holds no headline metric; the message names the file."""


@dataclass
class TaskResult:
    """The headline numbers of one task (benchmark) in one results file.

    ``metrics``: metric name as the task names it (``autodq_f1``, ``accuracy``, ``cider``) → value (float, in the
    unit the task reports: AutoDQ and accuracy in [0, 1], CIDEr as released, judged score 0-5). ``protocol``: how
    the numbers were made, as far as the file says (frames, prompt, judge model, n scored / failed, F1 CI, limit,
    model arguments, versions). ``filters``: metric name → lmms-eval filter when it is not ``none``.
    ``dataset_id`` is a Hub dataset id (``owner/name``) or, for data that is not on the Hub, an identifier that is
    not one (``local:Next-QA-val-multi_choice``, a task name); ``data`` says where the rows came from, when known.
    """

    task: str
    dataset_id: str
    dataset_name: str
    metrics: dict[str, float]
    dataset_config: str | None = None
    split: str | None = None
    revision: str | None = None
    protocol: dict = field(default_factory=dict)
    filters: dict[str, str] = field(default_factory=dict)
    source_file: str | None = None
    date: str | None = None
    data: str | None = None

    @property
    def on_hub(self) -> bool:
        """Whether ``dataset_id`` is a Hub dataset id (only those get an ``.eval_results`` file)."""
        return bool(_HUB_DATASET_ID.fullmatch(self.dataset_id))


def metric_identity(metric: str) -> tuple[str, str]:
    """``(Hub metric id, pretty name)`` of a task's metric name, e.g. ``autodq_f1`` → ``("f1", "AutoDQ F1")``."""
    lowered = metric.lower()
    if lowered.startswith("autodq_"):
        rest = lowered[len("autodq_") :]
        pretty = "F1" if rest == "f1" else rest.replace("_", " ")
        return rest, f"AutoDQ {pretty}"
    if lowered in ("accuracy", "acc"):
        return "accuracy", "Accuracy"
    if lowered in ("cider", "cider_d"):
        return "cider", "CIDEr"
    if lowered == "score":
        return "score", "Score"
    return metric, metric.replace("_", " ").capitalize()


def task_kind(metrics) -> str:
    """A pretty task name from the metric names: description (AutoDQ), captioning (CIDEr) or QA."""
    names = {name.lower() for name in metrics}
    if any(name.startswith("autodq") for name in names):
        return "Video description"
    if any("cider" in name for name in names):
        return "Video captioning"
    return "Video question answering"


def read_results(path: str | Path) -> list[TaskResult]:
    """The task results of one file (lmms-eval results JSON or a scorer report); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ResultsError(f"results file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ResultsError(f"{path}: not a JSON file ({error})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object, got {type(data).__name__}")
    if isinstance(data.get("results"), dict) and isinstance(data.get("configs"), dict):
        tasks = _from_lmms_eval(data, path.parent)
    elif isinstance(data.get("benchmark"), str) and isinstance(data.get("overall"), dict):
        tasks = [_from_report(data, data["benchmark"])]
    else:
        raise ResultsError(
            f"{path}: neither an lmms-eval results file ('results' and 'configs') nor a scorer report "
            "('benchmark' and 'overall')"
        )
    tasks = [task for task in tasks if task.metrics]
    if not tasks:
        raise ResultsError(f"{path}: no headline metric (numeric, not a count or standard error) in the file")
    for task in tasks:
        task.source_file = str(path)
    return tasks


def read_all(paths) -> list[TaskResult]:
    """:func:`read_results` over several files, in order."""
    return [task for path in paths for task in read_results(path)]


def _headline(name: str, value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return False
    return not (_STDERR.search(name) or _COUNT.search(name.lower()) or name == "alias")


def _linked_report(value, base: Path) -> dict | None:
    """A scorer report given inline (older ``dream1k`` runs: ``autodq,none`` is the report) or as the path of its
    JSON file (newer runs write the report next to the results file and give its path); None for anything else or a
    path that no longer exists (the numbers in the results file are then all there is)."""
    if isinstance(value, dict):
        return value if value.get("benchmark") and isinstance(value.get("overall"), dict) else None
    if not isinstance(value, str) or not value.endswith(".json"):
        return None
    candidates = [base / Path(value).parent.name / Path(value).name, Path(value)]  # next to the results, or as written
    for path in candidates:
        if path.is_file():
            try:
                report = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            return _linked_report(report, base) if isinstance(report, dict) else None
    return None


def _from_lmms_eval(data: dict, base: Path) -> list[TaskResult]:
    entries = dict(data["results"])
    entries.update(data.get("groups") or {})
    # A group's own results stand for its sub-tasks (e.g. 20 MVBench sub-tasks → one accuracy).
    group_subtasks = data.get("group_subtasks") or {}
    covered = {sub for group, subs in group_subtasks.items() if group in entries for sub in subs}
    # Each task's scorer reports (inline or linked) by result key, read once; their protocol names the zero-shot data.
    linked = {
        task: {key: report for key, value in values.items() if (report := _linked_report(value, base)) is not None}
        for task, values in entries.items()
        if isinstance(values, dict)
    }
    report_protocols = {
        task: dict(next(iter(found.values())).get("protocol") or {}) if found else {} for task, found in linked.items()
    }
    tasks = []
    for task, values in entries.items():
        if task in covered or not isinstance(values, dict):
            continue
        metrics, filters, protocol, ci = {}, {}, {}, {}
        for key, value in values.items():
            metric, _, filter_name = key.partition(",")
            report = linked[task].get(key)
            if report is not None:
                protocol.update(_report_protocol(report))
            elif _CI.search(metric) and isinstance(value, (int, float)) and not isinstance(value, bool):
                ci[_CI.search(metric).group(1)] = value
            elif _headline(metric, value):
                metrics[metric] = float(value)
                if filter_name and filter_name != "none":
                    filters[metric] = filter_name
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and _COUNT.search(metric.lower()):
                protocol[_count_name(metric)] = value
        if {"low", "high"} <= set(ci):  # lmms-eval keeps scalars only: the CI comes as two metrics
            protocol.setdefault("f1_ci95", [ci["low"], ci["high"]])
        config = data["configs"].get(task) or {}
        prompt = ((config.get("lmms_eval_specific_kwargs") or {}).get("default") or {}).get("prompt")
        if isinstance(prompt, str):
            protocol.setdefault("generation_prompt", prompt)
        frames = re.search(r"(?:^|,)num_frames=(\d+)", str((data.get("config") or {}).get("model_args") or ""))
        if frames:
            protocol.setdefault("frames", int(frames.group(1)))
        zero_shot = zeroshot_dataset(
            task,
            report_protocols.get(task),
            config,
            [report_protocols.get(sub) or {} for sub in group_subtasks.get(task) or []],
        )
        if zero_shot is not None:
            dataset_id, dataset_name, dataset_config = zero_shot.dataset_id, zero_shot.name, zero_shot.config
            split, revision = zero_shot.split, zero_shot.revision
        else:
            dataset_id, dataset_name, dataset_config, split, revision = _dataset_of(task, config)
        protocol.setdefault("limit", (data.get("config") or {}).get("limit"))
        protocol.setdefault("model_args", (data.get("config") or {}).get("model_args"))
        protocol.setdefault("lmms_eval_version", data.get("lmms_eval_version"))
        samples = (data.get("n-samples") or {}).get(task) or {}
        if "effective" in samples:
            protocol.setdefault("n_samples", samples["effective"])
        revision = revision or protocol.get("dataset_revision")
        if isinstance(protocol.get("model_args"), str):
            protocol["model_args"] = redact_model_args(protocol["model_args"])
        tasks.append(
            TaskResult(
                task=task,
                dataset_id=dataset_id,
                dataset_name=dataset_name,
                dataset_config=dataset_config,
                split=split,
                revision=revision,
                metrics=metrics,
                filters=filters,
                protocol={key: value for key, value in protocol.items() if value is not None},
                date=data.get("date"),
                data=zero_shot.data if zero_shot is not None else None,
            )
        )
    return tasks


def _count_name(metric: str) -> str:
    """``autodq_n_scored`` → ``n_scored``: the protocol keeps counts under their plain names."""
    match = re.search(r"(?:^|_)((?:n|count|num)(?:_\w+)?)$", metric)
    return match.group(1) if match else metric


def is_secret_arg(name: str) -> bool:
    """Whether a model argument called ``name`` holds a secret (rule above :data:`SECRET_WORDS`)."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip()).lower()
    words = [word for word in re.split(r"[^a-z0-9]+", words) if word]
    if not words or words[-1] not in SECRET_WORDS:
        return False
    return not (words[-1] == "token" and len(words) == 2 and words[0] in _SPECIAL_TOKEN_NAMES)


def redact_model_args(model_args: str) -> str:
    """``a=1,api_key=sk-...`` → ``a=1,api_key=***``: secrets in lmms-eval model arguments (``name=value`` pairs
    separated by commas) never reach a card; every other argument is kept as written (``max_new_tokens=16``)."""
    parts = []
    for part in model_args.split(","):
        name, sep, value = part.partition("=")
        if sep and (is_secret_arg(name) or _SECRET_VALUE.match(value.strip())):
            part = f"{name}=***"
        parts.append(part)
    return ",".join(parts)


def _dataset_of(task: str, config: dict) -> tuple[str, str, str | None, str | None, str | None]:
    kwargs = config.get("dataset_kwargs") or {}
    split = config.get("test_split") or config.get("validation_split")
    revision = kwargs.get("revision") if isinstance(kwargs, dict) else None
    path = config.get("dataset_path")
    if task in KNOWN_DATASETS:
        dataset_id, pretty, known_split = KNOWN_DATASETS[task]
        return dataset_id, pretty, None, split or known_split, revision
    if isinstance(path, str) and re.fullmatch(r"[\w.-]+/[\w.-]+", path):
        return path, path.split("/")[-1], config.get("dataset_name"), split, revision
    return task, task, None, split, revision


def _report_protocol(report: dict) -> dict:
    """What a card shows of an AutoDQ-style report: protocol settings, counts and the F1 confidence interval."""
    protocol = dict(report.get("protocol") or {})
    shown = {
        key: protocol.get(key)
        for key in (
            "frames",
            "frame_sampling",
            "generation_prompt",
            "judge_model",
            "prompt_hash",
            "limit",
            "metric",
            "faithful_to",
            "model_args",
            "dataset_revision",
            "annotations",
        )
    }
    shown.update(
        n_scored=report.get("n_scored"),
        n_failed=report.get("n_failed"),
        f1_ci95=report.get("f1_ci95"),
        package_versions=protocol.get("package_versions"),
    )
    if isinstance(shown.get("model_args"), str):
        shown["model_args"] = redact_model_args(shown["model_args"])
    return {key: value for key, value in shown.items() if value is not None}


def _from_report(report: dict, benchmark: str) -> TaskResult:
    task = _BENCHMARK_TASKS.get(benchmark, benchmark)
    metrics = {}
    for name, value in report["overall"].items():
        if _headline(name, value):
            metrics[f"autodq_{name}" if benchmark == "DREAM-1K" else name] = float(value)
    config = revision = data = None
    zero_shot = zeroshot_dataset(
        report.get("task") or f"tarsier_{benchmark}",
        report.get("protocol") if isinstance(report.get("protocol"), dict) else {},
    )
    if zero_shot is not None:  # tarsier-eval / tarsier_* task report: named as the lmms-eval task that makes it
        task = str(report.get("task") or f"tarsier_{benchmark}")
        task += "_hub" if zero_shot.on_hub and not task.endswith("_hub") else ""
        dataset_id, pretty, split = zero_shot.dataset_id, zero_shot.name, zero_shot.split
        config, revision, data = zero_shot.config, zero_shot.revision, zero_shot.data
    elif task in KNOWN_DATASETS:
        dataset_id, pretty, split = KNOWN_DATASETS[task]
    else:
        dataset_id, pretty, split = benchmark, benchmark, report.get("split")
    protocol = _report_protocol(report)
    return TaskResult(
        task=task,
        dataset_id=dataset_id,
        dataset_name=pretty,
        dataset_config=config,
        split=split,
        revision=revision or protocol.get("dataset_revision"),
        metrics=metrics,
        protocol=protocol,
        data=data,
    )
