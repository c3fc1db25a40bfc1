"""The LLM annotator's prompt (``compare_prompt.txt``, package data) and its reply schema.

The prompt holds the study's annotation guide, the DREAM-1K reference description when the study has one (a text
judge cannot watch the video; the reference stands in for it), and the two descriptions as "Description 1" and
"Description 2". The reply must be a JSON object ``{"better": "1" | "2" | "same", "reason": "..."}``; a
```` ```json ```` fence around it and text before or after the object are tolerated, ``1`` / ``2`` as numbers and
any letter case are accepted. Anything else raises ``InvalidReply`` and the judge asks again.
"""

import hashlib
import json
import re
from importlib import resources
from string import Template

from lmms_tasks.autodq.parsing import InvalidReply

PROMPT_FILE = "compare_prompt.txt"
_text = resources.files(__package__).joinpath(PROMPT_FILE).read_text(encoding="utf-8")
COMPARE_TEMPLATE = _text.removesuffix("\n")
PROMPT_HASH = hashlib.sha256(f"{PROMPT_FILE}:{COMPARE_TEMPLATE}".encode()).hexdigest()
VERDICTS = {"1": "first", "2": "second", "same": "same"}

WITH_REFERENCE = (
    "Instead, a careful human-written reference description of the video is given below: take it as what "
    "actually happens in the video and judge correctness and completeness against it."
)
WITHOUT_REFERENCE = (
    "No reference description is available: judge from the two descriptions alone, by the guide's priorities."
)
_FIRST_MARK = "=== DESCRIPTION 1 ===\n"
_SECOND_MARK = "\n=== DESCRIPTION 2 ===\n"
_END_MARK = "\n=== END ===\n"


def render_compare(guide: str, first: str, second: str, reference: str | None) -> str:
    """The prompt for one ordered pair (``first`` shown as Description 1)."""
    return Template(COMPARE_TEMPLATE).substitute(
        guide=guide.strip(),
        reference_note=WITH_REFERENCE if reference else WITHOUT_REFERENCE,
        reference=reference.strip() if reference else "(none)",
        first=first.strip(),
        second=second.strip(),
    )


def descriptions_in(prompt: str) -> tuple[str, str] | None:
    """``(first, second)`` read back from a rendered compare prompt, or ``None`` when it is not one (test judges)."""
    if _FIRST_MARK not in prompt or _END_MARK not in prompt:
        return None
    body = prompt.split(_FIRST_MARK, 1)[1].rsplit(_END_MARK, 1)[0]
    first, separator, second = body.partition(_SECOND_MARK)
    return (first, second) if separator else None


def parse_compare_reply(reply: str) -> dict:
    """``{"verdict": "first" | "second" | "same", "reason": str}``; raises ``InvalidReply``."""
    match = re.search(r"\{.*\}", reply, flags=re.DOTALL)
    if match is None:
        raise InvalidReply(f"no JSON object in the reply: {reply[:200]!r}")
    try:
        data = json.loads(match.group(0))
    except ValueError as error:
        raise InvalidReply(f"the reply's JSON object cannot be read ({error}): {reply[:200]!r}") from None
    if not isinstance(data, dict) or "better" not in data:
        raise InvalidReply(f"the reply has no 'better' field: {reply[:200]!r}")
    better = str(data["better"]).strip().lower()
    if better not in VERDICTS:
        raise InvalidReply(f'\'better\' must be "1", "2" or "same", got {data["better"]!r}')
    reason = data.get("reason")
    return {"verdict": VERDICTS[better], "reason": reason if isinstance(reason, str) else ""}
