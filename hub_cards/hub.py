"""Pushing models, evaluation results and datasets to the Hub through ``huggingface_hub``.

Every function checks its input and builds its card locally first, then talks to the Hub at ``HF_ENDPOINT``
(default https://huggingface.co) with the user's login or ``HF_TOKEN`` (``huggingface_hub`` picks them up; this
module never reads, prints or writes a token). With ``dry_run=True`` nothing is sent: the returned
:class:`PushPlan` lists what would be uploaded. Hub failures become :class:`HubError` with the step that failed,
the HTTP status and what to do, and an exit status for the command line (3: authentication or permission, 4: any
other Hub or network failure).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, ModelCard, constants
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    HFValidationError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from .eval_index import eval_results_yaml, to_eval_result_entries
from .model_card import build_model_card, check_model_card, update_model_card
from .results import read_all

EXIT_AUTH = 3
EXIT_HUB = 4
RESULTS_FOLDER = "evaluation"
EVAL_RESULTS_FOLDER = ".eval_results"


class HubError(RuntimeError):
    """A Hub request failed; ``exit_code`` is 3 for 401/403, else 4."""

    def __init__(self, message: str, exit_code: int = EXIT_HUB):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class PushPlan:
    """What a push uploads (``files``: path in the repo → size in bytes) and, after the push, where it went."""

    repo_id: str
    repo_type: str
    files: dict[str, int] = field(default_factory=dict)
    commit_url: str | None = None
    pr_url: str | None = None
    dry_run: bool = False

    def describe(self) -> str:
        kind = "dataset " if self.repo_type == "dataset" else ""
        head = f"{'would upload' if self.dry_run else 'uploaded'} {len(self.files)} files to {kind}{self.repo_id}"
        lines = [f"{head} ({constants.ENDPOINT})"]
        lines += [f"  {path}  ({size:,} bytes)" for path, size in sorted(self.files.items())]
        if self.commit_url:
            lines.append(f"commit: {self.commit_url}")
        if self.pr_url:
            lines.append(f"pull request: {self.pr_url}")
        return "\n".join(lines)


@contextlib.contextmanager
def hub_step(step: str, repo_id: str):
    """Turn ``huggingface_hub`` errors raised during ``step`` into :class:`HubError`, with a message to act on."""
    try:
        yield
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        server = (error.server_message or "").strip().splitlines()
        detail = f" (server said: {server[0]})" if server else ""
        if status == 401:
            raise HubError(
                f"{step} failed: the Hub at {constants.ENDPOINT} rejected the credentials (401){detail}. "
                "Log in with `hf auth login` or set HF_TOKEN to a valid token.",
                EXIT_AUTH,
            ) from None
        if status == 403:
            raise HubError(
                f"{step} failed: permission denied for {repo_id} (403){detail}. Use a token with write access to "
                "this namespace (a fine-grained token needs 'write' on the repo).",
                EXIT_AUTH,
            ) from None
        if isinstance(error, RepositoryNotFoundError) or status == 404:
            raise HubError(
                f"{step} failed: {repo_id} not found on {constants.ENDPOINT} (404){detail}, or not visible "
                "with these credentials."
            ) from None
        if status is not None and status >= 500:
            raise HubError(
                f"{step} failed: the Hub at {constants.ENDPOINT} had a server error ({status}){detail}. "
                "Nothing was committed by this step; try again later."
            ) from None
        raise HubError(f"{step} failed: HTTP {status}{detail}.") from None
    except (ConnectionError, OSError) as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        if isinstance(error, OfflineModeIsEnabled):
            raise HubError(f"{step} failed: HF_HUB_OFFLINE is set; unset it to talk to the Hub.") from None
        raise HubError(
            f"{step} failed: cannot reach the Hub at {constants.ENDPOINT} ({type(error).__name__})."
        ) from None
    except Exception as error:  # httpx transport errors do not derive from OSError
        if type(error).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore"):
            raise HubError(
                f"{step} failed: cannot reach the Hub at {constants.ENDPOINT} ({type(error).__name__})."
            ) from None
        raise


def check_repo_id(repo_id) -> str:
    """``repo_id`` when it is a Hub repository id in the ``owner/name`` form that ``huggingface_hub`` accepts
    (:func:`huggingface_hub.utils.validate_repo_id`: ASCII letters, digits, ``-``, ``_``, ``.``; no ``--`` or
    ``..``; not ending in ``.git``; at most 96 characters a part). Every push calls it first, before reading files
    or talking to the Hub (dry runs included). Raises ``ValueError`` naming the id and the rule it breaks."""
    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise ValueError(
            f"invalid repo id {repo_id!r}: expected 'owner/name' (your user or organization name, a slash, the "
            "repository name), e.g. 'your-name/Tarsier-7b-mine'"
        )
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(f"invalid repo id {repo_id!r}: {error}") from None
    return repo_id


def _folder_files(folder: Path) -> dict[str, int]:
    return {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not any(part in (".git", ".cache") for part in path.relative_to(folder).parts)
    }


def _validate_card(card, repo_type: str, repo_id: str) -> None:
    """The Hub's YAML validation of the card (``POST /api/validate-yaml``), before anything is uploaded."""
    with hub_step("validating the card", repo_id):
        card.validate(repo_type=repo_type)


