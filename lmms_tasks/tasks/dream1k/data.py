"""Where the ``dream1k`` clips come from: the Hub dataset, or local annotations and a local video folder.

The task's YAML loads a one-row *source* file (``dream1k_source.json``: Hub repository, revision, the annotation
file and the video archive in it, optional local paths) and :func:`docs_from_source` turns that row into the
clips. This indirection is what lets the same task run from the gated Hub dataset or fully offline: lmms-eval
itself always reads a local file, and only this module decides whether the Hub is needed.

Per clip, the annotations come from (first that is set):

1. ``$TARSIER_DREAM1K_ANNOTATIONS`` (a local ``DREAM-1k.jsonl`` in Tarsier's format, or the Hub's ``metadata.json``),
2. the source row's ``annotations`` (a variant YAML can point ``dataset_kwargs.data_files`` at its own source file),
3. ``hub_annotations`` in ``hub_repo`` at ``hub_revision``, through the Hugging Face cache.

and the videos from ``$TARSIER_DREAM1K_VIDEO_DIR``, then the row's ``video_dir``, then ``hub_videos`` (the zip is
downloaded once and extracted once under ``$HF_HOME/tarsier_hf/dream1k/<commit>/``, with a file lock so that
several processes share one extraction). A clip's video is the file in that folder (searched recursively) whose
name without extension is the stem of the annotation's ``video_file``, or the clip id when there is none (in
DREAM-1K the two agree).
"""

from __future__ import annotations

import logging
import os
import shutil
import zipfile
from pathlib import Path

from lmms_tasks.autodq.annotations import ANNOTATIONS_ENV, load_dream1k_annotations
from tarsier_hf.video_io import CLIP_EXTENSIONS

VIDEO_DIR_ENV = "TARSIER_DREAM1K_VIDEO_DIR"
SOURCE_FIELDS = ("hub_repo", "hub_revision", "hub_annotations", "hub_videos", "annotations", "video_dir")
_EXTRACTED_MARKER = ".extracted"

logger = logging.getLogger(__name__)


class DataSourceError(RuntimeError):
    """The DREAM-1K annotations or videos cannot be found or fetched; the message says what to set."""


def docs_from_source(row: dict) -> list[dict]:
    """One lmms-eval document per annotated clip, in annotation order."""
    missing = [name for name in SOURCE_FIELDS if name not in row]
    if missing:
        raise DataSourceError(f"dream1k source row lacks {missing}; it has {sorted(row)}")
    annotations_path = _annotations_path(row)
    video_dir = _video_dir(row)
    annotations = load_dream1k_annotations(annotations_path)
    videos = index_videos(video_dir)
    docs = []
    for clip_id, annotation in annotations.items():
        video_id = _video_id(clip_id, annotation.get("video_file"))
        docs.append(
            {
                "clip_id": clip_id,
                "video_id": video_id,
                "source": annotation["source"],
                "video": str(videos[video_id]) if video_id in videos else "",
                "video_dir": str(video_dir),
                "reference": annotation["reference"],
                "annotations": str(annotations_path),
            }
        )
    absent = [doc["clip_id"] for doc in docs if not doc["video"]]
    if absent:
        logger.warning(
            "dream1k: %d of %d clips have no video in %s (first: %s); evaluating one of them will fail",
            len(absent),
            len(docs),
            video_dir,
            ", ".join(absent[:5]),
        )
    logger.info("dream1k: %d clips, annotations %s, videos %s", len(docs), annotations_path, video_dir)
    return docs


def index_videos(video_dir: Path) -> dict[str, Path]:
    """Video files under ``video_dir`` by name without extension (macOS ``._*`` / ``__MACOSX`` entries skipped)."""
    if not video_dir.is_dir():
        raise DataSourceError(f"DREAM-1K video folder not found: {video_dir}")
    videos: dict[str, Path] = {}
    for path in sorted(video_dir.rglob("*")):
        if path.suffix.lower() not in CLIP_EXTENSIONS or path.name.startswith("._") or "__MACOSX" in path.parts:
            continue
        if path.stem in videos:
            raise DataSourceError(f"two videos for clip {path.stem!r} in {video_dir}: {videos[path.stem]} and {path}")
        videos[path.stem] = path
    return videos


def _video_id(clip_id: str, video_file) -> str:
    if isinstance(video_file, str) and video_file.strip() and "<placeholder>" not in video_file:
        return Path(video_file.strip()).stem
    return clip_id


def _annotations_path(row: dict) -> Path:
    local = os.environ.get(ANNOTATIONS_ENV) or row["annotations"]
    if local:
        path = Path(local).expanduser()
        if not path.is_file():
            raise DataSourceError(f"DREAM-1K annotation file not found: {path}")
        return path
    return Path(_hub_file(row, row["hub_annotations"]))


def _video_dir(row: dict) -> Path:
    local = os.environ.get(VIDEO_DIR_ENV) or row["video_dir"]
    if local:
        return Path(local).expanduser()
    archive = Path(_hub_file(row, row["hub_videos"]))
    return extract_once(archive, _extraction_dir(archive))


def _extraction_dir(archive: Path) -> Path:
    from huggingface_hub import constants

    parts = archive.parts
    commit = parts[parts.index("snapshots") + 1] if "snapshots" in parts else "local"
    return Path(constants.HF_HOME) / "tarsier_hf" / "dream1k" / commit / archive.stem


def extract_once(archive: Path, target: Path) -> Path:
    """``archive`` extracted into ``target``, unless a previous run (or another process) already did it."""
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / _EXTRACTED_MARKER).is_file():
            return target
        partial = target.with_name(target.name + f".partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        logger.warning("dream1k: extracting %s into %s (once)", archive, target)
        try:
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(partial)
        except zipfile.BadZipFile as error:
            shutil.rmtree(partial, ignore_errors=True)
            raise DataSourceError(
                f"{archive} is not a valid zip archive ({error}); delete it to download it again"
            ) from None
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        (target / _EXTRACTED_MARKER).write_text(str(archive) + "\n", encoding="utf-8")
    return target


def _hub_file(row: dict, filename: str) -> str:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    repo, revision = row["hub_repo"], row["hub_revision"] or None
    offline_hint = (
        f"or, offline, set {ANNOTATIONS_ENV} to a local DREAM-1k.jsonl and {VIDEO_DIR_ENV} to its video folder"
    )
    try:
        return hf_hub_download(repo, filename, repo_type="dataset", revision=revision)
    except GatedRepoError:
        raise DataSourceError(
            f"{repo} is gated: accept its conditions on https://huggingface.co/datasets/{repo} and log in "
            f"(`hf auth login` or $HF_TOKEN), {offline_hint}"
        ) from None
    except RepositoryNotFoundError:
        raise DataSourceError(
            f"dataset {repo} not found or not accessible with the current token, {offline_hint}"
        ) from None
    except LocalEntryNotFoundError:
        raise DataSourceError(
            f"{filename} of {repo} is not in the Hugging Face cache and the Hub cannot be reached; {offline_hint}"
        ) from None
