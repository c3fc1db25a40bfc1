"""The lmms-eval integration's parts, in process: entry point and task discovery, the dream1k data source, clip
records across pickling, the shared AutoDQ aggregation, and the tarsier model's prompt and generation settings."""

import argparse
import json
import logging
import pickle
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from _lmms_harness import DREAM1K_ANNOTATIONS, TASKS_DIR, write_clip

from lmms_tasks import _task_discovery, run_protocol
from lmms_tasks.tasks.dream1k import data, records, utils

# ------------------------------------------------------------------------------------ entry point and discovery


def test_entry_point_gives_lmms_eval_both_tarsier_classes():
    # lmms-eval calls a callable payload and expects a ModelManifest (a class would be instantiated with no arguments).
    tarsier = [ep for ep in entry_points(group="lmms_eval.models") if ep.name == "tarsier"]
    assert {ep.value for ep in tarsier} == {"lmms_tasks.models:tarsier_manifest"}
    manifest = tarsier[0].load()()
    assert manifest.model_id == "tarsier"
    from lmms_eval.models import get_model

    from lmms_tasks.models.tarsier import Tarsier, TarsierChat

    assert get_model("tarsier") is TarsierChat
    assert get_model("tarsier", force_simple=True) is Tarsier


def test_task_index_has_dream1k_after_lmms_eval_and_user_folders(tmp_path):
    import lmms_eval.models  # noqa: F401  (loading the model entry points is what installs the hook)
    from lmms_eval.tasks import TaskManager

    assert TaskManager().task_index["dream1k"]["yaml_path"] == str(TASKS_DIR / "dream1k" / "dream1k.yaml")

    # A user's --include_path task of the same name wins over ours, as lmms-eval's own tasks would.
    (tmp_path / "mine.yaml").write_text("task: dream1k\ndataset_path: json\noutput_type: generate_until\n")
    assert TaskManager(include_path=str(tmp_path)).task_index["dream1k"]["yaml_path"] == str(tmp_path / "mine.yaml")

    # include_defaults=False means "only these folders": ours is not added.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "dream1k" not in TaskManager(include_path=str(empty), include_defaults=False).all_tasks


def test_discovery_patches_once_and_stands_down_when_told_or_unsupported(monkeypatch, caplog):
    from lmms_eval.tasks import TaskManager

    _task_discovery.install()
    patched = TaskManager.initialize_tasks
    assert _task_discovery.install() and TaskManager.initialize_tasks is patched

    monkeypatch.setenv(_task_discovery.OPT_OUT_ENV, "0")
    assert _task_discovery.install() is False
    monkeypatch.delenv(_task_discovery.OPT_OUT_ENV)

    monkeypatch.setattr(_task_discovery, "_lmms_eval_version", lambda: (0, 8, 1))
    with caplog.at_level(logging.WARNING):
        assert _task_discovery.install() is False
    assert f"--include_path {TASKS_DIR}" in caplog.text


# ------------------------------------------------------------------------------------------------ data source


def source_row(**local) -> dict:
    row = json.loads((TASKS_DIR / "dream1k" / "dream1k_source.json").read_text())[0]
    return {**row, **local}


