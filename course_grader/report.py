"""The class report: ``reports/NAME/checks.csv`` and ``checks.png``, per graded cell, what the class got
right and wrong (passed / failed / not attempted / errored, and the most common hint)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "not_attempted": "#9e9e9e", "errored": "#ef6c00"}


def report_rows(source_notebook: Path, results: dict[str, dict]) -> list[dict]:
    """One row per graded cell of the source notebook, counting the states in ``results`` (by student)."""
    import nbformat
    from nbgrader import utils
    source = nbformat.read(source_notebook, as_version=4)
    order = [c.metadata.nbgrader["grade_id"] for c in source.cells if utils.is_grade(c)]
    points = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader.get("points", 0)
              for c in source.cells if utils.is_grade(c)}
    rows = []
    for gid in order:
        counts = Counter()
        hints = Counter()
        for state in results.values():
            cell = state.get("cells", {}).get(gid)
            if cell is None:
                counts["not_attempted" if "missing_notebook" in state.get("flags", []) else "errored"] += 1
                continue
            counts[cell["category"]] += 1
            if cell.get("hint") and cell["category"] != "passed":
                hints[cell["hint"]] += 1
        top = hints.most_common(1)
        rows.append({"check": gid, "points": points[gid], "submissions": sum(counts.values()),
                     "passed": counts["passed"], "failed": counts["failed"],
                     "not_attempted": counts["not_attempted"], "errored": counts["errored"],
                     "most_common_hint": top[0][0] if top else "",
                     "hint_count": top[0][1] if top else 0})
    return rows


def write_report(out: Path, name: str, source_notebook: Path, results: dict[str, dict]) -> Path:
    """Write ``out/checks.csv`` and ``out/checks.png``; return the csv's path."""
    out.mkdir(parents=True, exist_ok=True)
    rows = report_rows(source_notebook, results)
    path = out / "checks.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["check"])
        writer.writeheader()
        writer.writerows(rows)
    plot_report(rows, name, out / "checks.png")
    return path


def plot_report(rows: list[dict], name: str, path: Path) -> None:
    """A stacked bar per graded cell: how many submissions passed, failed, did not attempt it, or errored."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.45 * max(3, len(rows)) + 1.2))
    labels = [r["check"] for r in rows]
    left = [0] * len(rows)
    for key, colour in COLOURS.items():
        values = [r[key] for r in rows]
        ax.barh(labels, values, left=left, color=colour, label=key.replace("_", " "))
        left = [a + b for a, b in zip(left, values)]
    ax.invert_yaxis()
    ax.set_xlabel("submissions")
    ax.set_title(f"{name}: what the class got right and wrong")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)   # never over a bar
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
