"""``tarsier-sbs report``: the study's numbers as JSON (``sbs_results.json``) and a PNG chart (``sbs.png``).

``sbs_results.json`` (for the Hub card tooling and for people)::

    {"models": {"a": NAME_A, "b": NAME_B},
     "protocol": {"n_pairs", "annotators_target", "seed", "bootstrap_resamples", "guide_source", "rates": ...},
     "human": {"overall": RATES, "per_source": {source: RATES}, "agreement": AGREEMENT or null,
               "annotators": {name: n_answers}},
     "llm": {JUDGE_MODEL: {"overall": RATES, "per_source": {...}, "n_incomplete", "position_bias",
                           "order_consistency", "agreement_with_humans"}}}

RATES and AGREEMENT are described in ``stats``; every rate is "for model A against model B" (win = A better).
"""

import json
from collections import defaultdict
from pathlib import Path

from . import stats
from .store import Study

RESULTS_FILE = "sbs_results.json"
PLOT_FILE = "sbs.png"
RATES_NOTE = (
    "win/same/loss: share of labels per clip, averaged over clips; advantage = win - loss (model A vs model B); "
    "95% CI: percentile bootstrap over clips"
)


def _by_source(labels_by_clip: dict[str, list[str]], source_of: dict[str, str], resamples: int, seed: int) -> dict:
    groups: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for clip, labels in labels_by_clip.items():
        groups[source_of[clip]][clip] = labels
    return {source: stats.summarize_labels(groups[source], resamples, seed) for source in sorted(groups)}


def build_report(study: Study, resamples: int = 1000, seed: int = 0) -> dict:
    """Everything ``report`` prints and saves, as a JSON-able dict (see the module docstring)."""
    pairs = study.pairs()
    source_of = {pair["clip_id"]: pair["source"] for pair in pairs}
    human: dict[str, dict[str, str]] = defaultdict(dict)
    for answer in study.answers():
        human[answer["clip_id"]][answer["annotator"]] = answer["choice"]
    human_lists = {clip: list(by_annotator.values()) for clip, by_annotator in human.items()}
    annotators: dict[str, int] = defaultdict(int)
    for by_annotator in human.values():
        for name in by_annotator:
            annotators[name] += 1
    results = {
        "models": study.meta("names"),
        "protocol": {
            "n_pairs": len(pairs),
            "annotators_target": study.meta("annotators"),
            "seed": study.meta("seed"),
            "bootstrap_resamples": resamples,
            "bootstrap_seed": seed,
            "guide_source": study.meta("guide_source"),
            "rates": RATES_NOTE,
        },
        "human": {
            "overall": stats.summarize_labels(human_lists, resamples, seed),
            "per_source": _by_source(human_lists, source_of, resamples, seed),
            "agreement": stats.agreement(human),
            "annotators": dict(sorted(annotators.items())),
        },
        "llm": {},
    }
    for judge_model in study.llm_judge_models():
        results["llm"][judge_model] = _llm_section(study, judge_model, human_lists, source_of, resamples, seed)
    return results


def _llm_section(study, judge_model, human_lists, source_of, resamples, seed) -> dict:
    by_clip: dict[str, dict[str, dict]] = defaultdict(dict)
    for judgment in study.llm_judgments(judge_model):
        by_clip[judgment["clip_id"]][judgment["first"]] = judgment
    combined, incomplete = {}, []
    verdicts = defaultdict(int)
    consistent = both = 0
    for clip in source_of:  # every pair of the study, in study order
        orders = by_clip.get(clip, {})
        for judgment in orders.values():
            verdicts[judgment["verdict"]] += 1
        label = stats.combine_orders(
            orders["a"]["choice"] if "a" in orders else None, orders["b"]["choice"] if "b" in orders else None
        )
        if label is None:
            incomplete.append(clip)
            continue
        both += 1
        consistent += orders["a"]["choice"] == orders["b"]["choice"]
        combined[clip] = label
    labels = {clip: [label] for clip, label in combined.items()}
    decided = verdicts["first"] + verdicts["second"]
    llm_labels, human_labels = [], []
    for clip, label in combined.items():
        majority = stats.majority(human_lists.get(clip, []))
        if majority is not None:
            llm_labels.append(label)
            human_labels.append(majority)
    return {
        "overall": stats.summarize_labels(labels, resamples, seed),
        "per_source": _by_source(labels, source_of, resamples, seed),
        "n_incomplete": len(incomplete),
        "incomplete_ids": incomplete,
        "verdicts": dict(verdicts),
        # Share of decided verdicts (not "same") that chose the description shown first: 0.5 means no position bias.
        "position_bias": verdicts["first"] / decided if decided else None,
        # Share of clips where both orders gave the same model-level choice.
        "order_consistency": consistent / both if both else None,
        "agreement_with_humans": {
            "n_clips": len(llm_labels),
            "note": "LLM label (both orders combined) against the human majority label; clips without a majority "
            "are left out",
            "accuracy": sum(x == y for x, y in zip(llm_labels, human_labels, strict=True)) / len(llm_labels)
            if llm_labels
            else None,
            "cohen_kappa": stats.cohen_kappa(llm_labels, human_labels),
        },
    }


