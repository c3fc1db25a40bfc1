"""The protocol written next to every AutoDQ result: what produced the numbers, so that they can be compared.

DREAM-1K scores move by several points with the judge model, the number of frames, the sampling and the prompt,
so a result is only meaningful with these. The caller adds what the scorer cannot know (frames, sampling,
generation prompt, the described model) through ``protocol=``; the scorer adds the judge settings, the prompt
hashes and the package versions.
"""

import platform
from importlib import metadata

from .prompts import PROMPT_FILE_HASHES, PROMPT_HASH

RELEASED_SCORER = (
    "bytedance/tarsier evaluation/metrics/evaluate_dream_gpt.py @ 1b72e57d8dc250dca0fba3744b9c9f9eda61e746"
)
_PACKAGES = ("tarsier-hf", "openai", "numpy", "lmms-eval", "transformers", "torch")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def build_protocol(judge_settings: dict, caller_protocol: dict | None) -> dict:
    """The caller's entries (frames, sampling, prompt, ...) plus the scorer's own; the scorer's win on a clash."""
    return {
        **(caller_protocol or {}),
        "metric": "AutoDQ",
        "faithful_to": RELEASED_SCORER,
        **judge_settings,
        "prompt_hash": PROMPT_HASH,
        "prompt_files": dict(PROMPT_FILE_HASHES),
        "package_versions": package_versions(),
    }
