"""Model cards for Tarsier checkpoints: metadata as :class:`huggingface_hub.ModelCardData`, body from the Jinja
template ``templates/model_card.md.jinja``, evaluation results as ``model-index`` :class:`~huggingface_hub.EvalResult`.

- :func:`build_model_card` renders a new card for a checkpoint folder (architecture, frames, tokens per frame and
  parameter count read from ``config.json`` and the safetensors headers; training details from
  ``tarsier_training.json`` when the folder holds a training run; evaluation table and protocol from results).
- :func:`update_model_card` merges new results into an existing card: other ``model-index`` entries, metadata and
  prose are kept; only this package's evaluation blocks (between ``<!-- tarsier-hub:... -->`` markers) are
  rewritten, or appended at the end of a card that has none.
- :func:`write_model_card` does either for a folder's ``README.md``; :func:`write_training_card` is what a training
  recipe calls at the end of a run (it replaces TRL's generic card).

``tarsier_training.json`` (written by the training recipe into its ``output_dir``), all keys optional:

==================== ============================================================================================
``recipe``           the recipe's arguments (a mapping, as ``trl_recipes.sft_tarsier`` writes), or its name
``config``           the recipe configuration as a mapping (the YAML the run was started with)
``stage``            training stage (``1`` / ``2``, or a name such as ``"multi-task pre-training"``)
``base_model``       Hub id (or path) the run started from; a Hub id becomes ``base_model`` in the metadata
``mixture``          data mixture: the mixture YAML's path, a list of dataset names, or a mapping name → weight
``datasets``         per dataset ``{"name", "path", "weight", "samples_per_epoch", "frames"}`` (``frames``: the
                     recipe's FrameSpec) or plain ids; Hub ids among the paths → ``datasets`` in the metadata
``steps``            optimizer steps done (int)
``global_batch_size`` samples per optimizer step over all processes (int)
``num_frames``       frames per video: an int, or ``[min, max]`` when sampled per video
``learning_rate``, ``lr_scheduler_type``, ``warmup_steps``, ``max_length``, ``epochs``, ``seed``, ``lora``,
``freeze_vision_tower``, ``freeze_projector``: shown when present
==================== ============================================================================================

Aliases accepted: ``recipe_config`` for ``config``, ``mixture_names`` / ``data_mixture`` for ``mixture``,
``global_step`` / ``max_steps`` for ``steps``, ``global_batch`` for ``global_batch_size``, ``frames`` for
``num_frames``, ``model_name_or_path`` for ``base_model``.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import yaml
from huggingface_hub import ModelCard, ModelCardData

from .eval_index import merge_eval_results, to_eval_results
from .results import TaskResult, metric_identity

TEMPLATE = Path(__file__).parent / "templates" / "model_card.md.jinja"
TRAINING_FILE = "tarsier_training.json"
DEFAULT_LICENSE = "apache-2.0"
TAGS = ["tarsier", "video-description", "video-captioning", "llava"]
DEFAULT_FRAMES = 8
_TRAINING_ALIASES = {
    "config": ("config", "recipe_config"),
    "mixture": ("mixture", "mixture_names", "data_mixture"),
    "steps": ("steps", "global_step", "max_steps"),
    "global_batch_size": ("global_batch_size", "global_batch"),
    "num_frames": ("num_frames", "frames"),
    "base_model": ("base_model", "model_name_or_path"),
}
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
_TABLE_START, _TABLE_END = "<!-- tarsier-hub:evaluation -->", "<!-- /tarsier-hub:evaluation -->"
_PROTOCOL = re.compile(
    r"<!-- tarsier-hub:protocol:(?P<task>[\w.-]+) -->.*?<!-- /tarsier-hub:protocol:(?P=task) -->\n?", re.DOTALL
)


class CardError(ValueError):
    """A folder or file that cannot be described (no config.json, unreadable training record); names the path."""


# ----------------------------------------------------------------------------------------------- checkpoint facts


def checkpoint_facts(folder: str | Path) -> dict:
    """What the card says about the model, read without loading it.

    Returns ``text`` / ``vision`` (descriptions of the LLM and the vision tower), ``rows`` / ``cols`` (patches per
    frame side), ``tokens_per_frame`` (``rows * (cols + 1) + 1``), ``num_parameters`` (int, summed over the
    safetensors headers; ``None`` without safetensors), ``weights_dtype`` and ``remote_code`` (an ``auto_map``).
    Raises :class:`CardError` when ``config.json`` is missing or not a Tarsier/LLaVA config."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CardError(
            f"{folder}: no config.json; pass a checkpoint folder (tarsier-convert output or a training run)"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise CardError(f"{config_path}: not valid JSON ({error})") from None
    vision, text = config.get("vision_config") or {}, config.get("text_config") or {}
    if not vision or not text:
        raise CardError(f"{config_path}: not a Tarsier config (no vision_config / text_config)")
    image_size, patch_size = int(vision.get("image_size", 336)), int(vision.get("patch_size", 14))
    rows = cols = image_size // patch_size
    counts = [_safetensors_parameters(path) for path in sorted(folder.glob("*.safetensors"))]
    dtypes = {dtype for _, found in counts for dtype in found}
    return {
        "text": _describe_llm(text),
        "vision": f"CLIP-style ViT ({vision.get('num_hidden_layers', '?')} layers, hidden size "
        f"{vision.get('hidden_size', '?')}, {image_size} px input, {patch_size} px patches)",
        "rows": rows,
        "cols": cols,
        "tokens_per_frame": rows * (cols + 1) + 1,
        "num_parameters": sum(n for n, _ in counts) if counts else None,
        "weights_dtype": "/".join(sorted(dtypes)) if dtypes else None,
        "remote_code": bool(config.get("auto_map")),
        "model_type": config.get("model_type"),
    }


