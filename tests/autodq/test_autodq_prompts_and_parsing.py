"""The released prompts, shipped as data, and the released reply clean-up with strict validation."""

from importlib import resources

import pytest

from lmms_tasks.autodq.parsing import (
    InvalidReply,
    normalise_judgement_reply,
    parse_extraction_reply,
    parse_judgement_reply,
)
from lmms_tasks.autodq.prompts import PROMPT_FILE_HASHES, PROMPT_HASH, render_extraction, render_judgement

# Pinned: editing a prompt file changes the benchmark, and must be a deliberate change of these hashes.
EXPECTED_PROMPT_HASH = "0479a0b04f23ebc998dd31af239272bad03529fb9faaf908f5d92d46bfe6a7a9"


def test_prompt_hash_is_pinned():
    assert PROMPT_HASH == EXPECTED_PROMPT_HASH
    assert set(PROMPT_FILE_HASHES) == {"extract_events.txt", "judge_entailment.txt"}


def test_extraction_prompt_is_the_released_text_with_its_quirks():
    prompt = render_extraction("a man opens a door. he walks in.")
    assert prompt.startswith(
        "Bellow is a description of a video clip:\nVideo Description: a man opens a door. he walks in.\n\n"
    )
    # The released string concatenation puts the colon after the newline: kept as released.
    assert (
        "paragraph. Requirements\n:- An event must include an action, motion or movement (NOT STATIC INFORMATION)."
        in prompt
    )
    assert (
        "- Scene cuts and camera motions are NOT events.\n- Substitute pronouns by the nouns they refer to.\n\n"
        in prompt
    )
    assert prompt.endswith('For example, your response should look like this: {"events": [event1, event2, ...]}')


def test_judgement_prompt_puts_events_as_a_python_list():
    prompt = render_judgement("a man walks.", ["A man walks.", "the dog's tail wags"])
    assert prompt.startswith(
        "Given a video description and a list of events. For each event, classify the relationship"
    )
    assert (
        "\n\nVideo Description:\na man walks.\n\nEvents: ['A man walks.', \"the dog's tail wags\"]\nOutput a JSON formed as:\n{\n"
        in prompt
    )
    assert '"relationship": "put class name here",  "reason"' in prompt  # the released double space
    assert prompt.endswith("DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only output the JSON. Output:")


def test_placeholders_in_the_inputs_are_not_substituted():
    prompt = render_judgement("costs $5 and ${events}", ["${description}"])
    assert "Video Description:\ncosts $5 and ${events}\n\nEvents: ['${description}']\n" in prompt


def test_prompts_ship_with_source_and_license():
    folder = resources.files("lmms_tasks.autodq.prompts")
    source = folder.joinpath("SOURCE.md").read_text()
    assert "bytedance/tarsier" in source and "1b72e57d8dc250dca0fba3744b9c9f9eda61e746" in source and "Apache" in source
    assert "Apache License" in folder.joinpath("LICENSE.txt").read_text()


@pytest.mark.parametrize(
    "reply, events",
    [
        ('{"events": ["a man walks", "a dog barks"]}', ["a man walks", "a dog barks"]),
        ("{'events': ['a man walks']}", ["a man walks"]),  # a Python literal, as the prompt asks
        ('```json\n{"events": ["a man walks"]}\n```', ["a man walks"]),
        ("```python\n{'events': []}\n```", []),
        ('{"events": ["a", "b"], "note": "extra keys are ignored"}', ["a", "b"]),
    ],
)
def test_extraction_replies_accepted_as_released(reply, events):
    assert parse_extraction_reply(reply) == events


@pytest.mark.parametrize(
    "reply, problem",
    [
        ("Here are the events: a man walks", "not a Python literal"),
        (
            '{"events": ["a"], "complete": true}',
            "not a Python literal",
        ),  # JSON true is not Python: released re-asks too
        ('["a man walks"]', "not a dict with key 'events'"),
        ('{"events": "a man walks"}', "not a list"),
        ('{"events": ["a man walks", 3]}', "non-strings"),
        (' ```json\n{"events": []}\n```', "not a Python literal"),  # the fence check is on the raw reply, as released
    ],
)
def test_extraction_replies_rejected(reply, problem):
    with pytest.raises(InvalidReply, match=problem):
        parse_extraction_reply(reply)


def test_judgement_normalisation_reproduces_the_released_clean_up():
    reply = '```json\n{\n  "events": [\n    {"event": "a", "relationship": "Entailment"},\n  ]\n}\n```'
    assert normalise_judgement_reply(reply) == '{ "events": [ {"event": "a", "relationship": "Entailment"}] }'
    # missing outer braces, objects without commas, Python booleans, a placeholder
    reply = '"events": [{"event": "a", "relationship": "neutral", "ok": True} {"event": "b", "relationship": [Placeholder]}]'
    assert normalise_judgement_reply(reply) == (
        '{"events": [{"event": "a", "relationship": "neutral", "ok": true}, {"event": "b", "relationship": null}]}'
    )
    assert normalise_judgement_reply('{Events: {"events": []}') == '{"events": []}'


def test_judgement_labels_are_stripped_and_lowercased():
    reply = (
        '{"events": [{"event": "a", "relationship": " Entailment "}, {"event": "b", "relationship": "CONTRADICTION"}]}'
    )
    judged = parse_judgement_reply(reply, 2)
    assert [item["relationship"] for item in judged] == ["entailment", "contradiction"]
    assert [item["event"] for item in judged] == ["a", "b"]


@pytest.mark.parametrize(
    "reply, n_asked, problem",
    [
        ('{"events": [{"event": "a", "relationship": "entailment"}]}', 2, "judges 1 events, 2 were asked"),
        ('{"events": [{"event": "a", "relationship": "maybe"}]}', 1, "not one of"),
        ('{"events": [{"event": "a"}]}', 1, "not one of"),
        ('{"events": ["entailment"]}', 1, "not one of"),
        ('{"events": {"event": "a", "relationship": "entailment"}}', 1, "not a list"),
        ('{"verdicts": []}', 1, "key 'events'"),
        ("I think the first event is entailed", 1, "not JSON"),
    ],
)
def test_judgement_replies_rejected(reply, n_asked, problem):
    with pytest.raises(InvalidReply, match=problem):
        parse_judgement_reply(reply, n_asked)
