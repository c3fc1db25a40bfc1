"""``tarsier-hub push-*`` through the real ``huggingface_hub`` client (and ``datasets``), in subprocesses whose
``HF_ENDPOINT`` points at the local Hub (``hub_cards.testing.LocalHubServer``): what is committed, cards merged,
datasets that ``load_dataset`` reads, 401/403/500 turned into clear errors and exit codes, tokens never shown."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _hub_harness import DATA, READ_TOKEN, TOKEN, assert_token_not_written, output_of, run_hub
from huggingface_hub import HfApi, ModelCard, parse_eval_result_entries


@pytest.fixture
def checkpoint(tmp_path, tiny_checkpoint):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    return folder


def metrics_of(card) -> dict:
    return {(r.dataset_type, r.metric_type): r.metric_value for r in card.data.eval_results}


def test_push_model_then_results_commit_the_files_and_the_merged_card(tmp_path, checkpoint, hub_env, hub_server):
    repo = "tester/tiny-tarsier"
    requests_before = len(hub_server.requests)
    dry = run_hub(["push-model", checkpoint, repo, "--dry-run"], hub_env, tmp_path)
    assert dry.returncode == 0, output_of(dry)
    assert "would upload" in dry.stdout and "model.safetensors" in dry.stdout and "README.md" in dry.stdout
    assert len(hub_server.requests) == requests_before and not (checkpoint / "README.md").exists()

    pushed = run_hub(["push-model", checkpoint, repo], hub_env, tmp_path)
    assert pushed.returncode == 0, output_of(pushed)
    files = hub_server.files(repo)
    local = {path.name: path.read_bytes() for path in checkpoint.iterdir() if path.is_file()}
    assert set(local) <= set(files) and all(files[name] == data for name, data in local.items())
    card = ModelCard(files["README.md"].decode())
    assert card.data.pipeline_tag == "video-text-to-text" and "tarsier" in card.data.tags
    assert 'from_pretrained("tester/tiny-tarsier"' in card.text
    assert f"commit: {hub_server.endpoint}/tester/tiny-tarsier/commit/" in pushed.stdout

    results = run_hub(["push-results", DATA / "dream1k_dummy_results.json", "--repo-id", repo], hub_env, tmp_path)
    assert results.returncode == 0, output_of(results)
    commit = hub_server.commits(repo)[-1]
    assert commit.changed == [".eval_results/dream1k.yaml", "README.md", "evaluation/dream1k_dummy_results.json"]
    assert commit.title == "Add evaluation results (dream1k)"
    files = hub_server.files(repo)
    assert files["evaluation/dream1k_dummy_results.json"] == (DATA / "dream1k_dummy_results.json").read_bytes()
    merged = ModelCard(files["README.md"].decode())
    assert merged.data.model_name == "tiny-tarsier"  # the pushed card had no model-index: named after the repo
    assert metrics_of(merged) == {
        ("omni-research/DREAM-1K", "f1"): 0.1111,
        ("omni-research/DREAM-1K", "precision"): 0.125,
        ("omni-research/DREAM-1K", "recall"): 0.1,
    }
    source = f"{hub_server.endpoint}/{repo}/blob/main/evaluation/dream1k_dummy_results.json"
    assert merged.data.eval_results[0].source_url == source
    assert "## How to use" in merged.text and "Tokens per frame: 7" in merged.text  # the pushed card's prose stays
    (entry,) = parse_eval_result_entries(yaml.safe_load(files[".eval_results/dream1k.yaml"]))
    assert (entry.dataset_id, entry.task_id, entry.value, entry.source_url) == (
        "omni-research/DREAM-1K",
        "dream1k",
        0.1111,
        source,
    )

    # Newer numbers for the same metrics replace them; other files are untouched.
    again = run_hub(["push-results", DATA / "dream1k_tarsier_results.json", "--repo-id", repo], hub_env, tmp_path)
    assert again.returncode == 0, output_of(again)
    card = ModelCard(hub_server.files(repo)["README.md"].decode())
    assert metrics_of(card)[("omni-research/DREAM-1K", "f1")] == 0.0 and len(card.data.eval_results) == 3
    assert hub_server.files(repo)["model.safetensors"] == local["model.safetensors"]
    assert all(
        authenticated for _, path, authenticated in hub_server.requests[requests_before:] if "validate-yaml" not in path
    )  # ModelCard.validate sends no credentials, like on the real Hub
    assert_token_not_written(tmp_path)


def test_push_results_keeps_a_foreign_card_and_its_results(tmp_path, hub_env, hub_server):
    repo = "tester/foreign"
    api = HfApi(endpoint=hub_server.endpoint, token=TOKEN)
    api.create_repo(repo)
    foreign = (
        "---\nlicense: mit\nmodel-index:\n- name: foreign\n  results:\n  - task: {type: video-text-to-text}\n"
        "    dataset: {name: Other, type: someone/other}\n    metrics:\n    - {type: accuracy, value: 0.5}\n"
        "---\n\n# Foreign\n\nProse by someone else.\n"
    )
    api.upload_file(path_or_fileobj=foreign.encode(), path_in_repo="README.md", repo_id=repo)
    process = run_hub(
        ["push-results", next(DATA.glob("dream1k_autodq_*/autodq_results.json")), "--repo-id", repo], hub_env, tmp_path
    )
    assert process.returncode == 0, output_of(process)
    card = ModelCard(hub_server.files(repo)["README.md"].decode())
    assert metrics_of(card)[("someone/other", "accuracy")] == 0.5
    assert metrics_of(card)[("omni-research/DREAM-1K", "f1")] == 0.1111
    assert card.data.license == "mit" and card.data.model_name == "foreign" and "Prose by someone else." in card.text


def test_push_model_private_branch_and_pull_request(tmp_path, checkpoint, hub_env, hub_server):
    repo = "tester/private-tarsier"
    process = run_hub(["push-model", checkpoint, repo, "--private", "--revision", "dev"], hub_env, tmp_path)
    assert process.returncode == 0, output_of(process)
    assert hub_server.is_private(repo)
    assert "model.safetensors" in hub_server.files(repo, revision="dev")
    assert "model.safetensors" not in hub_server.files(repo, revision="main")

    pr = run_hub(["push-model", checkpoint, repo, "--create-pr"], hub_env, tmp_path)
    assert pr.returncode == 0, output_of(pr)
    assert f"pull request: {hub_server.endpoint}/tester/private-tarsier/discussions/1" in pr.stdout
    assert "model.safetensors" in hub_server.files(repo, revision="refs/pr/1")
    assert "model.safetensors" not in hub_server.files(repo, revision="main")


@pytest.mark.parametrize(
    ("fault", "expected", "exit_code"),
    [
        ("401", "rejected the credentials (401)", 3),
        ("403", "permission denied for tester/faulty-403 (403)", 3),
        ("500", "server error (500)", 4),
    ],
)
def test_hub_errors_give_a_clear_message_and_exit_code(
    fault, expected, exit_code, tmp_path, checkpoint, hub_env, hub_server
):
    repo = f"tester/faulty-{fault}"
    if fault == "403":
        hub_env["HF_TOKEN"] = READ_TOKEN  # a real read-only token, refused by the server's permission check
    else:
        hub_server.inject(int(fault), times=1, path_contains="/api/repos/create")
    process = run_hub(["push-model", checkpoint, repo], hub_env, tmp_path)
    assert process.returncode == exit_code, output_of(process)
    assert expected in process.stderr and "Traceback" not in process.stderr
    assert not hub_server.commits(repo)
    assert READ_TOKEN not in process.stdout + process.stderr


LOAD_SCRIPT = """
import json, sys
from datasets import Video, load_dataset
from hub_cards.dataset import to_training_row
out = {}
for name, source in (("hub", sys.argv[1]), ("local", sys.argv[2]), ("dream", sys.argv[3])):
    split = "test" if name == "dream" else "train"
    ds = load_dataset(source, split=split).cast_column("video", Video(decode=False))
    rows = [dict(row) for row in ds]
    out[name] = {"columns": ds.column_names, "rows": [to_training_row(row) for row in rows] if name != "dream" else
                 [{**row, "video": row["video"]["path"]} for row in rows]}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_pushed_dataset_and_local_videofolder_load_with_datasets(
    tmp_path, training_folder, dream1k_folder, hub_env, hub_server
):
    from hub_cards.dataset import package_dataset

    repo = "tester/video-sft"
    process = run_hub(
        [
            "push-dataset",
            training_folder,
            repo,
            "--license",
            "cc-by-4.0",
            "--gated",
            "--private",
            "--output-dir",
            tmp_path / "pkg",
        ],
        hub_env,
        tmp_path,
    )
    assert process.returncode == 0, output_of(process)
    files = hub_server.files(repo, repo_type="dataset")
    assert sorted(files) == [
        ".gitattributes",
        "README.md",
        "data/train/metadata.jsonl",
        "data/train/videos/c0.mp4",
        "data/train/videos/c1.mp4",
        "data/train/videos/c2.mp4",
        "training_rows/train.jsonl",
    ]
    assert files["data/train/videos/c1.mp4"] == (training_folder / "clips" / "c1.mp4").read_bytes()
    assert hub_server.is_private(repo, "dataset") and hub_server.settings(repo, "dataset") == {"gated": "auto"}
    card = yaml.safe_load(files["README.md"].decode().split("---")[1])
    assert card["license"] == "cc-by-4.0" and card["configs"][0]["data_files"] == [
        {"split": "train", "path": "data/train/**"}
    ]
    assert "extra_gated_prompt" in card and "checking videos" in process.stderr  # progress bars on stderr

    dream = package_dataset(dream1k_folder, tmp_path / "dream_pkg", progress=False)
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, repo, str(tmp_path / "pkg"), str(dream.folder)],
        env=hub_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert loaded.returncode == 0, output_of(loaded)
    out = json.loads(loaded.stdout.strip().splitlines()[-1])
    expected = [json.loads(line) for line in (training_folder / "train.jsonl").read_text().splitlines()]
    for name in ("hub", "local"):
        assert out[name]["columns"] == ["video", "id", "start", "end", "messages"]
        rows = out[name]["rows"]
        assert [{**row, "video": None} for row in rows] == [{**row, "video": None} for row in expected]
        # Each row's video is the same file as in the source folder.
        for row, source in zip(rows, expected):
            assert Path(row["video"]).read_bytes() == (training_folder / source["video"]).read_bytes()
    assert "hf_home" in out["hub"]["rows"][0]["video"]  # downloaded through the Hub cache
    dream_rows = out["dream"]["rows"]
    assert [row["idx"] for row in dream_rows] == ["1", "2", "3"] and dream_rows[0]["events"][
        0
    ] == "A character emerges from smoke and fire."
    assert dream_rows[0]["source"] == "DREAM/movie_animation" and dream_rows[0]["video"].endswith(
        "data/test/videos/1.mp4"
    )
    assert_token_not_written(tmp_path)


