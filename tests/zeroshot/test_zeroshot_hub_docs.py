"""The ``tarsier_*_hub`` documents: lmms-eval's Hub rows turned into Tarsier's released prompts and references.

Hub rows are rebuilt from the released annotation excerpts (the same questions in the Hub datasets' columns), so
the prompts the hub tasks build can be compared with the released prompts string for string."""

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lmms_tasks.tasks.tarsier_zeroshot import utils
from lmms_tasks.tasks.tarsier_zeroshot.data import DataSourceError
from lmms_tasks.tasks.tarsier_zeroshot.hub import HUB_SOURCES, hub_docs_for
from lmms_tasks.zeroshot.benchmarks import BENCHMARKS, MVBENCH_SUBTASKS, mvbench_subtask
from lmms_tasks.zeroshot.released_format import released_prompt

EXCERPTS = Path(__file__).resolve().parents[1] / "data" / "tarsier_eval"
OPTION = re.compile(r"^\(([A-E])\) (.*)$")


def released(name: str) -> list[dict]:
    return [json.loads(line) for line in (EXCERPTS / name).read_text(encoding="utf-8").splitlines()]


def split_options(question: str) -> tuple[str, list[str]]:
    lines = question.strip("\n").split("\n")
    options = [OPTION.match(line).group(2) for line in lines if OPTION.match(line)]
    return lines[0], options


@pytest.fixture(autouse=True)
def hf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("TARSIER_EVAL_NUM_FRAMES", raising=False)
    return tmp_path / "hf_home"


def test_nextqa_hub_rows_give_the_released_prompts(hf_home):
    rows, expected = [], released("Next-QA-val-multi_choice.jsonl")
    for line in expected:
        question, options = split_options(line["text"]["question"])
        rows.append(
            {
                "video": int(line["vid"]),
                "question": question,
                **{f"a{i}": o for i, o in enumerate(options)},
                "answer": "ABCDE".index(line["text"]["response"]),
                "qid": 0,
                "type": "CW",
            }
        )
    (hf_home / "nextqa" / "NExTVideo").mkdir(parents=True)
    (hf_home / "nextqa" / "NExTVideo" / f"{rows[0]['video']}.mp4").write_bytes(b"")

    docs = hub_docs_for("nextqa_mc", rows)

    assert [d["prompt"] for d in docs] == [released_prompt(line["text"]["prompt"]) for line in expected]
    assert [d["question"] for d in docs] == [line["text"]["question"] for line in expected]
    assert [d["response"] for d in docs] == [line["text"]["response"] for line in expected]
    assert [d["vid"] for d in docs] == [line["vid"] for line in expected]
    assert {d["dataset"] for d in docs} == {BENCHMARKS["nextqa_mc"].dataset}
    assert docs[0]["video"] == str(hf_home / "nextqa" / "NExTVideo" / f"{rows[0]['video']}.mp4")
    assert docs[0]["num_frames"] == 8 and docs[0]["prompt_from"] == "template"
    assert docs[0]["annotations"] == "hub:lmms-eval/NExTQA (MC) split test"


def test_egoschema_hub_rows_give_the_released_prompts_with_16_frames():
    rows, expected = [], released("EgoSchema_subset.jsonl")
    for line in expected:
        body = line["text"]["question"].removeprefix("Question: ")
        question, options = split_options(body.replace("\nOptions: ", ""))
        # The Hub's options carry their letter as "A. ..." and the answer is the option index as a string.
        rows.append(
            {
                "video_idx": line["vid"],
                "question": question,
                "option": [f"{letter}. {o}" for letter, o in zip("ABCDE", options)],
                "answer": str("ABCDE".index(line["text"]["response"])),
                "question_idx": line["vid"],
            }
        )

    docs = hub_docs_for("egoschema", rows)

    assert [d["prompt"] for d in docs] == [released_prompt(line["text"]["prompt"]) for line in expected]
    assert [d["response"] for d in docs] == [line["text"]["response"] for line in expected]
    assert {d["num_frames"] for d in docs} == {16}


def test_activitynet_hub_rows_give_the_released_prompts(hf_home):
    expected = released("ActivityNet-QA-test.jsonl")
    rows = [
        {
            "video_name": line["vid"].removeprefix("v_"),
            "question": line["text"]["question"],
            "answer": line["text"]["response"],
            "question_id": f"q{i}",
            "type": "1",
        }
        for i, line in enumerate(expected)
    ]
    folder = hf_home / "activitynetqa" / "all_test"
    folder.mkdir(parents=True)
    (folder / f"{expected[0]['vid']}.webm").write_bytes(b"")  # ActivityNet clips come as .mp4, .webm or .mkv

    rows.append({"video_name": "absent", "question": "what is it", "answer": "a dog"})

    docs = hub_docs_for("activitynet_qa", rows)

    assert [d["prompt"] for d in docs[:-1]] == [released_prompt(line["text"]["prompt"]) for line in expected]
    assert [(d["vid"], d["response"]) for d in docs[:-1]] == [(x["vid"], x["text"]["response"]) for x in expected]
    assert {d["video"] for d in docs[:-1]} == {str(folder / f"{expected[0]['vid']}.webm")}
    assert docs[-1]["video"] == ""  # absent: doc_to_visual names where it was looked for


