"""Reading the judge's replies, with the released scorer's normalisation and a strict check of every reply.

Event extraction (released ``try_call_api_for_events`` + ``extract_events``): a reply that starts with a
```` ```json ```` or ```` ```python ```` fence has every ```` ```json ````/```` ```python ```` and ```` ``` ```` removed
and is stripped; the rest is read with ``ast.literal_eval`` (a *Python* literal: single quotes are fine, JSON's
``true``/``null`` are not) and must be a dict whose ``"events"`` is a list. The released scorer only checks that
the first item is a string; here every item must be a string (otherwise the event list could not be put into the
entailment prompt as the benchmark defines it).

Entailment (released ``try_call_api_for_eval`` + ``evaluate_one_sample``): the reply is stripped, every run of
whitespace becomes one space, code fences are removed, a missing leading ``{`` / trailing ``}`` is added,
``True``/``False`` become ``true``/``false``, adjacent objects get a comma, trailing commas before ``}``/``]`` are
removed, ``[Placeholder]`` becomes ``null`` and ``{Events:`` is dropped; then ``json.loads``. ``"events"`` must be
a list with exactly one item per asked event (one item when the event list was empty and the description itself
was asked, see ``scorer``), and each item's ``"relationship"``, stripped and lowercased, must be one of
``entailment``, ``neutral``, ``contradiction``. The released scorer did not check the list type or the items'
shape beyond the label; a reply it accepted is accepted here too.

A reply that fails these checks raises ``InvalidReply``; the judge then asks again (see ``judge``).
"""

import ast
import json
import re

LABELS = ("entailment", "neutral", "contradiction")

_TRAILING_COMMAS = (
    (",\n}", "\n}"),
    (", \n}", "\n}"),
    (", }", "}"),
    (",}", "}"),
    (",\n]", "\n]"),
    (", \n]", "\n]"),
    (", ]", "]"),
    (",]", "]"),
)


class InvalidReply(ValueError):
    """The judge's reply does not have the shape the prompt asks for."""


def _strip_code_fence(text: str) -> str:
    for fence in ("```json", "```python"):
        if text.startswith(fence):
            return text.replace(fence, "").replace("```", "").strip()
    return text


def parse_extraction_reply(reply: str) -> list[str]:
    """The events of an extraction reply."""
    text = _strip_code_fence(reply)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        raise InvalidReply(
            f"extraction reply is not a Python literal ({type(error).__name__}): {reply[:200]!r}"
        ) from None
    if not isinstance(value, dict) or "events" not in value:
        raise InvalidReply(f"extraction reply is not a dict with key 'events': {reply[:200]!r}")
    events = value["events"]
    if not isinstance(events, list):
        raise InvalidReply(f"extraction reply's 'events' is {type(events).__name__}, not a list: {reply[:200]!r}")
    if not all(isinstance(event, str) for event in events):
        raise InvalidReply(f"extraction reply's 'events' holds non-strings: {reply[:200]!r}")
    return events


def normalise_judgement_reply(reply: str) -> str:
    """The released scorer's clean-up of an entailment reply before ``json.loads``."""
    text = reply.strip()
    text = re.sub(r"\n+", "\n", text)
    text = re.sub(r"\s+", " ", text)
    text = _strip_code_fence(text)
    if not text.startswith("{"):
        text = "{" + text
    if not text.endswith("}"):
        text = text + "}"
    text = text.replace("True", "true").replace("False", "false")
    text = text.replace("} {", "}, {").replace("}{", "}, {")
    for old, new in _TRAILING_COMMAS:
        text = text.replace(old, new)
    text = text.replace("[Placeholder]", "null")
    return text.replace("{Events:", "").strip()


def parse_judgement_reply(reply: str, n_asked: int) -> list[dict]:
    """The judged events of an entailment reply about ``n_asked`` events, each with a normalised ``relationship``."""
    text = normalise_judgement_reply(reply)
    try:
        value = json.loads(text)
    except ValueError as error:
        raise InvalidReply(f"entailment reply is not JSON after normalisation ({error}): {reply[:200]!r}") from None
    if not isinstance(value, dict) or "events" not in value:
        raise InvalidReply(f"entailment reply is not an object with key 'events': {reply[:200]!r}")
    judged = value["events"]
    if not isinstance(judged, list):
        raise InvalidReply(f"entailment reply's 'events' is {type(judged).__name__}, not a list: {reply[:200]!r}")
    if len(judged) != n_asked:
        raise InvalidReply(f"entailment reply judges {len(judged)} events, {n_asked} were asked: {reply[:200]!r}")
    normalised = []
    for item in judged:
        relationship = item.get("relationship") if isinstance(item, dict) else None
        label = relationship.strip().lower() if isinstance(relationship, str) else None
        if label not in LABELS:
            raise InvalidReply(
                f"entailment reply has relationship {relationship!r}, not one of {LABELS}: {reply[:200]!r}"
            )
        normalised.append({**item, "relationship": label})
    return normalised
