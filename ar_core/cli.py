"""`ar-core`: offline work with X3D models. Each subcommand is thin over the library.

Other packages add subcommands through the entry-point group `ar_core.commands`: each entry is a function that
takes the subparsers object and adds its command (ar_ros adds `bag-replay`), so ar_core imports none of them.
"""
from __future__ import annotations

import argparse
import logging
import sys

from importlib.metadata import entry_points

from .models import KINETICS_CLASSES, MODEL_SPECS
from .stream.settings import BAG_EVAL, EXPORT, INFER, add_arguments, from_arguments
from .train.config import DATA_KEYS, add_config_flags


COMMANDS_GROUP = "ar_core.commands"


def cmd_info(args: argparse.Namespace) -> int:
    """List the model registry, or print one model's input, parameters and GFLOPs beside its published figures."""
    from .models import MODEL_SPECS, build_model, get_spec
    from .models.profile import profile_model
    from .models.specs import RECIPE_FPS

    if args.model is None:
        print(f"{'model':<16} {'':<16} {'clip':>14} {'crop':>9} {'params':>8} {'GFLOPs':>7}  stream")
        for spec in MODEL_SPECS.values():
            params = f"{spec.params / 1e6:.2f} M" if spec.params else "-"
            gflops = f"{spec.gflops:.2f}" if spec.gflops else "-"
            print(f"{spec.name:<16} {spec.title:<16} {f'{spec.frames} x {spec.sampling_rate}':>14} "
                  f"{f'{spec.train_crop}/{spec.test_crop}':>9} {params:>8} {gflops:>7}  "
                  f"{'yes' if spec.streaming else 'no'}")
        print("clip: frames x sampling rate (at 30 fps); crop: train/test; params and GFLOPs as published "
              "(- where none is); `ar-core info --model NAME` counts them here")
        return 0
    spec = get_spec(args.model)
    clip = spec.figures_input or (spec.frames, spec.train_crop, spec.train_crop)
    stats = profile_model(build_model(spec.name), spec, clip)
    t, h, w = stats.input_shape[1:]
    published = (f"published {spec.params / 1e6:.3f} M" if spec.params else "none published")
    print(f"{spec.title} ({spec.name}, {spec.family})")
    print(f"  parameters    {stats.params_with_bn / 1e6:.3f} M ({stats.params / 1e6:.3f} M without BatchNorm; "
          f"{published}; {KINETICS_CLASSES}-class classifier)")
    print(f"  GFLOPs        {stats.gflops:.2f} (multiply-adds, one clip of {t}x{h}x{w}, counted with "
          f"torch.utils.flop_counter / 2; {f'published {spec.gflops:.2f}' if spec.gflops else 'none published'})")
    print(f"  input         {spec.frames} frames {spec.interval_s:.2f} s apart (sampling rate {spec.sampling_rate} of a "
          f"{RECIPE_FPS:g} fps video; {spec.clip_seconds:.2f} s); train crop {spec.train_crop}, test crop {spec.test_crop}")
    print(f"  normalisation mean {spec.mean}, std {spec.std} on RGB in [0, 1]")
    print(f"  files         {spec.file_stem}.pth/.onnx/.xml; published checkpoint: {spec.checkpoint or 'none'}")
    print(f"  stream mode   {'yes (continual form)' if spec.streaming else 'no (clip mode only)'}")
    print(f"  source        {spec.source}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export X3D weights to ONNX, OpenVINO IR or a TensorRT engine, metadata inside (optionally fp16 or int8);
    with --int8, an exported .onnx or .xml becomes its INT8 copy, calibrated on the training data."""
    from .runtime.export import export_checkpoint

    if args.calib is not None or args.val is not None:
        raise ValueError("--calib and --val are gone: --int8 calibrates on the training data set and compares "
                         "on its validation part, given with train's data flags (--dataset synthetic, or "
                         "--dataset folder --data-root DIR --val-root DIR, ...; see --help)")
    stream = from_arguments(args, EXPORT)
    result = export_checkpoint(args.weights, args.format, args.out, model=args.model, crop=args.crop,
                               fp16=args.fp16, int8=args.int8, clips=_clip_sets(args) if args.int8 else None,
                               calib_clips=args.calib_clips, preset=args.preset,
                               constant_folding=args.constant_folding, inference=stream.inference,
                               pool_frames=stream.pool_frames or None, num_threads=args.num_threads or None)
    for path in result.files:
        print(path)
    if result.quantization:
        print(f"int8 vs fp32 on the validation clips: {result.quantization}")
        print(f"report: {result.report}")
    return 0


def _clip_sets(args: argparse.Namespace):
    """clips(metadata, mode) for `export --int8`: the data set train's data flags name, cut as the model's
    metadata says (frames, sampling rate, crop, normalisation)."""
    import dataclasses

    from .models import get_spec
    from .train.config import config_from_args
    from .train.datasets import build_dataset

    config = config_from_args(args)

    def clips(metadata, mode: str):
        spec = dataclasses.replace(get_spec(metadata.model), frames=metadata.frames,
                                   sampling_rate=metadata.sampling_rate, train_crop=metadata.crop,
                                   test_crop=metadata.crop, mean=metadata.mean, std=metadata.std)
        return build_dataset(config.replace(model=metadata.model, crop=metadata.crop), spec, mode)

    return clips


def cmd_bench(args: argparse.Namespace) -> int:
    """Time inference backends side by side in one process: latency, speed-up over eager torch, GFLOP/s."""
    from .runtime.bench import run_bench

    result = run_bench(args.model, _csv(args.backends), args.batch_size, args.num_threads, weights=args.weights,
                       crop=args.crop, runs=args.runs)
    print(result.table())
    return 0


def cmd_bag_eval(args: argparse.Namespace) -> int:
    """Replay a rosbag2 through the node's frame path offline and report accuracy against a truth file,
    latency and throughput (report.json, timeline.png and confusion.png in --out)."""
    from .bags.evaluate import compare_inference, evaluate_bag

    if args.compare_inference:
        return _print_comparison(compare_inference(args.bag, args.topic, args.truth,
                                                   from_arguments(args, BAG_EVAL), args.out), args.out)
    report = evaluate_bag(args.bag, args.topic, args.truth, from_arguments(args, BAG_EVAL), args.out)
    overall, latency = report["accuracy"]["overall"], report["latency"]
    print(f"{overall['predictions']} predictions in truth segments ({overall['outside_segments']} outside): "
          f"top-1 {percent(overall['top1'])}, top-5 {percent(overall['top5'])}")
    if "latency_p50_ms" in latency:
        print(f"latency p50/p95/max {latency['latency_p50_ms']:.1f}/{latency['latency_p95_ms']:.1f}/"
              f"{latency['latency_max_ms']:.1f} ms (compute p50 {latency['compute_p50_ms']:.1f} ms), "
              f"the node would drop {latency['dropped']} of {latency['engine_calls']} "
              f"{'steps' if latency['queue_capacity'] > 1 else 'clips'}")
    print(f"report: {args.out}/report.json")
    if not report["complete"]:
        print(f"ar-core bag-eval: error: {report['error']}; the report covers what was read", file=sys.stderr)
        return 1
    return 0


def _print_comparison(comparison: dict, out: str) -> int:
    print(f"{'inference':>9} {'top-1':>7} {'predictions':>11} {'ms/prediction':>13} {'latency p50 ms':>14} "
          f"{'per s of bag':>12} {'change delay median / p95 s':>28}")
    for mode, summary in comparison["modes"].items():
        delay = summary["change_delay"]
        delays = f"{delay['median_s']:.2f} / {delay['p95_s']:.2f}" if "median_s" in delay else "n/a"
        ms = summary["compute_ms_per_prediction"]
        rate, latency = summary["predictions_per_s_of_bag"], summary["latency_p50_ms"]
        print(f"{mode:>9} {percent(summary['top1']):>7} {summary['predictions']:>11} "
              f"{'n/a' if ms is None else f'{ms:.1f}':>13} {'n/a' if latency is None else f'{latency:.1f}':>14} "
              f"{'n/a' if rate is None else f'{rate:.2f}':>12} "
              f"{delays:>28}  ({delay['never_correct']} of {delay['changes']} changes never caught)")
    print(f"comparison: {out}/comparison.json, {out}/timeline.png; each mode's report in {out}/<mode>/")
    return 0 if comparison["complete"] else 1


def cmd_bag_extract(args: argparse.Namespace) -> int:
    """Cut the labelled segments of a rosbag2 into a class-folder video dataset (OUT/<label>/<bag>_<i>.mp4)
    that `ar-core train` and VideoFolderDataset read."""
    from .bags.extract import extract_segments
    from .bags.truth import read_truth
    from .labels import read_labels

    segments = read_truth(args.truth, read_labels(args.labels) if args.labels else None)
    result = extract_segments(args.bag, args.topic, segments, args.out)
    print(f"{len(result.videos)} videos at {result.fps:g} fps in {args.out}")
    for segment in result.empty:
        print(f"no frames in the segment on line {segment.line} ({segment.start}-{segment.end} s, {segment.label})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train X3D on a video data set, resumably, with validation and TensorBoard.

    Data sets: Kinetics (official, MindSpore or OpenDR layout), UCF-101, HMDB51, mmaction2/OTE lists of videos
    or rawframes, OTX's CVAT layout, a folder of class folders, or SyntheticMotion. The run
    directory (--temp-path) receives checkpoints/ (every --checkpoint-after-iter iterations and at the end of
    every --checkpoint-every-epochs-th epoch; --keep-checkpoints N keeps the newest N), tensorboard/ and
    the final model (x3d_<model>.pth + .json, with the trained --frames and --sampling-rate). Data parallel:
    `torchrun --nproc_per_node=N -m ar_core.cli train`."""
    from .train.commands import run_train
    from .train.config import config_from_args

    return run_train(config_from_args(args), resume=args.resume)


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a model: video-wise top-1/3/5, frame-wise accuracy, per-class and mean class accuracy, NLL,
    parameters and GFLOPs, optionally as JSON (keys top1, top3, top5, frame_accuracy, params, gflops, protocol,
    ...) plus a confusion-matrix PNG.

    Uses the configured validation data with multi-view testing: test_clips x test_crops views per video
    (protocol: single-view for 1 x 1, 30-view for 10 x 3), whose probabilities are averaged; frame-wise, each
    frame takes the class of the temporal window whose centre is nearest. Exported models (.onnx, .xml) run on
    their runtime."""
    from .train.commands import run_eval
    from .train.config import config_from_args

    return run_eval(config_from_args(args), args.weights, args.save_metrics_to)


def cmd_infer(args: argparse.Namespace) -> int:
    """Classify a video through the node's frame path: its frames at their presentation times, as a camera's at
    their stamps, a prediction every `hop` sampled frames; prints each prediction's time (s) and top-k classes."""
    from .stream.pipeline import ActivityStream
    from .stream.video import format_predictions, predict_video

    stream = ActivityStream.open(from_arguments(args, INFER))
    try:
        print(format_predictions(list(predict_video(args.video, stream))))
    finally:
        stream.close()
    return 0


def cmd_dump_frames(args: argparse.Namespace) -> int:
    """Dump videos listed as `<video> <label>` into rawframes (OUT/<video path>/img_00001.jpg ...) and OTE's
    7-field annotation file that `--dataset rawframes` reads, in parallel processes; finished videos are
    skipped on a second run, unreadable ones listed at the end (exit status 1) while the rest are dumped."""
    from .data.dump_frames import dump_frames

    result = dump_frames(args.list, args.out, video_root=args.video_root, annotations=args.annotations,
                         labels=args.labels, frame_template=args.frame_template, short_side=args.short_side,
                         jobs=args.jobs)
    print(f"{len(result.dumped)} videos dumped, {len(result.skipped)} already done, {len(result.failed)} unreadable; "
          f"annotations: {result.annotations}")
    for video, reason in result.failed:
        print(f"unreadable: {video}: {reason}", file=sys.stderr)
    return 1 if result.failed else 0


def cmd_extract_clips(args: argparse.Namespace) -> int:
    """Cut candidate clips for a data set out of videos with the video model: each video runs through the node's
    frame path, and the stretches where a class's (smoothed) score stays at or above --segment-threshold for
    at least --min-seconds become OUT/<class>/<video>_<start>-<end>.mp4 (a data set for `train --dataset
    folder`), listed with their scores in OUT/segments.csv; OUT/<video>_timeline.png shows scores and cuts."""
    from .stream.extract_clips import extract_clips
    from .stream.pipeline import ActivityStream

    stream = ActivityStream.open(from_arguments(args, INFER))
    try:
        result = extract_clips(args.video, stream, _csv(args.classes), args.segment_threshold, args.min_seconds,
                               args.out)
    finally:
        stream.close()
    for segment in result.segments:
        print(f"{segment.video.name}  {segment.label}  {segment.start_s:.2f}-{segment.end_s:.2f} s  "
              f"mean {segment.mean_score:.3f}  max {segment.max_score:.3f}  {segment.file}")
    print(f"{len(result.segments)} clips from {len(args.video)} videos; segments: {result.csv}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """Download published Kinetics-400 checkpoints (X3D from the SlowFast model zoo, R3D-18, R(2+1)D-18 and S3D
    from torchvision's, or all from the mirror $AR_ROS_MODEL_ZOO names) into the cache or --dest."""
    from .hub import CHECKPOINTS
    from .train.commands import run_download

    models = _csv(args.model) if args.model else [_config_model(args.config)] if args.config else list(CHECKPOINTS)
    return run_download(models, args.dest, args.timeout)


def _config_model(path: str) -> str:
    from .train.config import load_config

    return load_config(path).model


def percent(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{100 * fraction:.1f}%"


def _summary(command) -> str:
    return command.__doc__.split("\n\n")[0]


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _positive_int(text: str) -> int:
    """argparse type of counts that must be at least 1 (--jobs, --short-side)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _fraction(text: str) -> float:
    """argparse type of a score threshold in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def _batch_sizes(text: str) -> list[int]:
    """argparse type of --batch-size: "1,8" -> [1, 8]."""
    sizes = [int(part) if part.isdigit() else 0 for part in _csv(text)]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ar-core", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", help=cmd_info.__doc__, description=cmd_info.__doc__)
    info.add_argument("--model", choices=list(MODEL_SPECS), help="a model of the registry (default: list them all)")
    info.set_defaults(func=cmd_info)

    export = commands.add_parser("export", help=cmd_export.__doc__, description=cmd_export.__doc__)
    export.add_argument("--model", choices=list(MODEL_SPECS),
                        help="model name (needed when no .json lies beside the weights; picks x3d_<model> files "
                             "in a folder)")
    export.add_argument("--weights", required=True,
                        help="PyTorch weights: .pth/.pyth/.pt, their .json, or a folder written by train/save() "
                             "(its newest version); with --int8 also an exported .onnx or OpenVINO .xml")
    export.add_argument("--format", choices=["onnx", "openvino", "tensorrt"],
                        help="output format (needed for PyTorch weights; default: an exported model's own)")
    export.add_argument("--fp16", action="store_true", help="fp16 weights (openvino) or engine (tensorrt)")
    export.add_argument("--int8", action="store_true",
                        help="quantize to int8 with NNCF, calibrated on clips of the training data set (the data "
                             "flags below, as for train), fp32 and int8 compared on its validation clips")
    export.add_argument("--calib-clips", type=int, default=64, metavar="N",
                        help="calibration clips (fewer in the data set: all of them, with a warning)")
    export.add_argument("--preset", choices=["performance", "mixed"], default="performance",
                        help="NNCF preset: symmetric (performance) or asymmetric (mixed) activation ranges")
    export.add_argument("--num-threads", type=int, default=0, metavar="N",
                        help="CPU threads of the int8 vs fp32 latency measurement (0: OpenVINO's default)")
    export.add_argument("--calib", help=argparse.SUPPRESS)  # replaced by the data flags: refused with a pointer
    export.add_argument("--val", help=argparse.SUPPRESS)
    export.add_argument("--constant-folding", action="store_true", help="passed to torch.onnx.export")
    export.add_argument("--crop", type=int, help="clip size in pixels (default: the model's test crop)")
    add_arguments(export, EXPORT, params_file=False)
    export.add_argument("--out", required=True, help="output folder")
    add_config_flags(export, "export", keys=DATA_KEYS)  # --int8's calibration and validation data
    export.set_defaults(func=cmd_export)

    # No abbreviations: the old --batch must not pass for --batch-size.
    bench = commands.add_parser("bench", help=cmd_bench.__doc__, description=cmd_bench.__doc__, allow_abbrev=False)
    bench.add_argument("--model", required=True, choices=list(MODEL_SPECS), help="model name")
    bench.add_argument("--backends", default="torch,torch-compile,onnxruntime,openvino",
                       help="comma-separated: torch, torch-compile, onnxruntime, openvino, tensorrt, "
                            "onnxruntime-int8, openvino-int8 (eager torch is always measured)")
    bench.add_argument("--batch-size", type=_batch_sizes, default=[1, 8], metavar="N[,N...]",
                       help="batch sizes, comma-separated (default: 1,8)")
    bench.add_argument("--num-threads", type=int, default=2, metavar="N",
                       help="CPU threads for every backend (0: each runtime's default; default: 2)")
    bench.add_argument("--weights", help="PyTorch weights, their .json or a run folder (default: random init, "
                                         "fine for timing)")
    bench.add_argument("--crop", type=int, help="clip size in pixels (default: the model's test crop)")
    bench.add_argument("--runs", type=int, default=10, help="timed runs per measurement (median reported)")
    bench.set_defaults(func=cmd_bench)

    bag_eval = commands.add_parser("bag-eval", help=cmd_bag_eval.__doc__, description=cmd_bag_eval.__doc__)
    add_bag_arguments(bag_eval)
    bag_eval.add_argument("--compare-inference", action="store_true",
                          help="evaluate in clip and in stream mode, side by side (each mode's report in OUT/<mode>/)")
    add_arguments(bag_eval, BAG_EVAL)
    bag_eval.set_defaults(func=cmd_bag_eval)

    bag_extract = commands.add_parser("bag-extract", help=cmd_bag_extract.__doc__,
                                      description=cmd_bag_extract.__doc__)
    add_bag_arguments(bag_extract)
    bag_extract.add_argument("--labels", help="class-name file the truth labels must come from")
    bag_extract.set_defaults(func=cmd_bag_extract)

    train = commands.add_parser("train", help=_summary(cmd_train), description=cmd_train.__doc__)
    train.add_argument("--resume", action="store_true",
                       help="continue from the latest checkpoint in --temp-path (exactly where it stopped)")
    add_config_flags(train, "train")
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser("eval", help=_summary(cmd_eval), description=cmd_eval.__doc__)
    evaluate.add_argument("--weights", help="a run directory saved by train, its .json, a .pth or official .pyth, "
                                            "or an exported .onnx or OpenVINO .xml")
    evaluate.add_argument("--save-metrics-to", metavar="JSON",
                          help="write the metrics here and the confusion matrix beside it (<stem>_confusion.png)")
    add_config_flags(evaluate, "eval")
    evaluate.set_defaults(func=cmd_eval)

    infer = commands.add_parser("infer", help=_summary(cmd_infer), description=cmd_infer.__doc__)
    infer.add_argument("video", metavar="VIDEO", help="video file")
    add_arguments(infer, INFER)
    infer.set_defaults(func=cmd_infer)

    download = commands.add_parser("download", help=_summary(cmd_download), description=cmd_download.__doc__)
    download.add_argument("--model", help="comma-separated model names, e.g. xs,s (default: the --config file's "
                                          "model, else every model with a published checkpoint)")
    download.add_argument("--dest", help="folder (default: $AR_ROS_CACHE or ~/.cache/ar_ros, where the ROS node looks)")
    download.add_argument("--timeout", type=float, default=10, help="seconds without data before giving up")
    download.add_argument("--config", metavar="YAML", help="training config whose model to download")
    download.set_defaults(func=cmd_download)

    dump = commands.add_parser("dump-frames", help=_summary(cmd_dump_frames), description=cmd_dump_frames.__doc__)
    dump.add_argument("--list", required=True, metavar="FILE",
                      help="video list, one `<video> <label>` a line (mmaction2's: 0-based label ids, or class "
                           "names of --labels)")
    dump.add_argument("--video-root", metavar="DIR", help="folder the listed paths are relative to (default: the "
                                                          "list's folder)")
    dump.add_argument("--out", required=True, metavar="DIR", help="frame folders go here (the rawframes data_root)")
    dump.add_argument("--annotations", metavar="FILE",
                      help="annotation file to write (default: OUT/<list stem>_rawframes.txt)")
    dump.add_argument("--labels", metavar="FILE", help="class-name file, one a line: label ids must index it")
    dump.add_argument("--frame-template", default="img_{:05d}.jpg",
                      help="frame file name with a {} for the 1-based frame number (default: img_{:05d}.jpg)")
    dump.add_argument("--short-side", type=_positive_int, default=0, metavar="N",
                      help="scale frames so their shorter side is N pixels (default: as decoded)")
    dump.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                      help="videos decoded at once, one process each (default: the number of CPUs)")
    dump.set_defaults(func=cmd_dump_frames)

    extract = commands.add_parser("extract-clips", help=_summary(cmd_extract_clips),
                                  description=cmd_extract_clips.__doc__)
    extract.add_argument("video", metavar="VIDEO", nargs="+", help="video files")
    extract.add_argument("--classes", required=True, help="comma-separated class names of the model's labels")
    extract.add_argument("--segment-threshold", type=_fraction, default=0.5, metavar="T",
                         help="a segment lasts while the class's score is at least T (default: 0.5)")
    extract.add_argument("--min-seconds", type=float, default=1.0, metavar="S",
                         help="keep segments lasting at least S seconds (default: 1)")
    extract.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_arguments(extract, INFER)
    extract.set_defaults(func=cmd_extract_clips)

    for entry in entry_points(group=COMMANDS_GROUP):  # commands other packages add (ar_ros: bag-replay)
        entry.load()(commands)
    return parser


def add_bag_arguments(parser: argparse.ArgumentParser) -> None:
    """--bag, --topic, --truth and --out, for the commands that read a labelled bag."""
    parser.add_argument("--bag", required=True, help="rosbag2 folder (sqlite3 or mcap)")
    parser.add_argument("--topic", required=True, help="sensor_msgs/Image or CompressedImage topic")
    parser.add_argument("--truth", required=True, help="YAML truth file: segments: [{start, end, label}, ...] "
                                                       "in seconds from the bag's first message")
    parser.add_argument("--out", required=True, help="output folder")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"ar-core {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
