"""The lmms-eval integration's parts, in process: entry point and task discovery, the dream1k data source, clip
records across pickling, the shared AutoDQ aggregation, and the tarsier model's prompt and generation settings."""

import argparse
import json
import logging
import pickle
import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch
from _lmms_harness import DREAM1K_ANNOTATIONS, TASKS_DIR, base_env, write_clip
from _proc_media import moving_pattern_video, write_video

from lmms_tasks import run_protocol
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


_INDEX_PROBE = """
import importlib.metadata, sys
if len(sys.argv) > 1:  # pretend another lmms-eval version is installed, before lmms-eval loads our entry point
    real_version = importlib.metadata.version
    importlib.metadata.version = lambda name: sys.argv[1] if name == "lmms_eval" else real_version(name)
import lmms_eval.models  # noqa: F401  (lmms-eval's model registry loads the entry points, as the CLI does)
from lmms_eval.tasks import TaskManager
tasks = TaskManager().all_tasks
print("dream1k" in tasks, "tarsier_zeroshot" in tasks)
"""


@pytest.mark.parametrize(
    ("environment", "version", "indexed"),
    [({}, None, True), ({"TARSIER_HF_TASK_DISCOVERY": "0"}, None, False), ({}, "0.8.1", False)],
    ids=["default", "opted-out", "unchecked-lmms-eval-version"],
)
def test_task_discovery_through_lmms_eval_stands_down_when_told_or_unsupported(tmp_path, environment, version, indexed):
    env = {**base_env(tmp_path), **environment}
    process = subprocess.run(
        [sys.executable, "-c", _INDEX_PROBE, *([version] if version else [])],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    assert process.stdout.split() == [str(indexed)] * 2
    if version:  # says how to use the tasks anyway
        assert f"--include_path {TASKS_DIR}" in process.stderr


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
        docs = data.docs_from_source(
            source_row(annotations=str(DREAM1K_ANNOTATIONS), video_dir=str(tmp_path / "videos"))
        )

    assert len(docs) == 50 and [doc["clip_id"] for doc in docs[:3]] == ["1", "2", "3"]
    first = docs[0]
    assert first["video"] == str(tmp_path / "videos" / "1.mp4") and first["source"] == "DREAM/movie_animation"
    assert first["reference"].startswith("A character emerges from smoke and fire")
    (clip_201,) = [doc for doc in docs if doc["clip_id"] == "201"]
    assert clip_201["video"].endswith("nested/201.mp4") and clip_201["source"] == "DREAM/movie_live_action"
    assert "48 of 50 clips have no video" in caplog.text
    assert utils.dream1k_doc_to_visual(first) == [first["video"]]
    with pytest.raises(FileNotFoundError, match=r"clip 2: no video named 2\.<ext>.*TARSIER_DREAM1K_VIDEO_DIR"):
        utils.dream1k_doc_to_visual(docs[1])


def test_environment_overrides_the_source_row(tmp_path, monkeypatch):
    subset = tmp_path / "subset.jsonl"
    lines = DREAM1K_ANNOTATIONS.read_text().splitlines(keepends=True)
    subset.write_text("".join(line for line in lines if json.loads(line)["idx"] in (199, 200, 201, 202)))
    (tmp_path / "videos").mkdir()
    monkeypatch.setenv(data.ANNOTATIONS_ENV, str(subset))
    monkeypatch.setenv(data.VIDEO_DIR_ENV, str(tmp_path / "videos"))
    docs = data.docs_from_source(source_row(annotations="/does/not/exist.jsonl", video_dir="/nor/this"))
    assert [(doc["clip_id"], doc["source"]) for doc in docs] == [
        ("199", "DREAM/movie_animation"),
        ("200", "DREAM/movie_animation"),
        ("201", "DREAM/movie_live_action"),
        ("202", "DREAM/movie_live_action"),
    ]
    assert {doc["annotations"] for doc in docs} == {str(subset)}


def test_bad_sources_say_what_to_set(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.delenv(data.ANNOTATIONS_ENV, raising=False)
    monkeypatch.delenv(data.VIDEO_DIR_ENV, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(
        data.DataSourceError,
        match="not in the Hugging Face cache.*TARSIER_DREAM1K_ANNOTATIONS.*TARSIER_DREAM1K_VIDEO_DIR",
    ):
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
    docs = {
        doc["clip_id"]: doc
        for doc in data.docs_from_source(source_row(annotations=str(DREAM1K_ANNOTATIONS), video_dir=str(tmp_path)))
    }
    predictions = {"1": "A character emerges from smoke and fire.", "201": "A zebra crosses the road."}
    per_doc = [utils.dream1k_process_results(docs[clip_id], [text]) for clip_id, text in predictions.items()]
    judge_server.inject("malformed", times=10, kind="extract_events", match="zebra")  # every ask for clip 201 fails
    args = argparse.Namespace(
        output_path=str(tmp_path / "out"),
        model="dummy",
        model_args="pretrained=org/My-Model",
        limit=None,
        offset=0,
        gen_kwargs="",
    )

    calls_before = judge_server.calls
    assert utils.dream1k_autodq_f1([row["autodq_f1"] for row in per_doc], args=args) == pytest.approx(
        2 * 0.2 * 1.0 / 1.2
    )
    calls = judge_server.calls - calls_before
    report_file = Path(utils.dream1k_autodq([row["autodq"] for row in per_doc], args=args))
    report = json.loads(report_file.read_text())
    assert utils.dream1k_autodq_n_failed([row["autodq_n_failed"] for row in per_doc], args=args) == 1
    assert judge_server.calls - calls_before == calls  # the other metrics reuse the first run

    assert report["failed_ids"] == ["201"] and report["n_scored"] == 1
    assert list(report["per_source"]) == ["DREAM/movie_animation", "DREAM/movie_live_action"]
    assert report["per_source"]["DREAM/movie_live_action"] == {
        "f1": None,
        "precision": None,
        "recall": None,
        "n": 0,
        "n_failed": 1,
    }
    scored, failed = per_doc[0]["autodq"], per_doc[1]["autodq"]
    assert (scored["recall"], scored["precision"]) == (0.2, 1.0)
    assert failed["error"] and failed["recall"] is None and failed["precision"] is None
    assert report_file.parent.parent == tmp_path / "out" / "org__My-Model"
    assert (report_file.parent / "autodq.png").is_file()


# ----------------------------------------------------------------------------------------------- the model


OFFICIAL_PROMPT = "USER: <video>\nDescribe the video in detail. ASSISTANT: "


def chat_request(doc_id: int, gen_kwargs: dict, task: str = "t"):
    """A ``generate_until`` request as lmms-eval builds it for a chat model: (context, doc_to_messages, gen_kwargs,
    doc_id, task, split)."""
    from lmms_eval.api.instance import Instance

    def doc_to_messages(doc):
        video = {"type": "video", "url": doc["video"], "start_time": doc.get("start"), "end_time": doc.get("end")}
        return [{"role": "user", "content": [video, {"type": "text", "text": "Describe the video in detail."}]}]

    arguments = ("Describe the video in detail.", doc_to_messages, gen_kwargs, doc_id, task, "test")
    return Instance("generate_until", arguments, idx=0, metadata={"task": task, "doc_id": doc_id, "repeats": 1})


def simple_request(doc_id: int, gen_kwargs: dict, task: str = "t"):
    """The simple class's request: (context, gen_kwargs, doc_to_visual, doc_id, task, split)."""
    from lmms_eval.api.instance import Instance

    arguments = ("<image>\nDescribe the video in detail.", gen_kwargs, lambda doc: [doc["video"]], doc_id, task, "test")
    return Instance("generate_until", arguments, idx=0, metadata={"task": task, "doc_id": doc_id, "repeats": 1})


def record_generate_calls(model, monkeypatch) -> list[dict]:
    """Every ``generate`` call the plugin makes on its transformers model, with its tensors (the call still runs)."""
    calls = []
    generate = model.model.generate

    def recording(**kwargs):
        calls.append(kwargs)
        return generate(**kwargs)

    monkeypatch.setattr(model.model, "generate", recording)
    return calls


def direct(checkpoint, videos, starts, ends, max_new_tokens, **processor_options):
    """What the model says when asked directly (processor + generate, left padding), and the processor's inputs."""
    from tarsier_hf import TarsierForConditionalGeneration
    from tarsier_hf.processing_tarsier import TarsierProcessor

    processor = TarsierProcessor.from_pretrained(checkpoint)
    model = TarsierForConditionalGeneration.from_pretrained(checkpoint).eval()
    inputs = processor(
        text=[OFFICIAL_PROMPT] * len(videos),
        videos=videos,
        num_frames=2,
        start_time=starts,
        end_time=ends,
        padding=True,
        padding_side="left",
        return_tensors="pt",
        **processor_options,
    )
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    texts = processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return [text.strip() for text in texts], inputs


def test_chat_model_options_reach_the_processor_and_the_model(tiny_checkpoint, tmp_path, monkeypatch):
    """square_mode, per-video start/end times and attn_implementation, through lmms-eval's interface
    (generate_until on Instances): the prompt ids and pixels are the processor's with the same options, and the
    predictions are what direct generation gives."""
    from lmms_tasks.models.tarsier import TarsierChat

    # Not square (so padding differs from stretching), and 3 s long (so trimming to 0.5-2 s changes the frames).
    videos = [str(write_video(tmp_path / "1.mp4", num_frames=30)), str(moving_pattern_video(tmp_path / "2.mp4"))]
    docs = [{"video": videos[0], "start": 0.5, "end": 2.0}, {"video": videos[1]}]
    model = TarsierChat(
        pretrained=str(tiny_checkpoint),
        num_frames="2",
        max_new_tokens="6",
        batch_size="2",
        square_mode="pad",
        attn_implementation="eager",
        dtype="float32",
    )
    assert model.model.config._attn_implementation == "eager"
    model.task_dict = {"t": {"test": docs}}
    calls = record_generate_calls(model, monkeypatch)
    outputs = model.generate_until([chat_request(0, {"until": ["\n\n"]}), chat_request(1, {"until": ["\n\n"]})])

    expected, inputs = direct(tiny_checkpoint, videos, [0.5, None], [2.0, None], 6, square_mode="pad")
    assert len(calls) == 1  # one batch of two
    assert calls[0]["input_ids"].tolist() == inputs["input_ids"].tolist()
    torch.testing.assert_close(calls[0]["pixel_values"], inputs["pixel_values"], rtol=0, atol=0)
    stretched = direct(tiny_checkpoint, videos, [0.5, None], [2.0, None], 1)[1]["pixel_values"]
    untrimmed = direct(tiny_checkpoint, videos, None, None, 1, square_mode="pad")[1]["pixel_values"]
    assert not torch.equal(stretched, inputs["pixel_values"]) and not torch.equal(untrimmed, inputs["pixel_values"])
    assert outputs == expected and all(outputs)
    assert run_protocol.model_settings()["square_mode"] == "pad"


def test_simple_and_chat_models_send_the_official_prompt(tiny_checkpoint, tmp_path, monkeypatch):
    from lmms_tasks.models.tarsier import Tarsier, TarsierChat
    from tarsier_hf.processing_tarsier import TarsierProcessor

    video = str(write_clip(tmp_path / "1.mp4", seed=1))
    processor = TarsierProcessor.from_pretrained(tiny_checkpoint)
    official = processor(text=OFFICIAL_PROMPT, videos=video, num_frames=2, return_tensors="pt")["input_ids"]
    for cls, request in ((TarsierChat, chat_request), (Tarsier, simple_request)):
        model = cls(pretrained=str(tiny_checkpoint), num_frames=2, max_new_tokens=2)
        model.task_dict = {"t": {"test": [{"video": video}]}}
        calls = record_generate_calls(model, monkeypatch)
        model.generate_until([request(0, {})])
        assert calls[0]["input_ids"].tolist() == official.tolist(), cls.__name__


def test_generation_settings_batches_and_stop_strings(tiny_checkpoint, tmp_path, monkeypatch):
    from lmms_tasks.models.tarsier import TarsierChat

    videos = [str(write_clip(tmp_path / f"{i}.mp4", seed=i)) for i in range(3)]
    model = TarsierChat(pretrained=str(tiny_checkpoint), num_frames="2", batch_size="2")
    assert (model.num_frames, model.batch_size) == (2, 2)
    model.task_dict = {"t": {"test": [{"video": v} for v in videos]}}
    calls = record_generate_calls(model, monkeypatch)

    greedy = {"max_new_tokens": 5, "temperature": 0, "do_sample": False, "until": ["\n\n"]}
    sampled = {"max_new_tokens": 5, "temperature": 0.7, "top_p": 0.9}
    outputs = model.generate_until([chat_request(0, greedy), chat_request(1, sampled), chat_request(2, greedy)])
    # Requests with the same settings share a batch (0 and 2), answered in request order.
    assert [call["input_ids"].shape[0] for call in calls] == [2, 1]
    assert calls[0]["do_sample"] is False and calls[0]["num_beams"] == 1 and calls[0]["max_new_tokens"] == 5
    assert calls[1]["do_sample"] is True and (calls[1]["temperature"], calls[1]["top_p"]) == (0.7, 0.9)
    expected, _ = direct(tiny_checkpoint, [videos[0], videos[2]], None, None, 5)
    assert [outputs[0], outputs[2]] == expected

    calls.clear()
    model.generate_until([chat_request(0, {})])
    assert calls[0]["max_new_tokens"] == 512  # the task gave none
    capped = TarsierChat(pretrained=str(tiny_checkpoint), num_frames=2, max_new_tokens="3")
    capped.task_dict = model.task_dict
    calls = record_generate_calls(capped, monkeypatch)
    capped.generate_until([chat_request(0, greedy)])
    assert calls[0]["max_new_tokens"] == 3  # the model argument wins over the task's
    assert run_protocol.model_settings()["num_frames"] == 2

    # Stop strings cut the text, except lmms-eval's default "\n\n".
    full = expected[0]
    stop = full[len(full) // 2 :].split()[0] if " " in full[len(full) // 2 :].strip() else full[-2:]
    cut = model.generate_until([chat_request(0, {**greedy, "until": ["\n\n", stop]})])[0]
    assert cut == full.split(stop, 1)[0].strip() and len(cut) < len(full)


def test_bad_model_arguments_are_clear_errors(tiny_checkpoint, tmp_path):
    from lmms_tasks.models.tarsier import Tarsier, TarsierChat

    with pytest.raises(ValueError, match="batch_size auto is not supported"):
        Tarsier(pretrained=str(tiny_checkpoint), batch_size="auto")
    with pytest.raises(ValueError, match="unknown dtype 'int8'"):
        Tarsier(pretrained=str(tiny_checkpoint), dtype="int8")
    with pytest.raises(ValueError, match="num_frames must be a positive integer, got '0'"):
        Tarsier(pretrained=str(tiny_checkpoint), num_frames="0")
    # The model source is checked as `tarsier describe --model` does: a path that does not exist is "folder not
    # found" (not huggingface_hub's "Repo id must be in the form ..."), a folder without config.json says so.
    with pytest.raises(ValueError, match=r"^tarsier: cannot load the model: /no/such: folder not found$"):
        Tarsier(pretrained="/no/such")
    with pytest.raises(ValueError, match=f"{tmp_path}: the folder has no config.json"):
        Tarsier(pretrained=str(tmp_path))
    # video_backend and square_mode reach the decoder / image processor: a wrong value is refused there, and the
    # request comes back marked as failed with that reason (the run goes on).
    from lmms_tasks import failed_generation

    video = str(write_clip(tmp_path / "1.mp4", seed=1))
    for option, problem in (
        ("video_backend", "backend must be 'auto', 'decord' or 'pyav', got 'vlc'"),
        ("square_mode", "square_mode must be one of"),
    ):
        model = TarsierChat(
            pretrained=str(tiny_checkpoint),
            num_frames=2,
            max_new_tokens=2,
            **{option: "vlc" if option == "video_backend" else "crop"},
        )
        model.task_dict = {"t": {"test": [{"video": video}]}}
        (output,) = model.generate_until([chat_request(0, {})])
        assert problem in (failed_generation.reason_of(output) or ""), output


def test_predictions_are_kept_when_the_judge_cannot_be_used(tmp_path, monkeypatch, caplog):
    from lmms_tasks.autodq import JudgeSetupError
    from lmms_tasks.autodq.cli import read_predictions
    from lmms_tasks.autodq.testing import LocalJudgeServer

    docs = data.docs_from_source(source_row(annotations=str(DREAM1K_ANNOTATIONS), video_dir=str(tmp_path)))
    items = [utils.dream1k_process_results(doc, [f"Prediction {doc['clip_id']}."])["autodq"] for doc in docs[:3]]
    args = argparse.Namespace(
        output_path=str(tmp_path / "out"), model="dummy", model_args="", limit=3, offset=0, gen_kwargs=""
    )
    with LocalJudgeServer(models={"another-judge"}) as server:  # answers 404 "model not found" to gpt-3.5-turbo-0125
        monkeypatch.setenv("TARSIER_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("TARSIER_AUTODQ_CACHE", str(tmp_path / "cache"))
        with caplog.at_level(logging.ERROR), pytest.raises(JudgeSetupError):
            utils.dream1k_autodq(items, args=args)
    (saved,) = (tmp_path / "out").rglob("predictions.jsonl")
    assert read_predictions(saved) == {"1": "Prediction 1.", "2": "Prediction 2.", "3": "Prediction 3."}
    assert f"tarsier-autodq score {saved} --annotations {DREAM1K_ANNOTATIONS}" in caplog.text
