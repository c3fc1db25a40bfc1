"""The protocol written with every zero-shot result: what produced the numbers, so that they can be compared.

The caller adds what the scorer cannot know (frames actually used, generation settings, model, data files, and the
prompt source when the rows are not the released files') through ``caller``; the scorer adds the benchmark's definition (released scorer, annotation file, prompt template
and whether the prompts match it), the judge settings for judged QA, and package versions.
"""

from __future__ import annotations

from lmms_tasks.autodq.protocol import package_versions

from .benchmarks import CAPTION, MC, OE_QA, RELEASED_COMMIT, RELEASED_REPO, Benchmark

RELEASED_SCORERS = {
    MC: "evaluation/metrics/evaluate_qa_mc.py (AccuracyMetric)",
    OE_QA: "evaluation/metrics/evaluate_qa_oe_gpt.py (GPTMetric)",
    CAPTION: "evaluation/metrics/evaluate_caption_cider.py (CIDErMetric)",
}
METRICS = {MC: "accuracy", OE_QA: "Video-ChatGPT judge accuracy and score", CAPTION: "CIDEr-D (PTB tokenized)"}


def prompt_note(benchmark: Benchmark) -> str:
    if benchmark.released_file:
        return f"prompts from the released annotation file {benchmark.annotation_file}"
    return (
        f"the released repository has no {benchmark.annotation_file}: rows without text.prompt use the template of "
        f"{benchmark.template_from}, the nearest benchmark with a released annotation file"
    )


def build_protocol(
    benchmark: Benchmark, records: list[dict], *, judge: dict | None = None, caller: dict | None = None
) -> dict:
    with_prompt = [record for record in records if isinstance(record.get("prompt"), str)]
    if "${question}" in benchmark.template:
        with_prompt = [record for record in with_prompt if isinstance(record.get("question"), str)]
    matches = [record["prompt"] == benchmark.render(record.get("question") or "") for record in with_prompt]
    protocol = {
        **(caller or {}),
        "benchmark": benchmark.key,
        "released_benchmark": benchmark.released_name,
        "released_dataset_field": benchmark.subtask or benchmark.dataset,
        "family": benchmark.family,
        "metric": METRICS[benchmark.family],
        "faithful_to": f"{RELEASED_REPO} {RELEASED_SCORERS[benchmark.family]} @ {RELEASED_COMMIT}",
        "annotation_file": benchmark.annotation_file,
        "annotation_file_released": benchmark.released_file,
        "prompt_source": (caller or {}).get("prompt_source") or prompt_note(benchmark),
        "prompt_template": benchmark.template,
        "prompt_template_from": benchmark.template_from,
        "prompt_template_hash": benchmark.template_hash,
        "n_prompts_matching_template": sum(matches),
        "n_prompts_checked": len(matches),
        "frames_paper": benchmark.num_frames,
        "package_versions": package_versions(),
    }
    if judge is not None:
        protocol.update(judge)
    return protocol
