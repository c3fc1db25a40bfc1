"""Test judges for the LLM annotator, as ``other_reply`` of ``lmms_tasks.autodq.testing.LocalJudgeServer``.

- ``prefer_first``: always prefers Description 1, the worst position bias there is; asked in both orders, its
  combined label is "same" for every pair.
- ``prefer_containing(word)``: prefers the description that contains ``word`` (case-insensitive), "same" when both
  or neither do; it has no position bias, so its combined label follows the content.
"""

import json
from collections.abc import Callable

from .prompt import descriptions_in


def prefer_first(prompt: str) -> str:
    if descriptions_in(prompt) is None:
        return "I only compare two descriptions."
    return json.dumps({"better": "1", "reason": "the first one is better"})


def prefer_containing(word: str) -> Callable[[str], str]:
    def reply(prompt: str) -> str:
        texts = descriptions_in(prompt)
        if texts is None:
            return "I only compare two descriptions."
        has = [word.lower() in text.lower() for text in texts]
        better = "same" if has[0] == has[1] else ("1" if has[0] else "2")
        return "```json\n" + json.dumps({"better": better, "reason": f"mentions {word!r}"}) + "\n```"

    return reply
