"""`ar-core bag-eval`: replay a recorded bag through the node's frame path and measure it against truth.

Frames go through the node's own ActivityStream, in bag order and with the node's settings; a prediction is
placed at the bag time of the frame that completed its clip. The report says how accurate (top-1/top-5 per truth
segment, confusion), how late (compute time, and end-to-end latency as the node's single worker would deliver
it) and how fast (frames per second).
"""
from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..eval.metrics import confusion_matrix
from ..stream.latency import LatencyStats
from ..stream.pipeline import ActivityStream, Prediction, rank
from ..stream.settings import StreamSettings
from .reader import Bag, BagReadError, to_rgb_from_message
from .truth import Segment, read_truth, segment_index

NO_PREDICTION = "(none)"  # a prediction with every class under the score threshold


@dataclass(frozen=True)
class TimedPrediction:
    time_s: float  # bag time of the frame that completed the clip, seconds from the bag's first message
    prediction: Prediction


@dataclass(frozen=True)
class EngineCall:
    """One clip (clip mode) or one step (stream mode, published or not) the engine ran."""

    ready_s: float  # absolute bag time the node could start on it: arrival plus converting that frame
    compute_s: float
    prediction: int | None  # its index in BagRun.predictions, None when nothing was published


@dataclass
class BagRun:
    """What replaying a bag produced, and how far it got."""

    predictions: list[TimedPrediction] = field(default_factory=list)
    calls: list[EngineCall] = field(default_factory=list)
    queue_capacity: int = 1  # clips that may wait for the node's worker (ActivityStream.queue_capacity)
    frames: int = 0  # image messages read
    bad_messages: int = 0  # images that could not be converted (the node logs and skips them too)
    rate_limited: int = 0  # clips max_rate_hz skipped
    first_time_s: float | None = None
    last_time_s: float | None = None
    wall_s: float = 0.0
    engine_s: float = 0.0  # time in the engine, unpublished stream steps included
    error: str | None = None  # why reading stopped before the end of the bag

    def frame_rate(self) -> float | None:
        span = (self.last_time_s or 0.0) - (self.first_time_s or 0.0)
        return (self.frames - 1) / span if self.frames > 1 and span > 0 else None


def replay(bag: Bag, topic: str, stream: ActivityStream, progress: bool = True) -> BagRun:
    """Run the images of `topic` through the stream, in bag order; a read error ends it early."""
    from tqdm import tqdm

    run = BagRun(queue_capacity=stream.queue_capacity)
    images = tqdm(bag.images(topic), total=bag.counts.get(topic), unit="frame", desc=topic,
                  disable=None if progress else True)
    start = time.perf_counter()
    try:
        for bag_time_ns, stamp, frame_id, msg in images:
            time_s = bag.time_s(bag_time_ns)
            run.frames, run.last_time_s = run.frames + 1, time_s
            run.first_time_s = time_s if run.first_time_s is None else run.first_time_s
            arrived = time.perf_counter()
            size = None if hasattr(msg, "format") else (msg.width, msg.height)  # CompressedImage has no size
            clip = stream.add_frame(stamp, msg, frame_id, size, to_rgb_from_message)
            if clip is None:
                continue
            ready_s = bag_time_ns * 1e-9 + time.perf_counter() - arrived  # the node can start on it now
            engine_s = stream.counters.engine_s
            published = None
            if (prediction := stream.predict(clip)) is not None:  # stream mode: not every step is published
                published = len(run.predictions)
                run.predictions.append(TimedPrediction(time_s, prediction))
            if stream.counters.engine_s > engine_s:  # the engine ran (a rate-limited clip does not reach it)
                run.calls.append(EngineCall(ready_s, stream.counters.engine_s - engine_s, published))
    except BagReadError as err:
        run.error = str(err)
    finally:
        images.close()
    run.wall_s = time.perf_counter() - start
    run.bad_messages, run.rate_limited = stream.counters.bad_messages, stream.counters.rate_limited
    run.engine_s = stream.counters.engine_s
    return run


