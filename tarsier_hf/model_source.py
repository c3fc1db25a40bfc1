"""Where a checkpoint comes from, checked in seconds before anything heavy is imported or loaded.

:func:`check_model_source` takes what the user typed (``--model``) and returns what ``from_pretrained`` should get:

- an existing local folder: itself (it must hold a ``config.json``);
- a Hub model id (``owner/name``): the id when the Hub answers a metadata request within ``HF_HUB_ETAG_TIMEOUT``
  seconds (10 by default), else the locally cached snapshot folder (so an unreachable Hub costs one short request,
  not minutes of download retries); with ``HF_HUB_OFFLINE=1`` the cache only, without any request;
- anything else that looks like a path: :class:`ModelSourceError` "folder not found".

Every failure is a :class:`ModelSourceError` whose message is one line naming the model and what to do.
Imports only ``huggingface_hub`` (no torch, no transformers).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["ModelSourceError", "check_model_source", "looks_like_repo_id"]

# A Hub id: "name" or "owner/name", letters, digits, "-", "_", "." (no leading "." or "-", no "..").
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")


class ModelSourceError(ValueError):
    """The model cannot be found or reached; the message says which model and why."""


def looks_like_repo_id(name: str) -> bool:
    return bool(_REPO_ID.match(name)) and ".." not in name and not name.endswith((".", "-"))


def check_model_source(model: str, revision: str | None = None) -> str:
    """``model`` as a local folder, a reachable Hub id, or the cached snapshot folder of an unreachable one.

    Raises:
        ModelSourceError: a path that does not exist, a folder without ``config.json``, a file, a repo that the Hub
            says does not exist, or a Hub that cannot be reached (offline mode or network failure) for a model that
            is not in the local cache.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelSourceError(f"{model}: the folder has no config.json, so it is not a model checkpoint")
        return str(path)
    if path.exists():
        raise ModelSourceError(f"{model}: is a file; give a checkpoint folder or a Hub model id (owner/name)")
    if not looks_like_repo_id(model):
        raise ModelSourceError(f"{model}: folder not found")

    from huggingface_hub import constants

    cached = _cached_snapshot(model, revision)
    if constants.HF_HUB_OFFLINE:
        if cached:
            return cached
        raise ModelSourceError(
            f"{model}: not in the local Hugging Face cache ({constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE is set; "
            "download it once with network access, or pass a local folder"
        )
    problem = _probe_hub(model, revision, timeout=float(constants.HF_HUB_ETAG_TIMEOUT))
    if problem is None:
        return model
    if problem.startswith("not found"):
        raise ModelSourceError(f"{model}: no local folder of that name, and {problem}")
    if cached:
        return cached
    raise ModelSourceError(
        f"{model}: cannot reach the Hugging Face Hub at {constants.ENDPOINT} ({problem}) and the model is not in "
        f"the local cache ({constants.HF_HUB_CACHE}); check the network or pass a local folder"
    )


def _cached_snapshot(model: str, revision: str | None) -> str | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = snapshot_download(model, revision=revision, local_files_only=True)
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    return folder if os.path.isfile(os.path.join(folder, "config.json")) else None


def _probe_hub(model: str, revision: str | None, timeout: float) -> str | None:
    """``None`` when the Hub knows the model; otherwise a short reason ("not found ..." when the Hub answered)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        HfApi().model_info(model, revision=revision, timeout=timeout)
    except GatedRepoError:
        return None  # exists; from_pretrained explains how to get access
    except RevisionNotFoundError:
        return f"not found: the Hub has no revision {revision!r} of this model"
    except RepositoryNotFoundError:
        return "not found on the Hugging Face Hub (or private: log in with `hf auth login`)"
    except HfHubHTTPError as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status is not None and status < 500:
            return None  # e.g. 401/403: the repo exists; from_pretrained reports the access problem
        return f"HTTP {status}" if status else _reason(error)
    except Exception as error:  # noqa: BLE001 - any transport failure (DNS, refused, timeout, proxy) means unreachable
        return _reason(error)
    return None


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text and text[0] else type(error).__name__