# ------------------------------------------------------------------------------------------------------- model


def push_model(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    dry_run: bool = False,
    commit_message: str | None = None,
) -> PushPlan:
    """Upload a checkpoint folder: its ``README.md`` (written now from the checkpoint when missing; an existing one
    is kept and checked), weights, configs and processor files. Creates the repo (``private``) and the branch
    ``revision`` when needed; ``create_pr`` opens a pull request instead of committing to the branch."""
    check_repo_id(repo_id)
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ValueError(
            f"{folder}: no config.json; pass a checkpoint folder (tarsier-convert output or a training run)"
        )
    if not any(folder.glob("*.safetensors")):
        raise ValueError(f"{folder}: no *.safetensors weights to upload")
    if create_pr and revision not in (None, "main"):
        raise ValueError("--create-pr opens a pull request against main; do not combine it with --revision")
    readme = folder / "README.md"
    card = ModelCard.load(readme) if readme.is_file() else build_model_card(folder, repo_id=repo_id)
    check_model_card(card)
    plan = PushPlan(repo_id, "model", dry_run=dry_run)
    if dry_run:
        plan.files = {**_folder_files(folder), "README.md": len(str(card).encode())}
        return plan
    _validate_card(card, "model", repo_id)
    if not readme.is_file():
        card.save(readme)
    plan.files = _folder_files(folder)
    api = HfApi()
    with hub_step("creating the repository", repo_id):
        api.create_repo(repo_id, private=private, exist_ok=True)
    if revision and revision != "main":
        with hub_step(f"creating branch {revision}", repo_id):
            api.create_branch(repo_id, branch=revision, exist_ok=True)
    with hub_step("uploading the checkpoint", repo_id):
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            revision=revision,
            create_pr=create_pr,
            commit_message=commit_message or "Upload Tarsier checkpoint with tarsier-hub",
        )
    plan.commit_url, plan.pr_url = info.commit_url, info.pr_url
    return plan


# ----------------------------------------------------------------------------------------------------- results


def _hub_card(api: HfApi, repo_id: str, revision: str | None) -> ModelCard | None:
    with hub_step("reading the model card", repo_id):
        try:
            path = api.hf_hub_download(repo_id, "README.md", revision=revision)
        except EntryNotFoundError:
            return None
    return ModelCard.load(path)