def test_vatex_hub_rows_keep_every_reference_caption():
    rows = [{"videoID": "abc_000010_000020", "enCap": ["A man runs.", "Someone is running."], "chCap": ["一"]}]
    (doc,) = hub_docs_for("vatex_caption", rows)
    assert doc["response"] == ["A man runs.", "Someone is running."]
    assert doc["prompt"] == released_prompt(BENCHMARKS["vatex_caption"].template)
    assert doc["question"] is None


def test_mvbench_hub_rows_letter_the_candidates_and_skip_unusable_rows(caplog):
    rows = [
        {
            "video": "a.mp4",
            "question": "What did the person do first?",
            "candidates": ["sat", "ran", "ate"],
            "answer": "ran",
            "start": 3.0,
            "end": 9.5,
        },
        {"video": "b.mp4", "question": "Which?", "candidates": ["x", "y"], "answer": "z"},
        {"video": "c.mp4", "question": "", "candidates": ["x", "y"], "answer": "x"},
        {"video": "d.mp4", "question": "How many?", "candidates": ["1", "2", "3", "4"], "answer": "4"},
    ]
    with caplog.at_level(logging.WARNING):
        docs = hub_docs_for("mvbench_action_sequence", rows)

    assert [d["idx"] for d in docs] == [0, 3]
    assert docs[0]["prompt"] == (
        "USER: <video> What did the person do first?\n(A) sat\n(B) ran\n(C) ate\nASSISTANT: Answer: ("
    )
    assert [d["response"] for d in docs] == ["B", "D"]
    assert docs[0]["dataset"] == "MVBench/Action Sequence"
    # The Hub's clips are already cut to MVBench's bounds: no second time window.
    assert docs[0]["start_time"] is None and docs[0]["end_time"] is None
    warning = caplog.text
    assert "skipped 2 of 4 rows" in warning
    assert "row 1: answer 'z' is not one of the candidates" in warning and "row 2: no 'question'" in warning


def test_hub_rows_none_convertible_is_a_data_source_error():
    with pytest.raises(DataSourceError, match="none of the rows of lmms-eval/NExTQA"):
        hub_docs_for("nextqa_mc", [{"video": 1, "question": "q"}])


def test_mvbench_hub_videos_found_in_lmms_eval_layout_including_frame_folders(hf_home):
    base = hf_home / "mvbench_video"
    (base / "data0613" / "clevrer" / "video_validation").mkdir(parents=True)
    (base / "data0613" / "clevrer" / "video_validation" / "video_1.mp4").write_bytes(b"")
    frames = base / "tvqa" / "video_fps3_hq_segment" / "s01e01_seg01"
    frames.mkdir(parents=True)
    for i in range(1, 12):
        Image.fromarray(np.full((8, 8, 3), i * 20, np.uint8)).save(frames / f"{i:05d}.jpg")

    assert HUB_SOURCES["mvbench_object_existence"].find_video("video_1.mp4") == str(
        base / "data0613" / "clevrer" / "video_validation" / "video_1.mp4"
    )
    assert HUB_SOURCES["mvbench_episodic_reasoning"].find_video("s01e01_seg01") == str(frames)
    assert HUB_SOURCES["mvbench_moving_count"].find_video("video_2.mp4") == ""


def test_every_hub_task_file_names_a_source_with_the_lmms_eval_dataset():
    folder = Path(utils.__file__).parent
    for key, source in HUB_SOURCES.items():
        text = (folder / f"tarsier_{key}_hub.yaml").read_text(encoding="utf-8")
        assert f"process_docs: !function utils.{key}_hub_docs" in text
        assert f"cache_dir: {source.cache_dir}" in text
        assert f"dataset_path: {source.dataset.split(' ')[0]}" in text
        assert callable(getattr(utils, f"{key}_hub_docs"))
    assert len(HUB_SOURCES) == 4 + len(MVBENCH_SUBTASKS)
    group = (folder / "tarsier_mvbench_hub.yaml").read_text(encoding="utf-8")
    assert all(f"- tarsier_{mvbench_subtask(name).key}_hub\n" in group for name in MVBENCH_SUBTASKS)


def test_hub_doc_without_video_names_the_folders_searched(hf_home):
    (doc,) = hub_docs_for("vatex_caption", [{"videoID": "missing", "enCap": ["A cat."]}])
    with pytest.raises(FileNotFoundError, match=r"no video 'missing' in .*vatex_test.*lmms-eval/VATEX"):
        utils.doc_to_visual(doc)


def test_missing_data_stops_the_run_at_once_with_the_setting_to_fix(monkeypatch):
    # lmms-eval retries an Exception from process_docs and then hides it in a RetryError; SystemExit is not retried.
    for name in ("TARSIER_EVAL_ANNOTATIONS_DIR", "TARSIER_EVAL_MSVD_QA_ANNOTATIONS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(
        SystemExit, match="tarsier zero-shot: tarsier_msvd_qa: no annotation file; set TARSIER_EVAL_MSVD"
    ):
        utils.msvd_qa_docs(None)
    with pytest.raises(SystemExit, match="none of the rows of lmms-eval/NExTQA"):
        utils.nextqa_mc_hub_docs([{"video": 1}])