def simulate_worker(ready_s: Sequence[float], compute_s: Sequence[float], capacity: int = 1) -> list[float | None]:
    """When each job's result would be out from the node's one inference worker (ar_ros.inference_worker),
    whose mailbox holds `capacity` waiting jobs and drops the oldest when a job arrives to a full one: a job
    starts at max(ready, worker free), in order, and ends `compute` later; None for a dropped job. Clip mode has
    capacity 1 (a newer clip replaces a waiting one), stream mode ActivityStream.queue_capacity steps."""
    finished: list[float | None] = [None] * len(ready_s)
    waiting: deque[int] = deque()
    free = -math.inf

    def run_until(now: float) -> None:  # start the waiting jobs the worker reaches by `now`
        nonlocal free
        while waiting and max(free, ready_s[waiting[0]]) <= now:
            job = waiting.popleft()
            free = max(free, ready_s[job]) + compute_s[job]
            finished[job] = free

    for job, ready in enumerate(ready_s):
        run_until(ready)
        waiting.append(job)
        if len(waiting) > capacity:
            waiting.popleft()  # dropped: stays None
    run_until(math.inf)
    return finished


def latency_summary(run: BagRun) -> dict:
    """Compute time and simulated end-to-end latency (newest-frame stamp to result) of the published
    predictions, p50/p95/max in ms, and how many engine calls the node's worker would have dropped."""
    calls = run.calls
    finished = simulate_worker([c.ready_s for c in calls], [c.compute_s for c in calls], run.queue_capacity)
    stats = LatencyStats(window=max(1, len(calls)))
    for call, end in zip(calls, finished):
        if end is not None and call.prediction is not None:
            prediction = run.predictions[call.prediction].prediction
            stats.add(end - prediction.stamp, prediction.compute_s)
    return {**stats.summary_ms(), "clips": len(run.predictions), "engine_calls": len(calls),
            "queue_capacity": run.queue_capacity, "dropped": finished.count(None)}


def score_predictions(predictions: Sequence[tuple[float, Sequence[str]]], segments: Sequence[Segment],
                      labels: Sequence[str]) -> dict:
    """Accuracy of predictions given as (time_s, class names best first) against truth segments.

    A prediction scores for the segment its time falls in (top-1: the first name is the truth; top-5: the
    truth is among the first five); those outside every segment are counted apart. The confusion matrix
    (rows: truth, columns: top-1) covers the truth classes, then the other predicted ones in `labels` order.
    """
    hits: list[list[tuple[str, str, bool]]] = [[] for _ in segments]  # per segment: (truth, top-1, in top 5)
    outside = 0
    for time_s, ranked in predictions:
        index = segment_index(segments, time_s)
        if index is None:
            outside += 1
            continue
        truth = segments[index].label
        hits[index].append((truth, ranked[0] if ranked else NO_PREDICTION, truth in list(ranked)[:5]))
    per_segment = [{"line": s.line, "start": s.start, "end": s.end, "label": s.label, **_accuracy(h)}
                   for s, h in zip(segments, hits)]
    scored = [hit for segment_hits in hits for hit in segment_hits]
    return {"overall": {**_accuracy(scored), "outside_segments": outside}, "segments": per_segment,
            "confusion": _confusion(scored, segments, labels)}


def _accuracy(hits: list[tuple[str, str, bool]]) -> dict:
    if not hits:
        return {"predictions": 0, "top1": None, "top5": None}
    return {"predictions": len(hits), "top1": sum(truth == top1 for truth, top1, _ in hits) / len(hits),
            "top5": sum(top5 for _, _, top5 in hits) / len(hits)}


def _confusion(hits: list[tuple[str, str, bool]], segments: Sequence[Segment], labels: Sequence[str]) -> dict:
    predicted = {top1 for _, top1, _ in hits}
    classes = list(dict.fromkeys(s.label for s in segments))
    classes += [name for name in [*labels, NO_PREDICTION] if name in predicted and name not in classes]
    index = {name: i for i, name in enumerate(classes)}
    truth = torch.tensor([index[t] for t, _, _ in hits], dtype=torch.long)
    top1 = torch.tensor([index[p] for _, p, _ in hits], dtype=torch.long)
    return {"classes": classes, "matrix": confusion_matrix(top1, truth, len(classes)).tolist()}


def change_delays(predictions: Sequence[tuple[float, Sequence[str]]], segments: Sequence[Segment]) -> dict:
    """Seconds from each activity change (a segment whose label differs from the one before it) to the first
    correct top-1 prediction inside that segment: median and p95 over the changes, and the changes never caught."""
    delays, missed = [], 0
    for i, segment in enumerate(segments):
        if i and segments[i - 1].label == segment.label:
            continue
        hit = next((t for t, ranked in predictions if segment.start <= t < segment.end and ranked[:1] == [segment.label]),
                   None)
        if hit is None:
            missed += 1
        else:
            delays.append(hit - segment.start)
    summary = {"changes": len(delays) + missed, "never_correct": missed}
    if delays:
        summary.update(median_s=float(np.percentile(delays, 50)), p95_s=float(np.percentile(delays, 95)))
    return summary