def test_unreachable_hub_and_dry_runs(tmp_path, checkpoint, hub_server, monkeypatch, capsys):
    import socket

    from huggingface_hub import constants

    from hub_cards.cli import main as hub_main

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setattr(constants, "ENDPOINT", closed)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert hub_main(["push-model", str(checkpoint), "tester/offline"]) == 4
    err = capsys.readouterr().err
    assert f"cannot reach the Hub at {closed}" in err and TOKEN not in err

    monkeypatch.setattr(constants, "ENDPOINT", hub_server.endpoint)
    requests = len(hub_server.requests)
    assert (
        hub_main(["push-results", str(DATA / "dream1k_dummy_results.json"), "--repo-id", "tester/x", "--dry-run"]) == 0
    )
    out = capsys.readouterr().out
    assert "would upload 3 files to tester/x" in out and ".eval_results/dream1k.yaml" in out
    assert len(hub_server.requests) == requests


@pytest.mark.parametrize(
    "repo_id",
    ["bad id!!", "no-owner", "a/b/c", "owner/name--x", "owner/name.git", "owner/café", "/name", "owner/"],
)
def test_every_push_refuses_an_invalid_repo_id_before_any_network_access(
    repo_id, tmp_path, checkpoint, training_folder, hub_server, monkeypatch, capsys
):
    """README promises exit 1 for invalid input: a bad id is named, dry run or not, and the Hub never hears of it."""
    from huggingface_hub import constants

    from hub_cards.cli import main as hub_main

    monkeypatch.setattr(constants, "ENDPOINT", hub_server.endpoint)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    requests = len(hub_server.requests)
    results = str(DATA / "dream1k_dummy_results.json")
    for command in (
        ["push-model", str(checkpoint), repo_id],
        ["push-model", str(checkpoint), repo_id, "--dry-run"],
        ["push-results", results, "--repo-id", repo_id],
        ["push-results", results, "--repo-id", repo_id, "--dry-run"],
        ["push-dataset", str(training_folder), repo_id],
        ["push-dataset", str(training_folder), repo_id, "--dry-run"],
        ["model-card", str(checkpoint), "--repo-id", repo_id, "--dry-run"],
    ):
        assert hub_main(command) == 1, command
        err = capsys.readouterr().err
        assert f"invalid repo id {repo_id!r}" in err, (command, err)
    assert len(hub_server.requests) == requests  # nothing reached the Hub
    assert not (checkpoint / "README.md").exists()  # nor was anything written


def test_valid_repo_ids_pass_the_check():
    from hub_cards.hub import check_repo_id

    for repo_id in ("tester/x", "your-name/Tarsier-7b-mine", "Org_1/model.v2", "a/b"):
        assert check_repo_id(repo_id) == repo_id
