"""Regenerate ``zeroshot_nextqa_local_results.json`` and ``zeroshot_nextqa_hub_results.json`` of this folder
(provenance; not run by the tests).

Real ``lmms-eval --model tarsier --tasks tarsier_nextqa_mc`` and ``--tasks tarsier_nextqa_mc_hub`` runs (``--limit 2``),
as the end-to-end tests of ``tests/zeroshot/`` make them: the tiny random checkpoint
(``max_new_tokens=16,dtype=bfloat16``), the local NExT-QA *val* excerpt of ``tests/data/tarsier_eval`` (the released
``Next-QA-val-multi_choice.jsonl`` format) for the local task, and the same rows published as ``lmms-eval/NExTQA``
(config ``MC``, split ``test``) on the local Hub of ``hub_cards.testing`` for the hub task, in two runs. Paths under the
run folder are replaced by ``/run/...``, paths in this repository by ``/repo/...``.

Usage: ``PYTHONPATH=. python tests/data/hub/regenerate_zeroshot.py OUT_DIR`` then copy the files from OUT_DIR.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lmms"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "zeroshot"))

from _lmms_harness import base_env, output_of, run_lmms_eval, write_clip
from huggingface_hub import HfApi
from test_zeroshot_hub_lmms_run import _parquet, _publish, _readme, _zip, nextqa_rows

from hub_cards.testing import LocalHubServer
from tarsier_hf.testing import save_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[3]
EXCERPTS = ROOT / "tests" / "data" / "tarsier_eval"


def main(out: Path) -> None:
    clips = out / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    rows, lines = nextqa_rows()
    videos = {f"NExTVideo/{row['video']}.mp4": clips / f"{row['video']}.mp4" for row in rows}
    for seed, path in enumerate(sorted(set(videos.values()))):
        write_clip(path, seed=seed, num_frames=10)
    checkpoint = save_tiny_checkpoint(out / "ckpt")
    with LocalHubServer() as server:
        api = HfApi(endpoint=server.endpoint, token="hf_test")
        _publish(
            api,
            "lmms-eval/NExTQA",
            {
                "README.md": _readme("MC", "MC/test-*.parquet"),
                "MC/test-00000-of-00001.parquet": _parquet(rows),
                "NExTVideo.zip": _zip(videos),
            },
        )
        env = base_env(out)
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            env.pop(name, None)
        env.update(
            HF_ENDPOINT=server.endpoint,
            HF_TOKEN="hf_test",
            TARSIER_EVAL_ANNOTATIONS_DIR=str(EXCERPTS),
            TARSIER_EVAL_VIDEO_DIR=str(clips),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        )
        model_args = f"pretrained={checkpoint},max_new_tokens=16,dtype=bfloat16"
        for name, task in (("local", "tarsier_nextqa_mc"), ("hub", "tarsier_nextqa_mc_hub")):
            args = ["--model", "tarsier", "--model_args", model_args, "--tasks", task, "--limit", "2"]
            process = run_lmms_eval([*args, "--output_path", str(out / name)], env, out, timeout=900)
            (results,) = sorted((out / name).rglob("[0-9]*_results.json")) or [None]
            if results is None:
                raise SystemExit(output_of(process))
            keep = {results: out / f"zeroshot_nextqa_{name}_results.json"}
            # The scorer's report, in its run folder next to the results file (where results,none points).
            for report in results.parent.glob("tarsier_nextqa_mc_*/nextqa_mc_results.json"):
                keep[report] = out / report.parent.name / report.name
            for source, target in keep.items():
                target.parent.mkdir(parents=True, exist_ok=True)
                text = source.read_text(encoding="utf-8").replace(str(out), "/run").replace(str(ROOT), "/repo")
                target.write_text(text, encoding="utf-8")
            data = json.loads(keep[results].read_text(encoding="utf-8"))["results"][task]
            print(name, {key: value for key, value in data.items() if "stderr" not in key})


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