def evaluate_bag(bag_path: str | os.PathLike, topic: str, truth_path: str | os.PathLike, settings: StreamSettings,
                 out_dir: str | os.PathLike, progress: bool = True) -> dict:
    """Replay the bag, score it against the truth file and write the report (report.json, timeline.png,
    confusion.png) to `out_dir`. A bag that breaks off still gets a report, with "complete": false."""
    from .report import write_report

    try:
        bag, failure = Bag(bag_path), None
        bag.image_type(topic)  # a wrong topic fails here, before the model loads
    except BagReadError as err:
        bag, failure = None, err
    stream = ActivityStream.open(settings)
    try:
        segments = read_truth(truth_path, stream.labels)
        run = replay(bag, topic, stream, progress) if bag else BagRun(error=str(failure))
    finally:
        stream.close()
    report = build_report(run, segments, stream, bag_path=str(bag_path), topic=topic, truth=str(truth_path))
    write_report(report, out_dir)
    return report


def compare_inference(bag_path: str | os.PathLike, topic: str, truth_path: str | os.PathLike,
                      settings: StreamSettings, out_dir: str | os.PathLike, progress: bool = True) -> dict:
    """The bag in clip and in stream mode with otherwise the same settings: each mode's full report in
    `out_dir/<mode>/`, and side by side in `out_dir/comparison.json` and `out_dir/timeline.png`."""
    from ..eval.reports import write_metrics
    from .report import plot_mode_timelines

    out_dir = Path(out_dir)
    reports = {mode: evaluate_bag(bag_path, topic, truth_path, settings.replace(inference=mode), out_dir / mode,
                                  progress) for mode in ("clip", "stream")}
    comparison = {"bag_path": str(bag_path), "topic": topic, "truth": str(truth_path),
                  "modes": {mode: report["summary"] for mode, report in reports.items()},
                  "complete": all(report["complete"] for report in reports.values())}
    write_metrics(comparison, out_dir / "comparison.json")
    plot_mode_timelines(reports, out_dir / "timeline.png")
    return comparison


def build_report(run: BagRun, segments: Sequence[Segment], stream: ActivityStream, **where: str) -> dict:
    """The report as JSON-ready data: what was read, settings, accuracy, latency, throughput, predictions."""
    session, metadata = stream.session, stream.session.metadata
    labels = session.labels
    ranked = [(p.time_s, [r.label for r in rank(p.prediction.scores, labels, 5)]) for p in run.predictions]
    frames_per_s = run.frames / run.wall_s if run.wall_s > 0 else None
    bag_fps = run.frame_rate()
    accuracy = score_predictions(ranked, segments, labels)
    span_s = (run.last_time_s or 0.0) - (run.first_time_s or 0.0)
    count = len(run.predictions)
    latency = latency_summary(run)
    return {
        "summary": {"inference": metadata.inference, "top1": accuracy["overall"]["top1"], "predictions": count,
                    "compute_ms_per_prediction": 1e3 * run.engine_s / count if count else None,
                    "latency_p50_ms": latency.get("latency_p50_ms"), "dropped": latency["dropped"],
                    "predictions_per_s_of_bag": count / span_s if span_s > 0 else None,
                    "change_delay": change_delays(ranked, segments)},
        "complete": run.error is None,
        "error": run.error,
        "source": {**where, "frames_read": run.frames, "bad_messages": run.bad_messages,
                   "rate_limited": run.rate_limited, "first_frame_s": run.first_time_s,
                   "last_frame_s": run.last_time_s},
        "settings": {**stream.settings.to_dict(), "params_file": stream.settings.source,
                     "weights_used": str(session.weights),
                     "clip": {"frames": metadata.frames, "interval_s": metadata.interval_s, "crop": metadata.crop}},
        "accuracy": accuracy,
        "latency": latency,
        "throughput": {"frames_per_s": frames_per_s, "bag_frame_rate": bag_fps, "wall_s": run.wall_s,
                       "realtime_factor": frames_per_s / bag_fps if frames_per_s and bag_fps else None},
        "predictions": [{"time_s": p.time_s, "stamp": p.prediction.stamp, "frame_id": p.prediction.frame_id,
                         "compute_ms": p.prediction.compute_s * 1e3, "ranked": names,
                         "confidence": float(p.prediction.scores.max()),
                         "top": [{"label": r.label, "score": r.score} for r in p.prediction.top]}
                        for p, (_, names) in zip(run.predictions, ranked)],
    }
