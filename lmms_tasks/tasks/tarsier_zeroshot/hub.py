"""Documents of the ``tarsier_*_hub`` tasks: lmms-eval's Hub datasets, with Tarsier's prompt templates.

Five benchmarks have a Hub dataset with videos that lmms-eval users already download for lmms-eval's own tasks.
The hub tasks read the same dataset, config and split, and look for the videos in the same folder under
``$HF_HOME`` (default ``~/.cache/huggingface``), so a video set downloaded once serves both (sources: the task YAMLs
of lmms-eval 0.7.3):

============================  ==========================  ====================  ===========  ===========================
task                          dataset (config)            lmms-eval task        split        videos under ``$HF_HOME``
============================  ==========================  ====================  ===========  ===========================
``tarsier_nextqa_mc_hub``     lmms-eval/NExTQA (MC)       nextqa_mc_test        test         nextqa/NExTVideo/
``tarsier_egoschema_hub``     lmms-eval/egoschema         egoschema_subset      test (500)   egoschema/videos/
                              (Subset)
``tarsier_mvbench_<sub>_hub`` OpenGVLab/MVBench (<sub>,   mvbench_<sub>         train        mvbench_video/<folder>/
                              revision ``video``)
``tarsier_activitynet_qa_hub`` lmms-eval/ActivityNetQA    activitynetqa         test         activitynetqa/all_test/
``tarsier_vatex_caption_hub`` lmms-eval/VATEX             vatex_test            test         vatex_test/
                              (vatex_test)
============================  ==========================  ====================  ===========  ===========================

Each Hub row becomes the record a released annotation line would hold: ``text.question`` built as the released
files build it (NExT-QA: ``question\\n(A) a0\\n...(E) a4\\n``; EgoSchema: ``Question: ...\\nOptions: \\n(A) ...
\\nAnswer with the option's letter from the given choices directly.``; MVBench like NExT-QA over its candidates;
ActivityNet-QA: the question as is), the reference (option letter, answer, or the English captions), then the
benchmark's template renders the prompt (``data.make_doc``), and the family's scorer scores it: the numbers are the
released protocol's, on the Hub's split. Differences to know: NExT-QA's Hub config is the *test* split (the paper
and the local task use val); MVBench's Hub videos are the clips already cut to MVBench's time bounds (its
``*_segment`` folders), so no time window is applied; EgoSchema's full set has no public answers on the Hub
(use the local task with your own annotation file).

A row that cannot be converted (a reference answer that is not one of the options, a missing field) is skipped with
a warning naming it; the run goes on with the others.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lmms_tasks.tasks.tarsier_zeroshot.data import DataSourceError, benchmark_named, make_doc, warn_absent_videos
from lmms_tasks.zeroshot.benchmarks import MVBENCH_SUBTASKS, mvbench_subtask

logger = logging.getLogger(__name__)

LETTERS = "ABCDEFGHIJ"
_VIDEO_SUFFIXES = (".mp4", ".MP4", ".webm", ".mkv", ".avi", ".mov")
_OPTION_LABEL = re.compile(r"^\s*\(?[A-J][.):]\s*")
EGOSCHEMA_INSTRUCTION = "Answer with the option's letter from the given choices directly."


class RowError(ValueError):
    """A Hub row that cannot be turned into a Tarsier document."""


def hf_home() -> Path:
    """``$HF_HOME`` as lmms-eval resolves it for its video folders (default ``~/.cache/huggingface``)."""
    return Path(os.path.expanduser(os.path.expandvars(os.environ.get("HF_HOME", "~/.cache/huggingface"))))


def _field(row: dict, name: str):
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowError(f"no {name!r}")
    return value


def _letter_options(options: list[str]) -> str:
    return "".join(f"({LETTERS[i]}) {str(option).strip()}\n" for i, option in enumerate(options))


def _answer_letter(answer, n_options: int) -> str:
    try:
        index = int(answer)
    except (TypeError, ValueError):
        raise RowError(f"answer {answer!r} is not an option index") from None
    if not 0 <= index < n_options:
        raise RowError(f"answer index {index} is outside the {n_options} options")
    return LETTERS[index]


def nextqa_mc_record(row: dict) -> dict:
    """lmms-eval/NExTQA ``MC``: ``video``, ``question``, ``a0``..``a4``, ``answer`` (option index)."""
    options = [_field(row, f"a{i}") for i in range(5)]
    question = f"{str(_field(row, 'question')).strip()}\n{_letter_options(options)}"
    return {"vid": str(_field(row, "video")), "question": question, "response": _answer_letter(row.get("answer"), 5)}


def egoschema_record(row: dict) -> dict:
    """lmms-eval/egoschema ``Subset``: ``video_idx``, ``question``, ``option`` (five ``"A. ..."`` strings), ``answer``
    (option index, as a string)."""
    options = _field(row, "option")
    if not isinstance(options, (list, tuple)) or len(options) != 5:
        raise RowError(f"'option' must hold 5 options, got {options!r}")
    options = [_OPTION_LABEL.sub("", str(option), count=1) for option in options]
    question = f"Question: {str(_field(row, 'question')).strip()}\nOptions: \n{_letter_options(options)}"
    return {
        "vid": str(_field(row, "video_idx")),
        "question": question + EGOSCHEMA_INSTRUCTION,
        "response": _answer_letter(row.get("answer"), 5),
    }


def mvbench_record(row: dict) -> dict:
    """OpenGVLab/MVBench: ``video`` (file name), ``question``, ``candidates``, ``answer`` (the correct candidate)."""
    candidates = _field(row, "candidates")
    if not isinstance(candidates, (list, tuple)) or not 2 <= len(candidates) <= len(LETTERS):
        raise RowError(f"'candidates' must list 2 to {len(LETTERS)} options, got {candidates!r}")
    answer = _field(row, "answer")
    if answer not in candidates:
        raise RowError(f"answer {answer!r} is not one of the candidates {list(candidates)}")
    question = f"{str(_field(row, 'question')).strip()}\n{_letter_options(candidates)}"
    return {"vid": str(_field(row, "video")), "question": question, "response": LETTERS[list(candidates).index(answer)]}


def activitynet_qa_record(row: dict) -> dict:
    """lmms-eval/ActivityNetQA: ``video_name`` (without the ``v_`` of the released ``vid``), ``question``, ``answer``."""
    return {
        "vid": f"v_{_field(row, 'video_name')}",
        "question": str(_field(row, "question")),
        "response": str(_field(row, "answer")),
    }


def vatex_caption_record(row: dict) -> dict:
    """lmms-eval/VATEX ``vatex_test``: ``videoID``, ``enCap`` (the English reference captions)."""
    captions = _field(row, "enCap")
    if not isinstance(captions, (list, tuple)) or not all(isinstance(c, str) for c in captions):
        raise RowError(f"'enCap' must be a list of captions, got {captions!r}")
    return {"vid": str(_field(row, "videoID")), "question": None, "response": list(captions)}


@dataclass(frozen=True)
class HubSource:
    benchmark: str  # key of lmms_tasks.zeroshot.benchmarks
    dataset: str  # Hub dataset (config): what the task YAML loads, for the record
    cache_dir: str  # the task YAML's dataset_kwargs.cache_dir, under $HF_HOME
    video_folders: tuple[str, ...]  # where the videos are, under cache_dir (first match wins)
    to_record: Callable[[dict], dict]

    def find_video(self, vid: str) -> str:
        """The video of ``vid`` (a file name, a name without extension, or a frame folder), or "" when absent."""
        base = hf_home() / self.cache_dir
        for folder in self.video_folders:
            path = base / folder / vid
            if path.is_file() or path.is_dir():
                return str(path)
            for suffix in _VIDEO_SUFFIXES:
                if path.with_name(path.name + suffix).is_file():
                    return str(path.with_name(path.name + suffix))
        return ""


# Where MVBench's Hub copy (revision "video", as lmms-eval's mvbench task downloads it) keeps each sub-task's clips.
MVBENCH_FOLDERS = {
    "Action Sequence": "star/Charades_segment",
    "Action Prediction": "star/Charades_segment",
    "Action Antonym": "ssv2_video_mp4",
    "Fine-grained Action": "Moments_in_Time_Raw/videos",
    "Unexpected Action": "FunQA_test/test",
    "Object Existence": "clevrer/video_validation",
    "Object Interaction": "star/Charades_segment",
    "Object Shuffle": "perception/videos",
    "Moving Direction": "clevrer/video_validation",
    "Action Localization": "sta/sta_video_segment",
    "Scene Transition": "scene_qa/video",
    "Action Count": "perception/videos",
    "Moving Count": "clevrer/video_validation",
    "Moving Attribute": "clevrer/video_validation",
    "State Change": "perception/videos",
    "Fine-grained Pose": "nturgbd_convert",
    "Character Order": "perception/videos",
    "Egocentric Navigation": "vlnqa",
    "Episodic Reasoning": "tvqa/video_fps3_hq_segment",
    "Counterfactual Inference": "clevrer/video_validation",
}


def _mvbench_source(name: str) -> HubSource:
    folder = MVBENCH_FOLDERS[name]
    config = mvbench_subtask(name).key.removeprefix("mvbench_")
    # Some archives unpack under data0613/ (lmms-eval looks there too).
    return HubSource(
        mvbench_subtask(name).key,
        f"OpenGVLab/MVBench ({config}, revision video)",
        "mvbench_video",
        (folder, f"data0613/{folder}"),
        mvbench_record,
    )


HUB_SOURCES: dict[str, HubSource] = {
    source.benchmark: source
    for source in (
        HubSource("nextqa_mc", "lmms-eval/NExTQA (MC)", "nextqa", ("NExTVideo",), nextqa_mc_record),
        HubSource("egoschema", "lmms-eval/egoschema (Subset)", "egoschema", ("videos",), egoschema_record),
        HubSource("activitynet_qa", "lmms-eval/ActivityNetQA", "activitynetqa", ("all_test",), activitynet_qa_record),
        HubSource("vatex_caption", "lmms-eval/VATEX (vatex_test)", "vatex_test", ("",), vatex_caption_record),
        *(_mvbench_source(name) for name in MVBENCH_SUBTASKS),
    )
}


def hub_docs_for(key: str, rows) -> list[dict]:
    """One lmms-eval document per convertible Hub row of benchmark ``key`` (rows: the split lmms-eval loaded).

    Raises:
        DataSourceError: no row could be converted (e.g. a dataset with other columns).
    """
    source = HUB_SOURCES[key]
    benchmark = benchmark_named(key)
    data_source = f"hub:{source.dataset} split {getattr(rows, 'split', None) or 'test'}"
    docs, skipped = [], []
    for index, row in enumerate(rows):
        try:
            record = source.to_record(dict(row))
        except RowError as error:
            skipped.append(f"row {index}: {error}")
            continue
        record.update(
            idx=index,
            dataset=benchmark.subtask or benchmark.dataset,
            prompt=None,
            video_file=None,
            where=f"{source.dataset} row {index}",
        )
        docs.append(make_doc(benchmark, record, source.find_video(record["vid"]), data_source))
    if skipped:
        logger.warning(
            "%s_hub: skipped %d of %d rows that cannot be converted: %s",
            benchmark.task,
            len(skipped),
            len(skipped) + len(docs),
            "; ".join(skipped[:10]) + (" ..." if len(skipped) > 10 else ""),
        )
    if not docs:
        raise DataSourceError(f"{benchmark.task}_hub: none of the rows of {source.dataset} could be converted")
    warn_absent_videos(benchmark, docs, hf_home() / source.cache_dir)
    return docs
