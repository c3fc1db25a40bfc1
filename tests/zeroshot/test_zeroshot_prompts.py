"""Prompt construction and documents against the released annotation files.

The excerpts in ``tests/data/tarsier_eval/`` are always checked; the full files in ``../shared/data/tarsier_eval/``
too when that folder exists. The oracle is the released processor's prompt handling (``dataset/processor.py``,
``process_prompt``), written out below.
"""

import re
from pathlib import Path

import pytest

from lmms_tasks.tasks.tarsier_zeroshot import data
from lmms_tasks.tasks.tarsier_zeroshot.utils import doc_to_messages, doc_to_text, doc_to_visual, process_results
from lmms_tasks.zeroshot import BENCHMARKS, select_rows

REPO = Path(__file__).resolve().parents[2]
EXCERPTS = REPO / "tests" / "data" / "tarsier_eval"
FULL = REPO.parent / "shared" / "data" / "tarsier_eval"
FILES = {
    "nextqa_mc": "Next-QA-val-multi_choice.jsonl",
    "egoschema": "EgoSchema_subset.jsonl",
    "msvd_qa": "MSVD-QA-val.jsonl",
    "msvd_caption": "MSVD-Caption-test.jsonl",
    "msrvtt_qa": "MSR-VTT-QA-val.jsonl",
    "activitynet_qa": "ActivityNet-QA-test.jsonl",
    "msrvtt_caption": "MSR-VTT-Caption-test.jsonl",
}
FULL_SIZES = {"nextqa_mc": 4996, "egoschema": 500, "msvd_qa": 6415, "msvd_caption": 670}
# The one released prompt that differs from its own question: "tƒhe" in the prompt, "the" in text.question.
TEMPLATE_EXCEPTIONS = {"EgoSchema_11"}


def released_process_prompt(prompt: str, n_images: int) -> str:
    """The released ``Processor.process_prompt`` for a prompt with a ``<video>`` placeholder and ``n_images`` frames."""
    prompt = prompt.replace("<video>", "<image>" * n_images)
    assert len(re.findall("<image>", prompt, re.DOTALL)) == n_images
    if not re.findall(r"USER:(.*)ASSISTANT:(.*)", prompt, re.DOTALL):
        prompt = f"USER: {prompt} ASSISTANT: "
    return prompt


def docs(monkeypatch, key: str, folder: Path, video_dir: Path | None = None) -> list[dict]:
    monkeypatch.setenv("TARSIER_EVAL_ANNOTATIONS_DIR", str(folder))
    monkeypatch.delenv(f"TARSIER_EVAL_{key.upper()}_ANNOTATIONS", raising=False)
    monkeypatch.delenv("TARSIER_EVAL_NUM_FRAMES", raising=False)
    if video_dir is None:
        monkeypatch.delenv("TARSIER_EVAL_VIDEO_DIR", raising=False)
    else:
        monkeypatch.setenv("TARSIER_EVAL_VIDEO_DIR", str(video_dir))
    return data.docs_for(BENCHMARKS[key])


def check_prompts(documents: list[dict], rows: list[dict], n_frames: int) -> None:
    assert [doc["idx"] for doc in documents] == [row["idx"] for row in rows]
    assert [doc["vid"] for doc in documents] == [str(row["vid"]) for row in rows]
    for doc, row in zip(documents, rows):
        ours = doc_to_text(doc).replace("<video>", "<image>" * n_frames)
        assert ours == released_process_prompt(row["prompt"], n_frames)


@pytest.mark.parametrize("key", list(FILES))
def test_prompts_equal_the_released_ones_on_the_excerpts(monkeypatch, key):
    documents = docs(monkeypatch, key, EXCERPTS)
    rows = select_rows(EXCERPTS / FILES[key], BENCHMARKS[key], need_prediction=False)
    assert len(rows) >= 2
    check_prompts(documents, rows, BENCHMARKS[key].num_frames)
    assert all(row["prompt"] == BENCHMARKS[key].render(row["question"] or "") for row in rows)
    assert {doc["num_frames"] for doc in documents} == {16 if key == "egoschema" else 8}


@pytest.mark.skipif(not FULL.is_dir(), reason="the full released annotation files are not in ../shared/data")
@pytest.mark.parametrize("key", list(FULL_SIZES))
def test_prompts_equal_the_released_ones_on_the_full_files(monkeypatch, key):
    documents = docs(monkeypatch, key, FULL)
    rows = select_rows(FULL / FILES[key], BENCHMARKS[key], need_prediction=False)
    assert len(documents) == FULL_SIZES[key]
    check_prompts(documents, rows, 8)
    mismatched = {row["key"] for row in rows if row["prompt"] != BENCHMARKS[key].render(row["question"] or "")}
    assert mismatched == (TEMPLATE_EXCEPTIONS if key == "egoschema" else set())


def test_token_ids_equal_the_released_ones_after_expansion(monkeypatch, tmp_path, tiny_checkpoint, clip):
    from tarsier_hf.processing_tarsier import TarsierProcessor

    processor = TarsierProcessor.from_pretrained(tiny_checkpoint)
    per_frame = processor.num_image_tokens
    for key in ("nextqa_mc", "msvd_caption", "msrvtt_qa"):
        doc = docs(monkeypatch, key, EXCERPTS)[0]
        ours = processor(text=doc_to_text(doc), videos=[str(clip)], num_frames=4)["input_ids"][0]
        released = released_process_prompt(doc["source_prompt"], 4).replace("<image>", "<image>" * per_frame)
        assert ours == processor.tokenizer(released)["input_ids"]