def _describe_llm(text: dict) -> str:
    kind = {"llama": "LLaMA", "mistral": "Mistral", "qwen2": "Qwen2"}.get(
        text.get("model_type"), text.get("model_type")
    )
    return (
        f"{kind or 'decoder-only'} language model ({text.get('num_hidden_layers', '?')} layers, hidden size "
        f"{text.get('hidden_size', '?')}, vocabulary {text.get('vocab_size', '?')})"
    )


def _safetensors_parameters(path: Path) -> tuple[int, set[str]]:
    """(number of parameters, dtypes) from a safetensors file's JSON header (8-byte length, then the header)."""
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    total, dtypes = 0, set()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for size in info["shape"]:
            count *= size
        total += count
        dtypes.add(info["dtype"].lower())
    return total, dtypes


def _human(count: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            return f"{count / scale:.2f}{unit} ({count:,})"
    return f"{count:,}"


# ------------------------------------------------------------------------------------------------- training info


def read_training_info(folder: str | Path) -> dict | None:
    """``folder/tarsier_training.json`` with aliases resolved to the canonical keys (module docstring), or None."""
    path = Path(folder) / TRAINING_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise CardError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(raw, dict):
        raise CardError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    info = dict(raw)
    for canonical, aliases in _TRAINING_ALIASES.items():
        for alias in aliases:
            if raw.get(alias) is not None:
                info[canonical] = raw[alias]
                break
    for aliases in _TRAINING_ALIASES.values():
        for alias in aliases[1:]:
            info.pop(alias, None)
    return info


def _training_datasets(info: dict) -> list[dict]:
    """The record's ``datasets`` as ``{"name", "path", ...}`` entries (the recipe writes dicts; plain ids allowed)."""
    entries = []
    for item in info.get("datasets") or []:
        entries.append(dict(item) if isinstance(item, dict) else {"name": str(item), "path": str(item)})
    return entries


def training_hub_datasets(info: dict) -> list[str]:
    """Hub dataset ids among the record's datasets (local files and folders are left out of the metadata)."""
    ids = [str(entry.get("path") or "") for entry in _training_datasets(info)]
    return list(dict.fromkeys(path for path in ids if _HUB_ID.match(path) and not Path(path).exists()))


def _frames_text(frames) -> str:
    if isinstance(frames, dict):  # the recipe's FrameSpec: sampler, num_frames, min_frames, max_frames
        sampler = frames.get("sampler", "uniform")
        if sampler == "stage1":
            return f"stage-1 sampler, {frames.get('min_frames')}-{frames.get('max_frames')} frames"
        counts = frames.get("num_frames")
        counts = "/".join(str(n) for n in counts) if isinstance(counts, (list, tuple)) else counts
        return f"{sampler} sampler, {counts} frames"
    if isinstance(frames, (list, tuple)) and len(frames) == 2:
        return f"{frames[0]}-{frames[1]} (sampled per video)"
    return str(frames)


def _training_markdown(info: dict) -> str:
    lines = []
    if isinstance(info.get("recipe"), str):
        lines.append(f"- Recipe: `{info['recipe']}`")
    if info.get("stage") is not None:
        lines.append(f"- Stage: {info['stage']}")
    if info.get("base_model"):
        lines.append(f"- Started from: `{info['base_model']}`")
    mixture = info.get("mixture")
    if isinstance(mixture, dict):
        lines.append("- Data mixture: " + ", ".join(f"{name} ({share})" for name, share in mixture.items()))
    elif isinstance(mixture, (list, tuple)):
        lines.append("- Data mixture: " + ", ".join(str(name) for name in mixture))
    elif mixture:
        lines.append(f"- Data mixture: `{mixture}`")
    datasets = _training_datasets(info)
    if datasets:
        lines.append("- Datasets:")
        for entry in datasets:
            details = [f"`{entry['path']}`" if entry.get("path") and entry.get("path") != entry.get("name") else None]
            details += [f"weight {entry['weight']}" if entry.get("weight") is not None else None]
            details += [f"{entry['samples_per_epoch']} samples per epoch" if entry.get("samples_per_epoch") else None]
            details += [_frames_text(entry["frames"]) if entry.get("frames") else None]
            lines.append(f"  - {entry.get('name')}: " + ", ".join(d for d in details if d))
    for key, label in (
        ("steps", "Optimizer steps"),
        ("global_batch_size", "Global batch size"),
        ("num_frames", "Frames per video"),
        ("learning_rate", "Learning rate"),
        ("lr_scheduler_type", "Learning-rate schedule"),
        ("warmup_steps", "Warm-up steps"),
        ("max_length", "Maximum sequence length"),
        ("epochs", "Epochs"),
        ("seed", "Seed"),
        ("lora", "LoRA"),
    ):
        value = info.get(key)
        if value is not None:
            lines.append(f"- {label}: {_frames_text(value) if key == 'num_frames' else value}")
    trained = [
        label
        for key, label in (("freeze_vision_tower", "vision tower"), ("freeze_projector", "projector"))
        if info.get(key) is False
    ]
    frozen = [
        label
        for key, label in (("freeze_vision_tower", "vision tower"), ("freeze_projector", "projector"))
        if info.get(key) is True
    ]
    if trained or frozen:
        lines.append(
            "- "
            + "; ".join(
                filter(
                    None,
                    [
                        f"trained: {', '.join(trained)}" if trained else "",
                        f"frozen: {', '.join(frozen)}" if frozen else "",
                    ],
                )
            )
        )
    config = info.get("config") if isinstance(info.get("config"), dict) else info.get("recipe")
    if isinstance(config, dict) and config:
        lines.append(
            "\nRecipe configuration:\n\n```yaml\n"
            + yaml.safe_dump(config, sort_keys=False, default_flow_style=False).strip()
            + "\n```"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- evaluation blocks


def evaluation_table(eval_results) -> str:
    """The card's results table (every ``model-index`` entry, ours and foreign), between its markers."""
    lines = [_TABLE_START]
    if eval_results:
        lines += ["| Benchmark | Split | Metric | Value |", "|---|---|---|---|"]
        for result in eval_results:
            dataset = result.dataset_name + (f" ({result.dataset_config})" if result.dataset_config else "")
            metric = result.metric_name or result.metric_type
            lines.append(f"| {dataset} | {result.dataset_split or ''} | {metric} | {_value(result.metric_value)} |")
    else:
        lines.append("No evaluation results yet: `tarsier-hub push-results RESULTS.json --repo-id REPO` adds them.")
    lines.append(_TABLE_END)
    return "\n".join(lines)


def _value(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def protocol_block(task: TaskResult) -> str:
    """How one task's numbers were made (frames, prompt, judge, n scored / failed, 95% CI), between markers."""
    protocol = task.protocol
    lines = [f"<!-- tarsier-hub:protocol:{task.task} -->", f"### {task.dataset_name} (`{task.task}`)", ""]
    metrics = ", ".join(f"{metric_identity(name)[1]} {value:.4f}" for name, value in task.metrics.items())
    lines.append(f"- Results: {metrics}")
    dataset = f"`{task.dataset_id}`" + (f" config `{task.dataset_config}`" if task.dataset_config else "")
    dataset += f", split `{task.split}`" if task.split else ", split not stated by the data"
    dataset += f", revision `{task.revision}`" if task.revision else ""
    if not task.on_hub:
        dataset += (
            " (not a Hugging Face Hub dataset: the identifier in `model-index` names it, no `.eval_results` entry "
            "is made)"
        )
    lines.append(f"- Dataset: {dataset}")
    if task.data:
        lines.append(f"- Data: {task.data}")
    for key, label in (
        ("frames", "Frames"),
        ("frame_sampling", "Frame sampling"),
        ("generation_prompt", "Prompt"),
        ("judge_model", "Judge model"),
        ("prompt_hash", "Judge prompt hash"),
        ("metric", "Metric"),
        ("faithful_to", "Scorer follows"),
        ("model_args", "Model arguments"),
    ):
        if protocol.get(key) is not None:
            value = protocol[key]
            lines.append(
                f"- {label}: `{value}`"
                if key in ("generation_prompt", "prompt_hash", "model_args")
                else f"- {label}: {value}"
            )
    if protocol.get("n_scored") is not None:
        lines.append(f"- Scored: {protocol['n_scored']}, failed: {protocol.get('n_failed', 0)}")
    ci = protocol.get("f1_ci95")
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        lines.append(f"- F1 95% CI (bootstrap over clips): [{ci[0]:.4f}, {ci[1]:.4f}]")
    limit = protocol.get("limit")
    if limit:  # lmms-eval's --limit: a count, or a fraction of the set when below 1
        part = f"{limit:.0%} of the examples" if limit < 1 else f"first {limit:g} examples"
        lines.append(f"- Limited run: {part} only (not comparable with full-set numbers)")
    versions = protocol.get("package_versions")
    if isinstance(versions, dict) and versions:
        lines.append("- Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()))
    if task.source_file:
        lines.append(f"- Results file: `{Path(task.source_file).name}`")
    lines.append(f"<!-- /tarsier-hub:protocol:{task.task} -->")
    return "\n".join(lines) + "\n"


def _evaluation_section(eval_results, tasks: list[TaskResult]) -> str:
    blocks = "\n".join(protocol_block(task) for task in tasks)
    return "## Evaluation\n\n" + evaluation_table(eval_results) + "\n\n" + blocks


# --------------------------------------------------------------------------------------------------- the cards


def build_card_data(
    model_name: str,
    *,
    tasks: list[TaskResult] = (),
    base_model: str | None = None,
    base_model_relation: str | None = None,
    license: str = DEFAULT_LICENSE,
    datasets: list[str] | None = None,
    source_url: str | None = None,
    extra_tags: list[str] = (),
) -> ModelCardData:
    """Metadata: library, pipeline tag, license, tags, base model (+ relation), datasets, ``model-index``."""
    eval_results = to_eval_results(list(tasks), source_url=source_url) or None
    extra = {"base_model_relation": base_model_relation} if base_model and base_model_relation else {}
    return ModelCardData(
        language=["en"],
        license=license,
        library_name="transformers",
        pipeline_tag="video-text-to-text",
        tags=[*TAGS, *extra_tags],
        base_model=base_model,
        datasets=list(datasets) if datasets else None,
        model_name=model_name,
        eval_results=eval_results,
        **extra,
    )


def build_model_card(
    folder: str | Path,
    *,
    tasks: list[TaskResult] = (),
    repo_id: str | None = None,
    base_model: str | None = None,
    base_model_relation: str | None = None,
    license: str = DEFAULT_LICENSE,
    datasets: list[str] | None = None,
    source_url: str | None = None,
) -> ModelCard:
    """A new card for the checkpoint in ``folder`` (see the module docstring). ``repo_id`` names the model in the
    code examples (default: the folder name); a training record in the folder fills the training section and, when
    not given, ``base_model`` (relation ``finetune``) and ``datasets``."""
    folder = Path(folder)
    facts = checkpoint_facts(folder)
    training = read_training_info(folder)
    extra_tags = []
    if training:
        base_model = base_model or training.get("base_model")
        base_model_relation = base_model_relation or ("finetune" if base_model else None)
        datasets = datasets or training_hub_datasets(training) or None
        extra_tags = ["trl", "sft"]
    if base_model and not _HUB_ID.match(base_model):
        base_model = None  # a local path is no Hub id: the metadata would point nowhere
    model_id = repo_id or folder.resolve().name
    frames = training.get("num_frames") if training else None
    frames = frames if isinstance(frames, int) else DEFAULT_FRAMES
    card_data = build_card_data(
        model_id.split("/")[-1],
        tasks=tasks,
        base_model=base_model,
        base_model_relation=base_model_relation,
        license=license,
        datasets=datasets,
        source_url=source_url,
        extra_tags=extra_tags,
    )
    relation = {
        "finetune": "Fine-tuned from",
        "adapter": "Adapter of",
        "merge": "Merge of",
        "quantized": "Quantized from",
    }
    base_text = (
        f"{relation.get(base_model_relation, 'Derived from')} [`{base_model}`](https://huggingface.co/{base_model})."
        if base_model
        else ""
    )
    summary = (
        "A Tarsier video description model in the native transformers format of the tarsier-hf package: "
        "it describes videos in detail (and answers questions "
        "about them) from a few sampled frames."
    )
    return ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        title=model_id.split("/")[-1],
        summary=summary,
        model_id=model_id,
        frames=frames,
        base_model_text=base_text,
        num_parameters=_human(facts["num_parameters"]) if facts["num_parameters"] else None,
        training=_training_markdown(training) if training else "",
        evaluation=_evaluation_section(card_data.eval_results, list(tasks)),
        **{
            key: facts[key]
            for key in ("text", "vision", "rows", "cols", "tokens_per_frame", "weights_dtype", "remote_code")
        },
    )


def update_model_card(
    card: ModelCard, tasks: list[TaskResult], source_url: str | None = None, model_name: str | None = None
) -> ModelCard:
    """``card`` with ``tasks`` merged in: new metrics replace the same metrics, every other ``model-index`` entry,
    all other metadata and all prose stay; the evaluation table is rewritten from the merged entries and each
    task's protocol block replaced (or added). ``model_name`` names the ``model-index`` when the card has none yet.
    Returns a new card; ``card`` is not modified."""
    merged = ModelCard(str(card))
    data = merged.data
    if not data.get("model_name"):
        data.model_name = model_name or "model"
    data.eval_results = merge_eval_results(data.eval_results, to_eval_results(list(tasks), source_url=source_url))
    for key, value in (("library_name", "transformers"), ("pipeline_tag", "video-text-to-text")):
        if not data.get(key):
            data[key] = value
    data.tags = list(dict.fromkeys([*(data.tags or []), *TAGS]))
    text = merged.text
    table = evaluation_table(data.eval_results)
    if _TABLE_START in text and _TABLE_END in text:
        start, end = text.index(_TABLE_START), text.index(_TABLE_END) + len(_TABLE_END)
        text = text[:start] + table + text[end:]
        for task in tasks:
            block = protocol_block(task)
            existing = next((m for m in _PROTOCOL.finditer(text) if m.group("task") == task.task), None)
            if existing:
                text = text[: existing.start()] + block + text[existing.end() :]
            else:
                anchor = max([m.end() for m in _PROTOCOL.finditer(text)] + [text.index(_TABLE_END) + len(_TABLE_END)])
                text = text[:anchor].rstrip("\n") + "\n\n" + block + text[anchor:]
    else:
        text = text.rstrip("\n") + "\n\n" + _evaluation_section(data.eval_results, list(tasks))
    merged.text = text
    return ModelCard(str(merged))


def check_model_card(card: ModelCard) -> None:
    """huggingface_hub's local checks, strictly: the text parses back (``ModelCard(str(card))`` without
    ``ignore_metadata_errors``), the metadata is a mapping, ``model-index`` converts to ``EvalResult`` objects and
    back to the same entries. Raises ``ValueError`` naming the problem."""
    reparsed = ModelCard(str(card))
    data = reparsed.data.to_dict()
    if "model-index" in data:
        from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

        name, results = model_index_to_eval_results(data["model-index"])
        if eval_results_to_model_index(name, results) != data["model-index"]:
            raise ValueError("model-index does not round-trip through EvalResult")
    for key in ("library_name", "pipeline_tag", "license"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"metadata {key!r} must be a string, got {type(data[key]).__name__}")
    if "tags" in data and not all(isinstance(tag, str) for tag in data["tags"]):
        raise ValueError("metadata 'tags' must be a list of strings")


def write_model_card(
    folder: str | Path,
    results=(),
    *,
    replace: bool = False,
    **card_options,
) -> Path:
    """Write ``folder/README.md``: a new card (:func:`build_model_card`), or, when the folder already has one and
    ``replace`` is false, that card with the results merged in (:func:`update_model_card`). ``results`` are
    results files (paths) or :class:`TaskResult` objects. Returns the card's path."""
    from .results import read_all

    tasks = [item for item in results if isinstance(item, TaskResult)]
    tasks += read_all([item for item in results if not isinstance(item, TaskResult)])
    path = Path(folder) / "README.md"
    if path.is_file() and not replace:
        name = (card_options.get("repo_id") or Path(folder).resolve().name).split("/")[-1]
        card = update_model_card(
            ModelCard.load(path), tasks, source_url=card_options.get("source_url"), model_name=name
        )
    else:
        card = build_model_card(folder, tasks=tasks, **card_options)
    check_model_card(card)
    card.save(path)
    return path


def write_training_card(output_dir: str | Path, results=(), **card_options) -> Path:
    """The card at the end of a training run: reads ``output_dir/tarsier_training.json`` (module docstring) and
    replaces whatever ``README.md`` the trainer wrote (TRL's generic card). Call it after the final save."""
    return write_model_card(output_dir, results, replace=True, **card_options)
