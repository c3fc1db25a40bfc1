"""How a request the model could not answer travels from the model plugin to a task's scorer.

lmms-eval takes one string per request from a model and hands it to the task's ``process_results``; a model that
raises instead aborts the whole run and loses every answer already generated. When one request cannot be answered
(its video is missing, corrupt or unsupported, its prompt is too long), the ``tarsier`` plugin returns
:func:`mark` of the reason instead. Tasks recognise it with :func:`reason_of` and list the item as failed (excluded
from scores, counted, with the reason), as they do for a failed judge call. The marker is plain text, so it survives
the gathering of results across processes and shows in ``--log_samples`` rows.
"""

from __future__ import annotations

_PREFIX = "[tarsier-hf: no answer: "
_SUFFIX = "]"


def mark(reason: str) -> str:
    """The text the model plugin returns for a request it could not answer."""
    return f"{_PREFIX}{' '.join(str(reason).split())}{_SUFFIX}"


def reason_of(text: str | None) -> str | None:
    """The reason if ``text`` is a :func:`mark` (surrounding whitespace ignored), else ``None``."""
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    if stripped.startswith(_PREFIX) and stripped.endswith(_SUFFIX):
        return stripped[len(_PREFIX) : -len(_SUFFIX)]
    return None
