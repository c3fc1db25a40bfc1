"""Regenerate the committed lmms-eval results files of this folder (provenance; not run by the tests).

They are real outputs of the ``dream1k`` end-to-end runs of ``tests/lmms/test_lmms_dream1k_runs.py``: the same
harness (real DREAM-1K annotations, generated clips named after clip ids 1-4, the local judge server), run once
because a run takes 1-2 minutes of CPU:

- ``dream1k_tarsier_results.json``: ``--model tarsier`` with the tiny random checkpoint of ``tests/lmms/conftest.py``
  (``num_frames=2,max_new_tokens=8,dtype=float32``): AutoDQ F1 0, precision 0.125, recall 0;
- ``dream1k_dummy_results.json`` and its run folder ``dream1k_autodq_*/`` (only ``autodq_results.json`` kept):
  ``--model dummy`` with the fixed response of ``test_dummy_model_run_is_scored_once_with_every_field``: F1 0.1111,
  precision 0.125, recall 0.1.

Usage: ``PYTHONPATH=. python tests/data/hub/regenerate.py OUT_DIR`` then copy the files from OUT_DIR.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lmms"))

from _lmms_harness import CLIP_IDS, DREAM1K_ANNOTATIONS, base_env, load_run, run_lmms_eval, write_clip

from lmms_tasks.autodq.testing import LocalJudgeServer
from tarsier_hf.testing import save_tiny_checkpoint

DUMMY_RESPONSE = "A character emerges from smoke and fire. The character half kneels on the ground."


def main(out: Path) -> None:
    videos = out / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    for clip_id in CLIP_IDS[:4]:
        write_clip(videos / f"{clip_id}.mp4", seed=int(clip_id))
    larger_init = {"initializer_range": 0.2}
    checkpoint = save_tiny_checkpoint(out / "ckpt", text=larger_init, vision=larger_init)
    runs = {
        "tarsier": [
            "--model",
            "tarsier",
            "--model_args",
            f"pretrained={checkpoint},num_frames=2,max_new_tokens=8,dtype=float32",
        ],
        "dummy": ["--model", "dummy", "--model_args", f"response={DUMMY_RESPONSE}"],
    }
    with LocalJudgeServer() as judge:
        env = base_env(out)
        env.update(
            TARSIER_DREAM1K_ANNOTATIONS=str(DREAM1K_ANNOTATIONS),
            TARSIER_DREAM1K_VIDEO_DIR=str(videos),
            TARSIER_JUDGE_BASE_URL=judge.base_url,
            TARSIER_AUTODQ_CACHE=str(out / "cache"),
        )
        for name, model_args in runs.items():
            args = [
                *model_args,
                "--tasks",
                "dream1k",
                "--limit",
                "4",
                "--output_path",
                str(out / name),
                "--log_samples",
            ]
            results, _ = load_run(out / name, run_lmms_eval(args, env, out))
            print(
                name,
                {
                    key: value
                    for key, value in results["results"]["dream1k"].items()
                    if "stderr" not in key and key != "autodq,none"
                },
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