def save_report(results: dict, output_dir: str | Path) -> dict[str, Path]:
    """Write ``sbs_results.json`` and ``sbs.png`` into ``output_dir``; returns their paths."""
    from .plot import plot_report

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {"results": output_dir / RESULTS_FILE, "plot": output_dir / PLOT_FILE}
    paths["results"].write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plot_report(results, paths["plot"])
    return paths


def _percent(value) -> str:
    return "      -" if value is None else f"{100 * value:6.1f}%"


def _row(name: str, rates: dict) -> str:
    interval = rates["advantage_ci95"]
    ci = f"[{100 * interval[0]:+.1f}%, {100 * interval[1]:+.1f}%]" if interval else ""
    advantage = "     -" if rates["advantage"] is None else f"{100 * rates['advantage']:+6.1f}%"
    return (
        f"{name:<28}{rates['n_clips']:>6}{rates['n_labels']:>8}{_percent(rates['win'])}{_percent(rates['same'])}"
        f"{_percent(rates['loss'])}  {advantage}  {ci}"
    )


def format_summary(results: dict) -> str:
    names = results["models"]
    lines = [f"Side-by-side: A = {names['a']}  vs  B = {names['b']}  (win = A better)"]
    sections = [("human annotators", results["human"])] + [
        (f"LLM annotator {model} (both orders)", section) for model, section in results["llm"].items()
    ]
    for title, section in sections:
        lines.append(f"\n{title}")
        lines.append(
            f"{'source':<28}{'clips':>6}{'labels':>8}{'win':>7}{'same':>7}{'loss':>7}  {'advantage':>7}  95% CI"
        )
        for source, rates in section["per_source"].items():
            lines.append(_row(source, rates))
        lines.append(_row("OVERALL", section["overall"]))
    agreement = results["human"]["agreement"]
    if agreement:
        kappa = agreement["fleiss_kappa"]
        lines.append(
            f"\ninter-annotator agreement over {agreement['n_clips']} clips: Fleiss' kappa "
            f"{'undefined' if kappa is None else f'{kappa:.3f}'}, pairwise agreement {agreement['percent_agreement']:.3f}"
        )
        for pair, value in agreement["cohen_kappa"].items():
            kappa = value["kappa"]
            lines.append(f"  Cohen's kappa {pair}: {'undefined' if kappa is None else f'{kappa:.3f}'} (n={value['n']})")
    for model, section in results["llm"].items():
        versus = section["agreement_with_humans"]
        kappa, accuracy = versus["cohen_kappa"], versus["accuracy"]
        bias = section["position_bias"]
        lines.append(
            f"\nLLM {model}: {section['n_incomplete']} clips incomplete; prefers the first description in "
            f"{'-' if bias is None else f'{100 * bias:.1f}%'} of its decided verdicts; vs human majority on "
            f"{versus['n_clips']} clips: accuracy {'-' if accuracy is None else f'{accuracy:.3f}'}"
            f", Cohen's kappa {'undefined' if kappa is None else f'{kappa:.3f}'}"
        )
    return "\n".join(lines)
