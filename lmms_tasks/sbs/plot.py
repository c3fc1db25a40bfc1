"""The PNG chart of a side-by-side report: per source and overall, stacked win / same / loss bars with the advantage
rate and its 95% CI, one panel for the human annotators and one per LLM annotator.

Drawn with matplotlib's object API on an Agg canvas (no display, pyplot's state untouched), like ``autodq.plot``.
"""

from pathlib import Path

COLOURS = {"win": "#2a9d8f", "same": "#c9c9c9", "loss": "#e76f51"}


def _panel(axes, title: str, section: dict, names: dict) -> None:
    rows = [(source.split("/")[-1], rates) for source, rates in section["per_source"].items()]
    rows.append(("overall", section["overall"]))
    rows = [(label, rates) for label, rates in rows if rates["n_clips"]]
    labels = [f"{label} (n={rates['n_clips']})" for label, rates in rows]
    positions = list(range(len(rows)))[::-1]
    left = [0.0] * len(rows)
    for key, legend in (("win", f"{names['a']} better"), ("same", "same"), ("loss", f"{names['b']} better")):
        widths = [rates[key] for _, rates in rows]
        axes.barh(positions, widths, left=left, color=COLOURS[key], label=legend)
        left = [x + w for x, w in zip(left, widths, strict=True)]
    for position, (_, rates) in zip(positions, rows, strict=True):
        interval = rates["advantage_ci95"]
        ci = f" [{100 * interval[0]:+.0f}, {100 * interval[1]:+.0f}]" if interval else ""
        axes.text(1.02, position, f"{100 * rates['advantage']:+.1f}%{ci}", va="center", fontsize=8)
    axes.set_yticks(positions, labels, fontsize=8)
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of labels (advantage = win - loss, 95% CI)")
    axes.set_title(title, fontsize=10, loc="right")
    axes.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.08), ncol=3, frameon=False)


def plot_report(results: dict, path: str | Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = results["models"]
    panels = [("human annotators", results["human"])]
    panels += [(f"LLM {model} (both orders)", section) for model, section in results["llm"].items()]
    panels = [(title, section) for title, section in panels if section["overall"]["n_clips"]]
    height = 1.2 + 0.35 * max(1, max((len(section["per_source"]) + 1 for _, section in panels), default=1))
    figure = Figure(figsize=(9, height * max(1, len(panels))), dpi=100)
    FigureCanvasAgg(figure)
    if not panels:
        figure.text(0.5, 0.5, "no labels yet", ha="center", va="center")
    else:
        for axes, (title, section) in zip(figure.subplots(len(panels), 1, squeeze=False)[:, 0], panels, strict=True):
            _panel(axes, title, section, names)
    figure.tight_layout(rect=(0, 0, 0.88, 1))
    path = Path(path)
    figure.savefig(path, format="png")
    return path
