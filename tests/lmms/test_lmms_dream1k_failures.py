"""A long evaluation keeps going past bad clips, and a run without data stops at once with the fix.

- Missing and corrupt videos: the clips are listed as failed (with the reason), every other clip is generated and
  scored as in a clean run, and the results are written.
- No DREAM-1K data: lmms-eval retries a task's data loading on any exception and then exits 0 with only a
  ``RetryError`` in the log; the task stops the run with a non-zero status and the message that says what to set.
"""

import json
import shutil
from pathlib import Path

from _lmms_harness import base_env, load_run, output_of, run_lmms_eval
from test_lmms_dream1k_runs import reference_predictions

from lmms_tasks import failed_generation


def test_missing_and_corrupt_videos_fail_alone_and_the_rest_is_scored(
    tmp_path, lmms_env, tiny_checkpoint, dream1k_videos
):
    videos = tmp_path / "videos"
    videos.mkdir()
    for clip in "1234":
        shutil.copy(dream1k_videos / f"{clip}.mp4", videos / f"{clip}.mp4")
    # The 5th and 6th clips of the committed subset are 18 and 35: 18 is corrupt, 35 has no video.
    (videos / "18.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    lmms_env["TARSIER_DREAM1K_VIDEO_DIR"] = str(videos)
    model_args = f"pretrained={tiny_checkpoint},num_frames=2,max_new_tokens=8,dtype=float32"
    args = ["--tasks", "dream1k", "--limit", "6", "--output_path", str(tmp_path / "out"), "--log_samples"]
    process = run_lmms_eval(
        ["--model", "tarsier", "--model_args", model_args, "--batch_size", "3", *args], lmms_env, tmp_path
    )
    results, samples = load_run(tmp_path / "out", process)

    task = results["results"]["dream1k"]
    assert task["autodq_n_scored,none"] == 4 and task["autodq_n_failed,none"] == 2, output_of(process)
    report = json.loads(Path(task["autodq,none"]).read_text())
    assert sorted(report["failed_ids"]) == ["18", "35"]
    assert "cannot decode video" in report["failures"]["18"] and "18.mp4" in report["failures"]["18"]
    assert "no video named 35.<ext>" in report["failures"]["35"]
    assert report["per_source"]["DREAM/movie_animation"]["n_failed"] == 2

    # The good clips got exactly what a clean run gives them; the bad ones carry the reason, not a description.
    expected = reference_predictions(
        tiny_checkpoint, [videos / f"{i}.mp4" for i in "1234"], num_frames=2, max_new_tokens=8
    )
    assert [sample["autodq"]["prediction"] for sample in samples[:4]] == expected
    for sample in samples[4:]:
        assert sample["autodq"]["prediction"] is None
        assert failed_generation.reason_of(sample["filtered_resps"]) in report["failures"][sample["autodq"]["clip_id"]]
    log = process.stdout + process.stderr
    assert "2 of 6 requests could not be answered" in log, output_of(process)
    # predictions.jsonl (for re-scoring with tarsier-autodq) holds the 4 real descriptions only.
    predictions = (Path(task["autodq,none"]).parent / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(line)["idx"] for line in predictions] == ["1", "2", "3", "4"]


def test_a_run_without_data_stops_at_once_with_the_setting_to_fix(tmp_path, judge_server):
    env = base_env(tmp_path)  # offline, no annotations, no videos configured
    env["TARSIER_JUDGE_BASE_URL"] = judge_server.base_url
    process = run_lmms_eval(["--model", "dummy", "--tasks", "dream1k", "--limit", "2"], env, tmp_path, timeout=240)
    log = process.stdout + process.stderr
    assert process.returncode != 0, output_of(process)
    assert "dream1k:" in process.stderr and "TARSIER_DREAM1K_ANNOTATIONS" in process.stderr, output_of(process)
    assert "RetryError" not in log
    assert log.count("is not in the Hugging Face cache") == 1  # asked once, not five times


def test_a_missing_video_folder_is_named(tmp_path, lmms_env):
    lmms_env["TARSIER_DREAM1K_VIDEO_DIR"] = str(tmp_path / "no_such_folder")
    process = run_lmms_eval(["--model", "dummy", "--tasks", "dream1k", "--limit", "2"], lmms_env, tmp_path, timeout=240)
    assert process.returncode != 0, output_of(process)
    assert f"DREAM-1K video folder not found: {tmp_path / 'no_such_folder'}" in process.stderr, output_of(process)
