"""AutoDQ scoring throughput against a local OpenAI-compatible judge with added latency, and the cached re-run.

    python benchmarks/autodq.py [--clips 1000] [--latency 0.1] [--concurrency 16 ...] [--annotations PATH]

The judge is ``lmms_tasks.autodq.testing`` served from a separate process (so that its work does not share this
process's interpreter lock), every request held ``--latency`` seconds. For each concurrency the scorer runs once
with an empty cache, then again over the same cache. The baseline is the ideal wall time of the first run:
calls x latency / concurrency (the calls counted at the server). Targets: first run <= 1.5x ideal, re-run 0 calls.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from lmms_tasks.autodq import AutoDQScorer, JudgeConfig, load_dream1k_annotations

DEFAULT_ANNOTATIONS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dream1k" / "DREAM-1k.jsonl"
TARGET_RATIO = 1.5


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "lmms_tasks.autodq.testing", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    return process, process.stdout.readline().strip()


def server_calls(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/stats") as response:
        return json.load(response)["calls"]


def predictions_for(annotations: dict[str, dict], clips: int) -> dict[str, str]:
    """One distinct description per clip: some of its reference events plus one invented sentence."""
    chosen = list(annotations)[:clips]
    return {
        idx: " ".join(annotations[idx]["events"][: int(idx) % 6]) + f" Person {idx} waves at the camera."
        for idx in chosen
    }


def timed_score(
    base_url: str, concurrency: int, cache_dir: Path, predictions: dict, annotations: dict
) -> tuple[float, int, dict]:
    scorer = AutoDQScorer(
        JudgeConfig(base_url=base_url, concurrency=concurrency), cache_dir=cache_dir, show_progress=False
    )
    calls_before = server_calls(base_url)
    start = time.perf_counter()
    report = scorer.score(predictions, annotations)
    return time.perf_counter() - start, server_calls(base_url) - calls_before, report.results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the judge holds every request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16])
    parser.add_argument("--annotations", type=Path, default=DEFAULT_ANNOTATIONS)
    args = parser.parse_args()

    annotations = load_dream1k_annotations(args.annotations)
    predictions = predictions_for(annotations, args.clips)
    server, base_url = start_server(args.latency)
    met = True
    try:
        print(
            f"AutoDQ benchmark: {len(predictions)} clips, judge latency {args.latency * 1000:.0f} ms, server {base_url}"
        )
        for concurrency in args.concurrency:
            with tempfile.TemporaryDirectory() as cache_dir:
                wall, calls, results = timed_score(base_url, concurrency, Path(cache_dir), predictions, annotations)
                ideal = calls * args.latency / concurrency
                cached_wall, cached_calls, cached_results = timed_score(
                    base_url, concurrency, Path(cache_dir), predictions, annotations
                )
            ratio = wall / ideal
            same = all(cached_results[key] == results[key] for key in ("overall", "per_source", "buckets", "f1_ci95"))
            met &= ratio <= TARGET_RATIO and cached_calls == 0 and same and results["n_failed"] == 0
            print(
                f"concurrency {concurrency:>3}: {calls} calls in {wall:.2f} s; ideal {ideal:.2f} s "
                f"(calls x latency / concurrency); ratio {ratio:.2f}x (target <= {TARGET_RATIO}x); "
                f"{results['n_scored']} scored, {results['n_failed']} failed"
            )
            print(
                f"  cached re-run: {cached_calls} calls in {cached_wall:.2f} s "
                f"({wall / cached_wall:.0f}x faster); numbers identical: {same}"
            )
    finally:
        server.terminate()
        server.wait()
    print("targets met" if met else "TARGETS MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