def push_results(
    results: list[str | Path],
    repo_id: str,
    *,
    revision: str | None = None,
    create_pr: bool = False,
    dry_run: bool = False,
    eval_results_files: bool = True,
) -> PushPlan:
    """Merge the results files into the model card of ``repo_id`` and commit, in one commit: the updated
    ``README.md`` (``model-index`` and evaluation section; every other entry and all prose kept), the results
    files under ``evaluation/`` (the card's results link to them) and ``.eval_results/<task>.yaml`` (for the tasks
    whose dataset is on the Hub)."""
    check_repo_id(repo_id)
    tasks = read_all(results)
    names = [Path(path).name for path in results]
    if len(set(names)) != len(names):
        raise ValueError(f"results files must have distinct names (they are stored under {RESULTS_FOLDER}/): {names}")
    branch = revision or "main"
    source_url = f"{constants.ENDPOINT}/{repo_id}/blob/{branch}/{RESULTS_FOLDER}/{names[0]}"
    api = HfApi()
    existing = None if dry_run else _hub_card(api, repo_id, revision)
    if existing is None:
        existing = ModelCard(
            f"---\nlibrary_name: transformers\npipeline_tag: video-text-to-text\n---\n\n# {repo_id.split('/')[-1]}\n"
        )
    card = update_model_card(existing, tasks, source_url=source_url, model_name=repo_id.split("/")[-1])
    check_model_card(card)
    contents = {"README.md": str(card).encode("utf-8")}
    for path, name in zip(results, names):
        contents[f"{RESULTS_FOLDER}/{name}"] = Path(path).read_bytes()
    if eval_results_files:
        for name, entries in to_eval_result_entries(tasks, source_url=source_url).items():
            contents[f"{EVAL_RESULTS_FOLDER}/{name}"] = eval_results_yaml(entries).encode("utf-8")
    plan = PushPlan(repo_id, "model", files={path: len(data) for path, data in contents.items()}, dry_run=dry_run)
    if dry_run:
        return plan
    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=data) for path, data in contents.items()]
    task_names = ", ".join(dict.fromkeys(task.task for task in tasks))
    with hub_step("committing the results", repo_id):
        info = api.create_commit(
            repo_id,
            operations,
            commit_message=f"Add evaluation results ({task_names})",
            revision=revision,
            create_pr=create_pr,
        )
    plan.commit_url, plan.pr_url = info.commit_url, info.pr_url
    return plan


# ----------------------------------------------------------------------------------------------------- dataset


def push_dataset(
    folder: str | Path,
    repo_id: str,
    *,
    annotations: str | Path | None = None,
    data_format: str | None = None,
    split: str | None = None,
    private: bool = False,
    license: str = "unknown",
    source: str | None = None,
    gated: bool = False,
    output_dir: str | Path | None = None,
    dry_run: bool = False,
    progress: bool = True,
) -> PushPlan:
    """Validate and package a video folder (:func:`hub_cards.dataset.package_dataset`; bad rows stop everything
    before any upload), then create the dataset repo and upload the package. ``output_dir`` keeps the package
    (default: a temporary folder); ``gated`` asks users to accept conditions (card prompt + repo setting)."""
    from .dataset import package_dataset

    check_repo_id(repo_id)
    with contextlib.ExitStack() as stack:
        target = Path(output_dir) if output_dir else Path(stack.enter_context(tempfile.TemporaryDirectory())) / "pkg"
        card_options = {"repo_id": repo_id, "license": license, "source": source, "gated": gated}
        package = package_dataset(
            folder,
            target,
            annotations=annotations,
            data_format=data_format,
            split=split,
            card_options=card_options,
            progress=progress,
        )
        plan = PushPlan(repo_id, "dataset", files=_folder_files(package.folder), dry_run=dry_run)
        if dry_run:
            return plan
        from huggingface_hub import DatasetCard

        _validate_card(DatasetCard.load(package.folder / "README.md"), "dataset", repo_id)
        api = HfApi()
        with hub_step("creating the dataset repository", repo_id):
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        with hub_step("uploading the dataset", repo_id):
            info = api.upload_folder(
                repo_id=repo_id,
                folder_path=package.folder,
                repo_type="dataset",
                commit_message=f"Upload {package.n_rows} {package.format} rows ({package.split}) with tarsier-hub",
            )
        if gated:
            with hub_step("gating the dataset", repo_id):
                api.update_repo_settings(repo_id, gated="auto", repo_type="dataset")
        plan.commit_url = info.commit_url
        return plan


def dumps_plan(plan: PushPlan) -> str:
    """The plan as JSON (for ``--json``)."""
    return json.dumps(
        {
            "repo_id": plan.repo_id,
            "repo_type": plan.repo_type,
            "dry_run": plan.dry_run,
            "files": plan.files,
            "commit_url": plan.commit_url,
            "pr_url": plan.pr_url,
        }
    )
