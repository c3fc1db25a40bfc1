"""Makes lmms-eval index this package's task folder, so ``lmms-eval --tasks dream1k`` needs no ``--include_path``.

lmms-eval 0.7.x has no entry point for tasks: its ``TaskManager`` indexes only its own folder plus
``--include_path``, and ``LMMS_EVAL_PLUGINS`` adds folders after the index is built. It does load the
``lmms_eval.models`` entry points (see :mod:`lmms_tasks.models`) before it builds any ``TaskManager``, and that
entry point calls :func:`install`. ``install`` appends :data:`TASKS_DIR` to the folders ``TaskManager`` indexes,
after lmms-eval's own and any ``--include_path`` (so on a name clash theirs win), and only for the lmms-eval
versions whose ``TaskManager`` it has been checked against; anywhere else it leaves lmms-eval untouched and logs
how to pass the folder with ``--include_path``. ``TARSIER_HF_TASK_DISCOVERY=0`` turns it off.

``lmms_eval.tasks`` is patched right after it is imported rather than imported here: importing it from inside
lmms-eval's model registry would cost seconds for commands that never index tasks and can re-enter modules that
are still initialising.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import os
import sys
from pathlib import Path

from tarsier_hf._import_hooks import call_after_import

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
SUPPORTED_LMMS_EVAL = ((0, 7, 3), (0, 8, 0))  # [first checked version, first unchecked version)
OPT_OUT_ENV = "TARSIER_HF_TASK_DISCOVERY"

_MARK = "_tarsier_hf_tasks_dir"
_hook_installed = False
logger = logging.getLogger(__name__)


def install() -> bool:
    """Adds :data:`TASKS_DIR` to lmms-eval's task index. Returns whether it is (or will be, on import) added."""
    if os.environ.get(OPT_OUT_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    version = _lmms_eval_version()
    if version is None or not SUPPORTED_LMMS_EVAL[0] <= version < SUPPORTED_LMMS_EVAL[1]:
        logger.warning(
            "tarsier-hf: automatic task discovery is only enabled for lmms-eval >=0.7.3,<0.8 (found %s); "
            "pass --include_path %s to use the dream1k task.",
            importlib.metadata.version("lmms_eval") if version else "none",
            TASKS_DIR,
        )
        return False
    tasks_module = sys.modules.get("lmms_eval.tasks")
    if tasks_module is not None:
        return _patch(tasks_module.TaskManager)
    global _hook_installed
    if not _hook_installed:
        call_after_import("lmms_eval.tasks", lambda module: _patch(module.TaskManager))
        _hook_installed = True
    return True


def _lmms_eval_version() -> tuple[int, ...] | None:
    try:
        text = importlib.metadata.version("lmms_eval")
    except importlib.metadata.PackageNotFoundError:
        return None
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _patch(task_manager_cls) -> bool:
    original = task_manager_cls.initialize_tasks
    if getattr(original, _MARK, False):
        return True
    parameters = inspect.signature(original).parameters
    if "include_path" not in parameters or "include_defaults" not in parameters:
        logger.warning(
            "tarsier-hf: lmms-eval's TaskManager.initialize_tasks has an unexpected signature %s; "
            "pass --include_path %s to use the dream1k task.",
            inspect.signature(original),
            TASKS_DIR,
        )
        return False

    def initialize_tasks(self, include_path=None, include_defaults=True):
        if include_defaults:
            include_path = _with_tasks_dir(include_path)
        return original(self, include_path=include_path, include_defaults=include_defaults)

    initialize_tasks.__doc__ = original.__doc__
    setattr(initialize_tasks, _MARK, True)
    task_manager_cls.initialize_tasks = initialize_tasks
    return True


def _with_tasks_dir(include_path):
    paths = (
        []
        if include_path is None
        else [include_path]
        if isinstance(include_path, (str, os.PathLike))
        else list(include_path)
    )
    if any(_same_dir(path, TASKS_DIR) for path in paths):
        return include_path
    return [*map(str, paths), str(TASKS_DIR)]


def _same_dir(path, directory: Path) -> bool:
    try:
        return Path(path).resolve() == directory
    except (OSError, TypeError):
        return False
