"""The paper's nine zero-shot benchmarks (Tarsier, arXiv 2407.00634, Table 5): names, data, prompts, frames.

Each :class:`Benchmark` says how the released evaluation (bytedance/tarsier, ``tasks/inference_benchmark.py`` and
``evaluation/evaluate.py``) selects its rows (the ``dataset`` field of an annotation / prediction line, up to the
first ``/``), which family scores it, which annotation file the released repository ships, how many frames the paper
used and the paper's Tarsier-7B numbers.

Prompts come verbatim from the annotation file (``text.prompt``), as in the released code. Each benchmark also
has a ``template`` (``string.Template`` with ``${question}``), equal to how every prompt of the released file is
built (tests check this against the real files). It is used for rows without ``text.prompt``, and for the
benchmarks whose annotation file the released repository does not ship (MVBench, TGIF-QA, VATEX, EgoSchema full
set): those take the template of the nearest benchmark with a released file (``template_from``), which is written
into every result's protocol.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from string import Template

RELEASED_REPO = "bytedance/tarsier"
RELEASED_COMMIT = "1b72e57d8dc250dca0fba3744b9c9f9eda61e746"

MC, OE_QA, CAPTION = "mc_qa", "oe_qa", "caption"
FAMILIES = (MC, OE_QA, CAPTION)

NEXTQA_TEMPLATE = "USER: <video> ${question}ASSISTANT: Answer: ("
EGOSCHEMA_TEMPLATE = (
    'USER: <video> The video is shot from a first-person perspective and the "c" refers to camera wearer.\n'
    "${question}\nASSISTANT: Answer: ("
)
MSVD_QA_TEMPLATE = (
    "USER: <video> The input consists of a sequence of key frames from a video. First, answer the question "
    "concisely. Then describe the video in detail, mainly focusing on significant events, characters, or objects "
    "that appear throughout the frames. Question: ${question}\nASSISTANT:\nAnswer: In the video,"
)
DETAILED_QA_TEMPLATE = (
    "<video> Based on the given video, generate a detailed answer for the following question: ${question}"
)
MSVD_CAPTION_TEMPLATE = (
    "<video> Describe the video in a short sentence with simple words. It is important that the short sentence "
    "must be like the following examples: \n1. A man is singing.\n2. A women is dancing.\n3. A cat is meowing."
)
MSRVTT_CAPTION_TEMPLATE = "<video> Describe the video in a short sentence with simple words."

# MVBench's 20 sub-tasks, as the ``dataset`` field ``MVBench/<name>`` names them; the released table labels each by
# the first letters of its first two words (``AS``, ``FA``, ...).
MVBENCH_SUBTASKS = (
    "Action Sequence",
    "Action Prediction",
    "Action Antonym",
    "Fine-grained Action",
    "Unexpected Action",
    "Object Existence",
    "Object Interaction",
    "Object Shuffle",
    "Moving Direction",
    "Action Localization",
    "Scene Transition",
    "Action Count",
    "Moving Count",
    "Moving Attribute",
    "State Change",
    "Fine-grained Pose",
    "Character Order",
    "Egocentric Navigation",
    "Episodic Reasoning",
    "Counterfactual Inference",
)


@dataclass(frozen=True)
class Benchmark:
    key: str  # our name; the lmms-eval task is ``tarsier_<key>``
    released_name: str  # the released ``--benchmarks`` name
    dataset: str  # the ``dataset`` field (before any ``/``) the released evaluation selects rows by
    family: str
    annotation_file: str  # file name in the released ``data/annotations/``
    released_file: bool  # whether the released repository ships that file
    template: str
    template_from: str  # the benchmark whose released file the template reproduces
    num_frames: int
    paper_7b: dict
    subtask: str | None = None  # MVBench sub-tasks: the full ``dataset`` field

    @property
    def task(self) -> str:
        return f"tarsier_{self.key}"

    @property
    def template_hash(self) -> str:
        return hashlib.sha256(self.template.encode("utf-8")).hexdigest()

    def render(self, question: str) -> str:
        """The prompt the released template builds for ``question`` (the annotation's ``text.question``)."""
        return Template(self.template).substitute(question=question)  # captions: no ${question}, the prompt as is

    def selects(self, dataset_field: str) -> bool:
        """Whether a row with this ``dataset`` field belongs to the benchmark (released ``read_dataset``)."""
        if self.subtask is not None:
            return dataset_field == self.subtask
        return dataset_field.split("/")[0] == self.dataset


def _b(key, released_name, dataset, family, file, released, template, template_from, frames, paper):
    return Benchmark(key, released_name, dataset, family, file, released, template, template_from, frames, paper)


BENCHMARKS: dict[str, Benchmark] = {
    b.key: b
    for b in (
        _b(
            "nextqa_mc",
            "next-qa",
            "Next-QA-val-multi_choice",
            MC,
            "Next-QA-val-multi_choice.jsonl",
            True,
            NEXTQA_TEMPLATE,
            "next-qa",
            8,
            {"accuracy": 71.6},
        ),
        _b(
            "egoschema",
            "egoschema",
            "EgoSchema",
            MC,
            "EgoSchema_subset.jsonl",
            True,
            EGOSCHEMA_TEMPLATE,
            "egoschema",
            16,
            {"accuracy": 56.0},
        ),
        _b(
            "egoschema_full",
            "egoschema",
            "EgoSchema",
            MC,
            "EgoSchema_fullset.jsonl",
            False,
            EGOSCHEMA_TEMPLATE,
            "egoschema (subset)",
            16,
            {"accuracy": 49.9},
        ),
        _b(
            "mvbench",
            "mvbench",
            "MVBench",
            MC,
            "MVBench.jsonl",
            False,
            NEXTQA_TEMPLATE,
            "next-qa",
            8,
            {"accuracy": 62.6},
        ),
        _b(
            "msvd_qa",
            "msvd-qa",
            "MSVD-QA-val",
            OE_QA,
            "MSVD-QA-val.jsonl",
            True,
            MSVD_QA_TEMPLATE,
            "msvd-qa",
            8,
            {"accuracy": 77.0, "score": 4.1},
        ),
        _b(
            "msrvtt_qa",
            "msr-vtt-qa",
            "MSR-VTT-QA-val",
            OE_QA,
            "MSR-VTT-QA-val.jsonl",
            True,
            DETAILED_QA_TEMPLATE,
            "msr-vtt-qa",
            8,
            {"accuracy": 62.0, "score": 3.5},
        ),
        _b(
            "activitynet_qa",
            "anet-qa",
            "ActivityNet-QA-test",
            OE_QA,
            "ActivityNet-QA-test.jsonl",
            True,
            DETAILED_QA_TEMPLATE,
            "anet-qa",
            8,
            {"accuracy": 59.5, "score": 3.6},
        ),
        _b(
            "tgif_qa",
            "tgif-qa",
            "TGIF-QA-test",
            OE_QA,
            "TGIF-QA-test.jsonl",
            False,
            MSVD_QA_TEMPLATE,
            "msvd-qa",
            8,
            {"accuracy": 79.2, "score": 4.2},
        ),
        _b(
            "msvd_caption",
            "msvd-caption",
            "MSVD-Caption-test",
            CAPTION,
            "MSVD-Caption-test.jsonl",
            True,
            MSVD_CAPTION_TEMPLATE,
            "msvd-caption",
            8,
            {"cider": 98.0},
        ),
        _b(
            "msrvtt_caption",
            "msr-vtt-caption",
            "MSR-VTT-Caption-test",
            CAPTION,
            "MSR-VTT-Caption-test.jsonl",
            True,
            MSRVTT_CAPTION_TEMPLATE,
            "msr-vtt-caption",
            8,
            {"cider": 24.1},
        ),
        _b(
            "vatex_caption",
            "vatex-caption",
            "VATEX-test",
            CAPTION,
            "VATEX-test.jsonl",
            False,
            MSVD_CAPTION_TEMPLATE,
            "msvd-caption",
            8,
            {"cider": 51.1},
        ),
    )
}


def mvbench_subtask(name: str) -> Benchmark:
    """The MVBench sub-task ``name`` (e.g. ``"Action Sequence"``) as a benchmark of its own."""
    if name not in MVBENCH_SUBTASKS:
        raise ValueError(f"unknown MVBench sub-task {name!r}; known: {', '.join(MVBENCH_SUBTASKS)}")
    parent = BENCHMARKS["mvbench"]
    key = "mvbench_" + name.lower().replace("-", "_").replace(" ", "_")
    return Benchmark(
        key,
        parent.released_name,
        parent.dataset,
        MC,
        parent.annotation_file,
        False,
        parent.template,
        parent.template_from,
        parent.num_frames,
        {},
        subtask=f"MVBench/{name}",
    )


def subtask_label(dataset_field: str) -> str:
    """The released MVBench table label: first letters of the first two words after ``/`` (``AS``)."""
    words = dataset_field.split("/")[-1].split(" ")
    return words[0][0] + words[1][0] if len(words) > 1 and words[0] and words[1] else dataset_field


# The EgoSchema full set shares the ``dataset`` field of the subset and its answers are not public: only by name.
_IN_GROUPS = [k for k in BENCHMARKS if k != "egoschema_full"]
GROUPS = {
    "all": tuple(_IN_GROUPS),
    MC: tuple(k for k in _IN_GROUPS if BENCHMARKS[k].family == MC),
    OE_QA: tuple(k for k in _IN_GROUPS if BENCHMARKS[k].family == OE_QA),
    CAPTION: tuple(k for k in _IN_GROUPS if BENCHMARKS[k].family == CAPTION),
}
_ALIASES = {b.released_name: b.key for b in BENCHMARKS.values() if b.key != "egoschema_full"}
_ALIASES.update({b.task: b.key for b in BENCHMARKS.values()})


def resolve(names: list[str]) -> list[str]:
    """Benchmark keys for ``names``: keys, task names, released names, families (``mc_qa``...), ``all``, ``dream``."""
    keys: list[str] = []
    for raw in names:
        for name in (part.strip().lower() for part in raw.split(",")):
            if not name:
                continue
            if name == "all":
                found = [*GROUPS["all"], "dream"]
            elif name in GROUPS:
                found = list(GROUPS[name])
            elif name in ("dream", "dream1k", "dream-1k"):
                found = ["dream"]
            elif name in BENCHMARKS:
                found = [name]
            elif name in _ALIASES:
                found = [_ALIASES[name]]
            else:
                known = ", ".join([*BENCHMARKS, "dream", *GROUPS])
                raise ValueError(f"unknown benchmark {name!r}; known: {known}")
            keys.extend(key for key in found if key not in keys)
    return keys
