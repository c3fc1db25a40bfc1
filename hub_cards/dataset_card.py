"""Dataset cards for packaged video datasets: metadata as :class:`huggingface_hub.DatasetCardData` (license, task
categories, size category, source, ``configs`` for ``datasets``, gating prompt), body from
``templates/dataset_card.md.jinja`` (fields, how to load, how to evaluate with this package's tasks)."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import DatasetCard, DatasetCardData

TEMPLATE = Path(__file__).parent / "templates" / "dataset_card.md.jinja"
_SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
)
_FIELDS = {
    "dream1k": (
        "- `video`: the clip; `video_file`: its file name\n"
        "- `idx`: clip id (string); `source`: sub-dataset (e.g. `DREAM/movie_animation`)\n"
        "- `description`: the reference description; `events`: its events (list of strings, or null when the "
        "scorer should extract them)\n"
        "- `n_subjects`, `n_shots`, `n_events`: counts; `duration`: seconds"
    ),
    "training": (
        "- `video`: the clip\n"
        "- `id`: example id (string, unique)\n"
        "- `start`, `end`: the segment of the video in seconds (null: from the start / to the end)\n"
        '- `messages`: the conversation, `{"role", "content"}` turns (the assistant\'s turn is the target)'
    ),
}
_DESCRIPTIONS = {
    "dream1k": "Video description clips with reference descriptions and events in the DREAM-1K annotation format "
    "(Tarsier, arXiv 2407.00634), scored with AutoDQ.",
    "training": "Video instruction data in the row format of the tarsier-hf training recipes.",
}


def size_category(n_rows: int) -> str:
    """The Hub's ``size_categories`` value for ``n_rows`` examples."""
    for limit, name in _SIZE_CATEGORIES:
        if n_rows < limit:
            return name
    return "n>1M" if n_rows < 1_000_000_000 else "other"


def build_dataset_card(
    *,
    data_format: str,
    split: str,
    n_rows: int,
    repo_id: str = "<user>/<dataset>",
    license: str = "unknown",
    pretty_name: str | None = None,
    source: str | None = None,
    gated: bool = False,
) -> DatasetCard:
    """The card of a packaged dataset (see :mod:`hub_cards.dataset` for the layout it describes)."""
    extra = {}
    if gated:
        extra["extra_gated_prompt"] = "Please confirm that you will use these videos for research purposes only."
        extra["extra_gated_fields"] = {"I agree to use this dataset for research purposes only": "checkbox"}
    card_data = DatasetCardData(
        license=license,
        language=["en"],
        task_categories=["video-text-to-text"],
        size_categories=[size_category(n_rows)],
        source_datasets=[f"extended|{source}" if "/" in source else source] if source else ["original"],
        pretty_name=pretty_name or repo_id.split("/")[-1],
        tags=["video", "video-description", "tarsier"],
        configs=[{"config_name": "default", "data_files": [{"split": split, "path": f"data/{split}/**"}]}],
        **extra,
    )
    return DatasetCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        title=pretty_name or repo_id.split("/")[-1],
        description=_DESCRIPTIONS[data_format],
        fields=_FIELDS[data_format],
        n_rows=n_rows,
        split=split,
        source=source,
        gated=gated,
        repo_id=repo_id,
        local_dir=repo_id.split("/")[-1],
        data_format=data_format,
    )