def test_docs_from_local_annotations_and_videos(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(data.ANNOTATIONS_ENV, raising=False)
    monkeypatch.delenv(data.VIDEO_DIR_ENV, raising=False)
    (tmp_path / "videos" / "nested").mkdir(parents=True)
    write_clip(tmp_path / "videos" / "1.mp4", seed=1)
    write_clip(tmp_path / "videos" / "nested" / "201.mp4", seed=201)
    with caplog.at_level(logging.WARNING):
        docs = data.docs_from_source(source_row(annotations=str(DREAM1K_ANNOTATIONS), video_dir=str(tmp_path / "videos")))

    assert len(docs) == 1000 and [doc["clip_id"] for doc in docs[:3]] == ["1", "2", "3"]
    first = docs[0]
    assert first["video"] == str(tmp_path / "videos" / "1.mp4") and first["source"] == "DREAM/movie_animation"
    assert first["reference"].startswith("A character emerges from smoke and fire")
    assert docs[200]["clip_id"] == "201" and docs[200]["video"].endswith("nested/201.mp4")
    assert "998 of 1000 clips have no video" in caplog.text
    assert utils.dream1k_doc_to_visual(first) == [first["video"]]
    with pytest.raises(FileNotFoundError, match=r"clip 2: no video named 2\.<ext>.*TARSIER_DREAM1K_VIDEO_DIR"):
        utils.dream1k_doc_to_visual(docs[1])


def test_environment_overrides_the_source_row(tmp_path, monkeypatch):
    subset = tmp_path / "subset.jsonl"
    subset.write_text("".join(DREAM1K_ANNOTATIONS.read_text().splitlines(keepends=True)[198:202]))
    (tmp_path / "videos").mkdir()
    monkeypatch.setenv(data.ANNOTATIONS_ENV, str(subset))
    monkeypatch.setenv(data.VIDEO_DIR_ENV, str(tmp_path / "videos"))
    docs = data.docs_from_source(source_row(annotations="/does/not/exist.jsonl", video_dir="/nor/this"))
    assert [(doc["clip_id"], doc["source"]) for doc in docs] == [
        ("199", "DREAM/movie_animation"), ("200", "DREAM/movie_animation"),
        ("201", "DREAM/movie_live_action"), ("202", "DREAM/movie_live_action"),
    ]
    assert {doc["annotations"] for doc in docs} == {str(subset)}


def test_bad_sources_say_what_to_set(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.delenv(data.ANNOTATIONS_ENV, raising=False)
    monkeypatch.delenv(data.VIDEO_DIR_ENV, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(data.DataSourceError, match="not in the Hugging Face cache.*TARSIER_DREAM1K_ANNOTATIONS.*TARSIER_DREAM1K_VIDEO_DIR"):
        data.docs_from_source(source_row())
    with pytest.raises(data.DataSourceError, match="annotation file not found: /missing.jsonl"):
        data.docs_from_source(source_row(annotations="/missing.jsonl", video_dir=str(tmp_path)))
    with pytest.raises(data.DataSourceError, match="lacks"):
        data.docs_from_source({"hub_repo": "omni-research/DREAM-1K"})
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_clip(tmp_path / "a" / "7.mp4", seed=7)
    write_clip(tmp_path / "b" / "7.mp4", seed=8)
    with pytest.raises(data.DataSourceError, match="two videos for clip '7'"):
        data.index_videos(tmp_path)


def test_video_archive_is_extracted_once(tmp_path):
    archive = tmp_path / "video.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(write_clip(tmp_path / "1.mp4", seed=1), "video/1.mp4")
        zipped.write(write_clip(tmp_path / "2.mp4", seed=2), "video/2.mp4")
        zipped.writestr("__MACOSX/video/._1.mp4", b"resource fork")
    target = data.extract_once(archive, tmp_path / "extracted" / "video")
    assert sorted(data.index_videos(target)) == ["1", "2"]
    archive.unlink()  # a second extraction would fail now
    assert data.extract_once(archive, tmp_path / "extracted" / "video") == target

    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    with pytest.raises(data.DataSourceError, match="not a valid zip archive"):
        data.extract_once(tmp_path / "broken.zip", tmp_path / "extracted" / "broken")


# ---------------------------------------------------------------------------------------------- clip records


def test_records_survive_pickling_as_one_object():
    record = records.ClipRecord.create("ann.jsonl", "5", "DREAM/youtube", "A dog runs.")
    ref = records.ClipRef(record)
    copy_of_record, copy_of_ref = pickle.loads(pickle.dumps(record)), pickle.loads(pickle.dumps(ref))
    assert copy_of_record is record and copy_of_ref.record is record
    assert records.ClipRecord.create("ann.jsonl", "5", "DREAM/youtube", "A cat sits.") is not record
    assert json.dumps({"autodq": record, "autodq_f1": ref}, default=str) == (
        '{"autodq": {"clip_id": "5", "source": "DREAM/youtube", "prediction": "A dog runs."}, "autodq_f1": "5"}'
    )
    with pytest.raises(TypeError, match="ClipRecord or ClipRef"):
        records.as_record(0.5)


# -------------------------------------------------------------------------------------------- the aggregation


def test_prompt_comes_from_the_task_options():
    assert utils.dream1k_doc_to_text({}, None) == "Describe the video in detail."
    assert utils.dream1k_doc_to_text({}, {"pre_prompt": ""}) == "Describe the video in detail."
    assert utils.dream1k_doc_to_text({}, {"prompt": "Narrate the clip."}) == "Narrate the clip."
    assert "Narrate the clip." in run_protocol.prompts()


def test_all_metrics_share_one_scoring_run_and_a_failed_clip_is_reported(tmp_path, monkeypatch, judge_server):
    monkeypatch.setenv("TARSIER_JUDGE_BASE_URL", judge_server.base_url)
    monkeypatch.setenv("TARSIER_AUTODQ_CACHE", str(tmp_path / "cache"))
    docs = {doc["clip_id"]: doc for doc in data.docs_from_source(source_row(annotations=str(DREAM1K_ANNOTATIONS), video_dir=str(tmp_path)))}
    predictions = {"1": "A character emerges from smoke and fire.", "201": "A zebra crosses the road."}
    per_doc = [utils.dream1k_process_results(docs[clip_id], [text]) for clip_id, text in predictions.items()]
    judge_server.inject("malformed", times=10, kind="extract_events", match="zebra")  # every ask for clip 201 fails
    args = argparse.Namespace(output_path=str(tmp_path / "out"), model="dummy", model_args="pretrained=org/My-Model", limit=None, offset=0, gen_kwargs="")

    calls_before = judge_server.calls
    assert utils.dream1k_autodq_f1([row["autodq_f1"] for row in per_doc], args=args) == pytest.approx(2 * 0.2 * 1.0 / 1.2)
    calls = judge_server.calls - calls_before
    report_file = Path(utils.dream1k_autodq([row["autodq"] for row in per_doc], args=args))
    report = json.loads(report_file.read_text())
    assert utils.dream1k_autodq_n_failed([row["autodq_n_failed"] for row in per_doc], args=args) == 1
    assert judge_server.calls - calls_before == calls  # the other metrics reuse the first run

    assert report["failed_ids"] == ["201"] and report["n_scored"] == 1
    assert list(report["per_source"]) == ["DREAM/movie_animation", "DREAM/movie_live_action"]
    assert report["per_source"]["DREAM/movie_live_action"] == {"f1": None, "precision": None, "recall": None, "n": 0, "n_failed": 1}
    scored, failed = per_doc[0]["autodq"], per_doc[1]["autodq"]
    assert (scored["recall"], scored["precision"]) == (0.2, 1.0)
    assert failed["error"] and failed["recall"] is None and failed["precision"] is None
    assert report_file.parent.parent == tmp_path / "out" / "org__My-Model"
    assert (report_file.parent / "autodq.png").is_file()


# ----------------------------------------------------------------------------------------------- the model


def test_prompts_are_the_official_ones(tiny_checkpoint, tmp_path):
    from lmms_eval.protocol import ChatMessages
    from PIL import Image

    from lmms_tasks.models.tarsier import _chat_prompt, _simple_prompt
    from tarsier_hf.processing_tarsier import TarsierProcessor

    processor = TarsierProcessor.from_pretrained(tiny_checkpoint)
    video = str(write_clip(tmp_path / "1.mp4", seed=1))

    simple = _simple_prompt("<image>\nDescribe the video in detail.", [video])
    chat = _chat_prompt(ChatMessages(messages=[{"role": "user", "content": [
        {"type": "video", "url": video, "start_time": 0.5},
        {"type": "text", "text": "Describe the video in detail."},
    ]}]))
    for prompt in (simple, chat):
        text = processor.apply_chat_template(prompt.messages, tokenize=False, add_generation_prompt=True)
        assert text == "USER: <video>\nDescribe the video in detail. ASSISTANT: "
        assert prompt.videos == [video] and prompt.images == []
    assert (simple.start_times, chat.start_times) == ([None], [0.5])

    image = _simple_prompt("What is this?", [Image.new("RGB", (8, 8))])
    assert processor.apply_chat_template(image.messages, tokenize=False, add_generation_prompt=True) == "USER: <image>\nWhat is this? ASSISTANT: "
    with pytest.raises(TypeError, match="file paths or PIL images"):
        _simple_prompt("x", [42])


def test_generation_settings_and_model_arguments(tiny_checkpoint):
    from lmms_tasks.models.tarsier import Tarsier, _batches, _cut_at_stops, _stop_strings

    model = Tarsier(pretrained=str(tiny_checkpoint), num_frames="3", batch_size="2")
    assert (model.num_frames, model.batch_size) == (3, 2)
    greedy = model._generation_settings({"max_new_tokens": 512, "temperature": 0, "do_sample": False, "until": []})
    assert greedy["max_new_tokens"] == 512 and greedy["do_sample"] is False and greedy["num_beams"] == 1
    assert model._generation_settings({})["max_new_tokens"] == 512
    sampled = model._generation_settings({"temperature": 0.7, "top_p": 0.9})
    assert sampled["do_sample"] is True and (sampled["temperature"], sampled["top_p"]) == (0.7, 0.9)
    assert run_protocol.model_settings()["num_frames"] == 3
    assert Tarsier(pretrained=str(tiny_checkpoint), max_new_tokens="7")._generation_settings({"max_new_tokens": 512})["max_new_tokens"] == 7

    # lmms-eval's default "\n\n" would cut a description after its first paragraph; other stops apply.
    assert _stop_strings({"until": ["\n\n"]}) == [] and _stop_strings({"until": "###"}) == ["###"]
    assert _cut_at_stops("A man walks.\n\nThen he sits.### tail", _stop_strings({"until": ["\n\n", "###"]})) == "A man walks.\n\nThen he sits."
    args = [("c", {"t": 0}, None, 0, "a", "test"), ("c", {"t": 1}, None, 1, "a", "test"), ("c", {"t": 0}, None, 2, "a", "test"),
            ("c", {"t": 0}, None, 3, "a", "test"), ("c", {"t": 0}, None, 4, "b", "test")]
    assert _batches(args, gen_kwargs_index=1, batch_size=2) == [[0, 2], [3], [1], [4]]

    with pytest.raises(ValueError, match="batch_size auto is not supported"):
        Tarsier(pretrained=str(tiny_checkpoint), batch_size="auto")
    with pytest.raises(ValueError, match="unknown dtype 'int8'"):
        Tarsier(pretrained=str(tiny_checkpoint), dtype="int8")
    with pytest.raises(ValueError, match="num_frames must be a positive integer, got '0'"):
        Tarsier(pretrained=str(tiny_checkpoint), num_frames="0")


def test_predictions_are_kept_when_the_judge_cannot_be_used(tmp_path, monkeypatch, caplog):
    from lmms_tasks.autodq import JudgeSetupError
    from lmms_tasks.autodq.cli import read_predictions
    from lmms_tasks.autodq.testing import LocalJudgeServer

    docs = data.docs_from_source(source_row(annotations=str(DREAM1K_ANNOTATIONS), video_dir=str(tmp_path)))
    items = [utils.dream1k_process_results(doc, [f"Prediction {doc['clip_id']}."])["autodq"] for doc in docs[:3]]
    args = argparse.Namespace(output_path=str(tmp_path / "out"), model="dummy", model_args="", limit=3, offset=0, gen_kwargs="")
    with LocalJudgeServer(models={"another-judge"}) as server:  # answers 404 "model not found" to gpt-3.5-turbo-0125
        monkeypatch.setenv("TARSIER_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("TARSIER_AUTODQ_CACHE", str(tmp_path / "cache"))
        with caplog.at_level(logging.ERROR), pytest.raises(JudgeSetupError):
            utils.dream1k_autodq(items, args=args)
    (saved,) = (tmp_path / "out").rglob("predictions.jsonl")
    assert read_predictions(saved) == {"1": "Prediction 1.", "2": "Prediction 2.", "3": "Prediction 3."}
    assert f"tarsier-autodq score {saved} --annotations {DREAM1K_ANNOTATIONS}" in caplog.text