def test_videos_are_found_by_vid_or_video_file_and_a_missing_one_is_named(monkeypatch, tmp_path, clip):
    videos = tmp_path / "videos"
    (videos / "sub").mkdir(parents=True)
    (videos / "sub" / "4010069381.mp4").write_bytes(clip.read_bytes())
    documents = docs(monkeypatch, "nextqa_mc", EXCERPTS, videos)
    assert doc_to_visual(documents[0]) == [str(videos / "sub" / "4010069381.mp4")]
    message = doc_to_messages(documents[0])[0]
    assert message["content"][0] == {"type": "video", "url": str(videos / "sub" / "4010069381.mp4")}
    assert message["content"][1]["text"].endswith("ASSISTANT: Answer: (")

    annotations = tmp_path / "ann.jsonl"
    line = (EXCERPTS / FILES["msvd_qa"]).read_text().splitlines()[0]
    annotations.write_text(
        line.replace('"<placeholder>"', f'"{clip}"').replace('"idx": 0,', '"idx": 0, "start_time": 1,')
    )
    monkeypatch.setenv("TARSIER_EVAL_MSVD_QA_ANNOTATIONS", str(annotations))
    (doc,) = data.docs_for(BENCHMARKS["msvd_qa"])
    assert doc["video"] == str(clip) and doc["start_time"] == 1.0
    assert doc_to_messages(doc)[0]["content"][0] == {"type": "video", "url": str(clip), "start_time": 1.0}

    frames = tmp_path / "frames_of_row_0"  # a row whose video_file is the folder of its frames
    frames.mkdir()
    annotations.write_text(line.replace('"<placeholder>"', f'"{frames}"'))
    (doc,) = data.docs_for(BENCHMARKS["msvd_qa"])
    assert doc_to_visual(doc) == [str(frames)]

    missing = docs(monkeypatch, "egoschema", EXCERPTS, videos)[0]
    with pytest.raises(
        FileNotFoundError, match="0074f737-11cb-497d-8d07-77c3a8127391.*TARSIER_EVAL_<BENCHMARK>_VIDEO_DIR"
    ):
        doc_to_visual(missing)


def test_frames_override_and_bad_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("TARSIER_EVAL_NUM_FRAMES", "8")
    monkeypatch.setenv("TARSIER_EVAL_EGOSCHEMA_ANNOTATIONS", str(EXCERPTS / FILES["egoschema"]))
    assert {doc["num_frames"] for doc in data.docs_for(BENCHMARKS["egoschema"])} == {8}
    monkeypatch.delenv("TARSIER_EVAL_ANNOTATIONS_DIR", raising=False)
    monkeypatch.delenv("TARSIER_EVAL_TGIF_QA_ANNOTATIONS", raising=False)
    with pytest.raises(data.DataSourceError, match="TARSIER_EVAL_TGIF_QA_ANNOTATIONS"):
        data.docs_for(BENCHMARKS["tgif_qa"])
    monkeypatch.setenv("TARSIER_EVAL_TGIF_QA_ANNOTATIONS", str(EXCERPTS / FILES["msvd_qa"]))
    with pytest.raises(data.DataSourceError, match="no rows whose dataset is 'TGIF-QA-test'"):
        data.docs_for(BENCHMARKS["tgif_qa"])


def test_rows_without_prompt_use_the_nearest_template_and_results_are_released_lines(monkeypatch, tmp_path):
    annotations = tmp_path / "TGIF-QA-test.jsonl"
    annotations.write_text(
        '{"idx": 7, "dataset": "TGIF-QA-test", "vid": "g1", "text": {"question": "what jumps?", "response": "cat"}}\n'
    )
    monkeypatch.setenv("TARSIER_EVAL_TGIF_QA_ANNOTATIONS", str(annotations))
    (doc,) = data.docs_for(BENCHMARKS["tgif_qa"])
    assert doc["prompt"] == BENCHMARKS["msvd_qa"].render("what jumps?")
    assert doc["prompt_from"] == "template" and doc["source_prompt"] == doc["prompt"]
    row = process_results(doc, ["A cat jumps."])["accuracy"]
    assert row["text"] == {
        "prompt": doc["prompt"],
        "question": "what jumps?",
        "response": "cat",
        "prediction": "A cat jumps.",
    }
    assert (row["idx"], row["dataset"], row["benchmark"], row["num_frames"]) == (7, "TGIF-QA-test", "tgif_qa", 8)
    vatex = tmp_path / "VATEX-test.jsonl"
    vatex.write_text('{"idx": 0, "dataset": "VATEX-test", "vid": "v", "text": {"response": ["a man runs"]}}\n')
    monkeypatch.setenv("TARSIER_EVAL_VATEX_CAPTION_ANNOTATIONS", str(vatex))
    (doc,) = data.docs_for(BENCHMARKS["vatex_caption"])
    assert doc["source_prompt"] == BENCHMARKS["msvd_caption"].template
    assert doc["prompt"] == f"USER: {BENCHMARKS['msvd_caption'].template} ASSISTANT: "
