"""A PNG summary of AutoDQ results: per-source bars, and scores against the number of events (paper, Figure 5).

Drawn with matplotlib's object API on an Agg canvas, so it needs no display and leaves pyplot's state alone.
"""

from pathlib import Path

METRICS = (("f1", "F1"), ("recall", "recall"), ("precision", "precision"))


def _value(scores: dict, metric: str) -> float:
    value = scores.get(metric)
    return float("nan") if value is None else value


def plot_results(results: dict, path: str | Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    by_source, by_events = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})

    sources = list(results["per_source"])
    labels = [source.split("/")[-1] for source in sources] + ["overall"]
    rows = [results["per_source"][source] for source in sources] + [results["overall"]]
    width = 0.8 / len(METRICS)
    for offset, (metric, name) in enumerate(METRICS):
        positions = [index + (offset - 1) * width for index in range(len(rows))]
        bars = by_source.bar(positions, [_value(row, metric) for row in rows], width, label=name)
        by_source.bar_label(bars, fmt="%.3f", fontsize=6, padding=1)
    by_source.set_xticks(
        range(len(rows)), [f"{label}\n(n={row['n']})" for label, row in zip(labels, rows, strict=True)], fontsize=8
    )
    by_source.set_ylim(0, 1.05)
    by_source.set_ylabel("score")
    interval = results.get("f1_ci95")
    ci_text = f", F1 95% CI [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""
    by_source.set_title(f"AutoDQ per source (failed clips: {results.get('n_failed', 0)}{ci_text})", fontsize=10)
    by_source.legend(fontsize=8, loc="upper right")

    buckets = results["buckets"]["events"]
    bucket_labels = list(buckets)
    for metric, name in METRICS:
        by_events.plot(
            range(len(bucket_labels)),
            [_value(buckets[label], metric) for label in bucket_labels],
            marker="o",
            label=name,
        )
    by_events.set_xticks(
        range(len(bucket_labels)), [f"{label}\n(n={buckets[label]['n']})" for label in bucket_labels], fontsize=8
    )
    by_events.set_xlabel("number of events in the reference")
    by_events.set_ylim(0, 1.05)
    by_events.set_title("AutoDQ vs number of events", fontsize=10)
    by_events.legend(fontsize=8)

    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, format="png")
    return path
