"""A bag evaluation's report on disk: report.json, the timeline PNG (truth vs prediction over time, with
confidence) and the confusion matrix PNG, all drawn from the report's own data."""
from __future__ import annotations

import os
from pathlib import Path

from ..eval.reports import plot_confusion_matrix, save_png, write_metrics

REPORT_FILE, TIMELINE_FILE, CONFUSION_FILE = "report.json", "timeline.png", "confusion.png"


def write_report(report: dict, out_dir: str | os.PathLike) -> Path:
    """Write report.json (first, so it survives a plotting failure), then the PNGs; return report.json's path."""
    out_dir = Path(out_dir)
    report = {**report, "files": {"timeline": TIMELINE_FILE, "confusion": CONFUSION_FILE}}
    path = write_metrics(report, out_dir / REPORT_FILE)
    plot_timeline(report, out_dir / TIMELINE_FILE)
    confusion = report["accuracy"]["confusion"]
    plot_confusion_matrix(confusion["matrix"], confusion["classes"], out_dir / CONFUSION_FILE)
    return path


def plot_timeline(report: dict, path: str | os.PathLike) -> Path:
    """Truth segments as bars and each prediction's top-1 class as a dot (green: right, red: wrong, grey:
    outside every segment) on one axis; the top-1 confidence below it, on the same time axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    segments, predictions = report["accuracy"]["segments"], report["predictions"]
    classes = list(report["accuracy"]["confusion"]["classes"])
    classes += [p["ranked"][0] for p in predictions if p["ranked"] and p["ranked"][0] not in classes]
    classes = list(dict.fromkeys(classes))
    row = {name: i for i, name in enumerate(classes)}

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(12, 2.5 + 0.3 * len(classes)),
                                      gridspec_kw={"height_ratios": [max(2, len(classes)), 2]})
    for i, s in enumerate(segments):
        top.broken_barh([(s["start"], s["end"] - s["start"])], (row[s["label"]] - 0.4, 0.8), color="#c6dbef")
        bottom.axvspan(s["start"], s["end"], color="#e4e4e4" if i % 2 else "#f0f0f0")  # alternate: edges show
    times = [p["time_s"] for p in predictions]
    colours = [_colour(p, segments) for p in predictions]
    top.scatter(times, [row[p["ranked"][0]] if p["ranked"] else -1 for p in predictions], c=colours, s=14, zorder=3)
    top.set_yticks(range(len(classes)), classes)
    top.set_ylim(-0.6 if all(p["ranked"] for p in predictions) else -1.6, len(classes) - 0.4)
    top.set_title("truth (bars) and top-1 prediction (dots: green right, red wrong, grey no truth)")
    bottom.plot(times, [p["confidence"] for p in predictions], color="#333333", linewidth=1)
    bottom.scatter(times, [p["confidence"] for p in predictions], c=colours, s=8, zorder=3)
    bottom.set_ylim(0, 1)
    bottom.set_ylabel("top-1 score")
    bottom.set_xlabel("seconds from the bag's first message")
    return save_png(fig, path)


def _colour(prediction: dict, segments: list[dict]) -> str:
    truth = next((s["label"] for s in segments if s["start"] <= prediction["time_s"] < s["end"]), None)
    if truth is None:
        return "#999999"
    return "#2ca02c" if prediction["ranked"][:1] == [truth] else "#d62728"


def plot_mode_timelines(reports: dict[str, dict], path: str | os.PathLike) -> Path:
    """Truth segments as bars and, one row of dots per mode (clip, stream), each prediction's top-1 class
    (green right, red wrong, grey outside every segment), on one time axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    first = next(iter(reports.values()))
    segments = first["accuracy"]["segments"]
    classes = list(dict.fromkeys([s["label"] for s in segments] + [p["ranked"][0] for r in reports.values()
                                                                    for p in r["predictions"] if p["ranked"]]))
    row = {name: i for i, name in enumerate(classes)}
    fig, axes = plt.subplots(len(reports), 1, sharex=True, squeeze=False,
                             figsize=(12, 1.5 + 0.6 * len(classes) * len(reports)))
    for axis, (mode, report) in zip(axes[:, 0], reports.items()):
        for s in segments:
            axis.broken_barh([(s["start"], s["end"] - s["start"])], (row[s["label"]] - 0.4, 0.8), color="#c6dbef")
        predictions = [p for p in report["predictions"] if p["ranked"]]
        axis.scatter([p["time_s"] for p in predictions], [row[p["ranked"][0]] for p in predictions],
                     c=[_colour(p, segments) for p in predictions], s=10, zorder=3)
        axis.set_yticks(range(len(classes)), classes)
        summary = report["summary"]
        top1 = "n/a" if summary["top1"] is None else f"{100 * summary['top1']:.1f}%"
        axis.set_title(f"{mode}: top-1 {top1}, {summary['predictions']} predictions", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("seconds from the bag's first message")
    return save_png(fig, path)
