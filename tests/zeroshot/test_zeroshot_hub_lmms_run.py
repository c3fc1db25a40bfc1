"""End-to-end Hub mode: ``lmms-eval --model tarsier --tasks tarsier_nextqa_mc_hub,tarsier_vatex_caption_hub --limit 3``
in a subprocess against a real local Hub on 127.0.0.1 holding the two datasets as lmms-eval's tasks download them
(parquet configs plus a zip of videos). lmms-eval downloads and unzips the videos into ``$HF_HOME/<cache_dir>``,
the hub tasks find them there, build Tarsier's prompts and score the answers with the released protocol."""

import io
import json
import os
import re
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _lmms_harness import base_env, output_of, run_lmms_eval, write_clip
from huggingface_hub import CommitOperationAdd, HfApi

from hub_cards.testing import LocalHubServer
from lmms_tasks.zeroshot.benchmarks import BENCHMARKS
from lmms_tasks.zeroshot.released_format import released_prompt

REPO = Path(__file__).resolve().parents[2]
EXCERPTS = REPO / "tests" / "data" / "tarsier_eval"
TASKS = ("tarsier_nextqa_mc_hub", "tarsier_vatex_caption_hub")
pytestmark = pytest.mark.slow


def _parquet(rows: list[dict]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def _zip(files: dict[str, Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in files.items():
            archive.write(path, name)
    return buffer.getvalue()


def _readme(config: str, path: str) -> bytes:
    return f"---\nconfigs:\n- config_name: {config}\n  data_files:\n  - split: test\n    path: {path}\n---\n".encode()


def _publish(api: HfApi, repo_id: str, files: dict[str, bytes]) -> None:
    api.create_repo(repo_id, repo_type="dataset")
    operations = [CommitOperationAdd(name, content) for name, content in files.items()]
    api.create_commit(repo_id, repo_type="dataset", operations=operations, commit_message="dataset")


def nextqa_rows() -> tuple[list[dict], list[dict]]:
    lines = [json.loads(line) for line in (EXCERPTS / "Next-QA-val-multi_choice.jsonl").read_text().splitlines()]
    rows = []
    for line in lines:
        question, *options = line["text"]["question"].strip("\n").split("\n")
        rows.append(
            {
                "video": int(line["vid"]),
                "question": question,
                **{f"a{i}": re.sub(r"^\([A-E]\) ", "", option) for i, option in enumerate(options)},
                "answer": "ABCDE".index(line["text"]["response"]),
                "qid": len(rows),
                "type": "CW",
            }
        )
    return rows, lines


VATEX_ROWS = [
    {"videoID": "vatex_clip_a", "enCap": ["A man is running.", "Someone runs fast."], "chCap": ["一个人在跑。"]},
    {"videoID": "vatex_clip_b", "enCap": ["A cat plays.", "A kitten is playing."], "chCap": ["猫在玩。"]},
    {"videoID": "vatex_clip_c", "enCap": ["A woman sings.", "A lady is singing."], "chCap": ["女人唱歌。"]},
]


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("zeroshot_hub_run")
    clips = root / "clips"
    clips.mkdir()
    rows, lines = nextqa_rows()
    nextqa_videos = {f"NExTVideo/{row['video']}.mp4": clips / f"{row['video']}.mp4" for row in rows}
    vatex_videos = {f"{row['videoID']}.mp4": clips / f"{row['videoID']}.mp4" for row in VATEX_ROWS}
    for seed, path in enumerate(sorted(set(nextqa_videos.values()) | set(vatex_videos.values()))):
        write_clip(path, seed=seed, num_frames=10)
    with LocalHubServer() as server:
        api = HfApi(endpoint=server.endpoint, token="hf_test")
        _publish(
            api,
            "lmms-eval/NExTQA",
            {
                "README.md": _readme("MC", "MC/test-*.parquet"),
                "MC/test-00000-of-00001.parquet": _parquet(rows),
                "NExTVideo.zip": _zip(nextqa_videos),
            },
        )
        _publish(
            api,
            "lmms-eval/VATEX",
            {
                "README.md": _readme("vatex_test", "vatex_test/test-*.parquet"),
                "vatex_test/test-00000-of-00001.parquet": _parquet(VATEX_ROWS),
                "videos.zip": _zip(vatex_videos),
            },
        )
        env = base_env(root)
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):  # the Hub is local here
            env.pop(name, None)
        env.update(
            HF_ENDPOINT=server.endpoint,
            HF_TOKEN="hf_test",  # the tasks ask for token=True, as lmms-eval's own
            TARSIER_AUTODQ_CACHE=str(root / "judge_cache"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        )
        model_args = f"pretrained={tiny_checkpoint},max_new_tokens=8,dtype=float32"
        args = ["--model", "tarsier", "--model_args", model_args, "--tasks", ",".join(TASKS), "--limit", "3"]
        process = run_lmms_eval([*args, "--output_path", str(root / "out"), "--log_samples"], env, root, timeout=600)
        requests = [path for _, path, _ in server.requests]
    results_files = sorted((root / "out").rglob("[0-9]*_results.json"))
    assert len(results_files) == 1, output_of(process)
    samples = {}
    for task in TASKS:
        (path,) = (root / "out").rglob(f"[0-9]*_samples_{task}.jsonl")
        samples[task] = sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda s: s["doc_id"])
    return {
        "root": root,
        "results": json.loads(results_files[0].read_text()),
        "samples": samples,
        "lines": lines,
        "requests": requests,
        "process": process,
    }


def test_videos_come_from_the_hub_and_land_where_lmms_eval_keeps_them(run):
    assert any(path.endswith("/NExTVideo.zip") for path in run["requests"])
    assert any(path.endswith("/videos.zip") for path in run["requests"])
    hf_home = run["root"] / "hf_home"
    assert sorted(p.name for p in (hf_home / "nextqa" / "NExTVideo").iterdir()) == ["4010069381.mp4"]
    assert (hf_home / "vatex_test" / "vatex_clip_a.mp4").is_file()


def test_hub_tasks_are_scored_with_tarsiers_prompts_and_protocol(run):
    tasks = run["results"]["results"]
    mc = tasks["tarsier_nextqa_mc_hub"]
    report = json.loads(Path(mc["results,none"]).read_text())
    assert report["overall"]["n"] == 3 and report["overall"]["n_parsed"] + report["n_failed_parse"] == 3, output_of(
        run["process"]
    )
    assert mc["accuracy,none"] == report["overall"]["accuracy"]
    protocol = report["protocol"]
    assert protocol["annotations"] == ["hub:lmms-eval/NExTQA (MC) split test"]
    assert protocol["prompt_source"].startswith("Hub rows carry no released prompts: the next-qa template")
    assert protocol["n_prompts_matching_template"] == protocol["n_prompts_checked"] == 3
    assert protocol["frames"] == 8

    caption = json.loads(Path(tasks["tarsier_vatex_caption_hub"]["results,none"]).read_text())
    assert (
        caption["overall"]["n"] == 3 and tasks["tarsier_vatex_caption_hub"]["cider,none"] == caption["overall"]["cider"]
    )
    assert caption["n_generation_errors"] == 0


def test_logged_prompts_are_the_released_ones(run):
    samples = run["samples"]["tarsier_nextqa_mc_hub"]
    assert [s["input"] for s in samples] == [released_prompt(line["text"]["prompt"]) for line in run["lines"][:3]]
    assert [s["target"] for s in samples] == [line["text"]["response"] for line in run["lines"][:3]]
    vatex = run["samples"]["tarsier_vatex_caption_hub"]
    assert {s["input"] for s in vatex} == {released_prompt(BENCHMARKS["vatex_caption"].template)}
    assert [json.loads(s["target"]) for s in vatex] == [row["enCap"] for row in VATEX_ROWS]
    assert all(s["filtered_resps"] for s in vatex)
