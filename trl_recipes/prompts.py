# Copyright 2026 the tarsier-hf authors. Licensed under the Apache License, Version 2.0.
"""Built-in prompt pools for turning plain captioning / classification / QA rows into conversations.

Tarsier's stage 1 (paper section 3.2) gives every source dataset a pool of instructions and draws one per sample.
The training code and the full pools were never released; the paper quotes "Describe the video in one sentence."
(short captions) and "Give a short answer to the following question." (QA). Those quoted prompts are here verbatim;
the other entries are ours, written in the same style. A mixture YAML may name one of these pools or list its own.
"""

__all__ = ["PROMPT_POOLS", "resolve_prompt_pool"]

PROMPT_POOLS: dict[str, tuple[str, ...]] = {
    "short_caption": (
        "Describe the video in one sentence.",  # quoted in the paper
        "Summarize the video in a single sentence.",
        "What happens in the video? Answer in one sentence.",
        "Give a brief one-sentence description of the video.",
    ),
    "detailed_caption": (
        "Describe the video in detail.",  # the prompt of Tarsier's released inference and DREAM-1K evaluation
        "Give a detailed description of what happens in the video.",
        "Describe the events of the video in order, in detail.",
        "Narrate the video step by step, including every action you see.",
    ),
    "image_caption": (
        "Describe the image in one sentence.",
        "Write a short caption for the image.",
        "What does the image show? Answer briefly.",
    ),
    "action_label": (
        "What action is being performed in the video? Answer with a short phrase.",
        "Name the action shown in the video.",
        "Which activity does the video show? Answer with a short phrase.",
    ),
    "short_answer": ("Give a short answer to the following question.",),  # quoted in the paper; QA prefix
}


def resolve_prompt_pool(pool, dataset: str) -> tuple[str, ...]:
    """A pool given as a built-in name or as a non-empty list of strings → a tuple of prompts.

    Raises ``ValueError`` naming ``dataset`` for an unknown name, an empty list or a non-string entry."""
    if isinstance(pool, str):
        if pool not in PROMPT_POOLS:
            raise ValueError(
                f"dataset {dataset!r}: unknown prompt pool {pool!r}; built-in pools are {sorted(PROMPT_POOLS)}, "
                "or give a list of prompts"
            )
        return PROMPT_POOLS[pool]
    if isinstance(pool, (list, tuple)) and pool and all(isinstance(p, str) and p.strip() for p in pool):
        return tuple(pool)
    raise ValueError(f"dataset {dataset!r}: prompts must be a built-in pool name or a non-empty list of strings")
