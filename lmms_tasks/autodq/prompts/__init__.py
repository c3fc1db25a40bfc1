"""The AutoDQ judge prompts, shipped as data files (see ``SOURCE.md`` for their origin and license).

``render_extraction`` and ``render_judgement`` fill the templates exactly as the released scorer's f-strings do:
the caption / description is inserted as given (callers lowercase it first) and the event list is inserted as
Python's ``str(list)`` (``['a man walks.', "the dog's tail wags."]``).
"""

import hashlib
from importlib import resources
from string import Template

EXTRACTION_TEMPLATE_FILE = "extract_events.txt"
JUDGEMENT_TEMPLATE_FILE = "judge_entailment.txt"


def _load(name: str) -> str:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    # The trailing newline is a file convention, not part of the prompt.
    return text[:-1] if text.endswith("\n") else text


EXTRACTION_TEMPLATE = _load(EXTRACTION_TEMPLATE_FILE)
JUDGEMENT_TEMPLATE = _load(JUDGEMENT_TEMPLATE_FILE)

PROMPT_FILE_HASHES = {
    name: hashlib.sha256(template.encode("utf-8")).hexdigest()
    for name, template in (
        (EXTRACTION_TEMPLATE_FILE, EXTRACTION_TEMPLATE),
        (JUDGEMENT_TEMPLATE_FILE, JUDGEMENT_TEMPLATE),
    )
}
PROMPT_HASH = hashlib.sha256(
    "".join(f"{name}:{digest}\n" for name, digest in sorted(PROMPT_FILE_HASHES.items())).encode()
).hexdigest()


def render_extraction(caption: str) -> str:
    """The event-extraction prompt for one (already normalised) description."""
    return Template(EXTRACTION_TEMPLATE).substitute(caption=caption)


def render_judgement(description: str, events: list[str]) -> str:
    """The entailment prompt: does ``description`` entail each of ``events``?"""
    return Template(JUDGEMENT_TEMPLATE).substitute(description=description, events=str(list(events)))
