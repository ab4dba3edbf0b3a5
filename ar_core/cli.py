"""`ar-core`: offline work with X3D models. Each subcommand is thin over the library."""
from __future__ import annotations

import argparse
import logging
import sys

from .models import MODEL_SPECS


def cmd_info(args: argparse.Namespace) -> int:
    """Print parameters and GFLOPs of an X3D size, counted as the X3D paper counts them."""
    from .models import build_model, get_spec
    from .models.profile import profile_model

    spec = get_spec(args.model)
    stats = profile_model(build_model(spec.name), spec)
    t, h, w = stats.input_shape[1:]
    print(f"X3D-{spec.name.upper()}")
    print(f"  parameters    {stats.params / 1e6:.2f} M (without BatchNorm; {stats.params_with_bn / 1e6:.2f} M with)")
    print(f"  GFLOPs        {stats.gflops:.2f} (multiply-adds, one clip of {t}x{h}x{w}, "
          f"counted with torch.utils.flop_counter / 2)")
    print(f"  input         {spec.frames} frames, every {spec.sampling_rate}th at 30 fps "
          f"({spec.clip_seconds:.2f} s); train crop {spec.train_crop}, test crop {spec.test_crop}")
    print(f"  normalisation mean {spec.mean}, std {spec.std} on RGB in [0, 1]")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export X3D weights to ONNX, OpenVINO IR or a TensorRT engine, metadata inside (optionally fp16 or int8)."""
    from .runtime.export import export_checkpoint

    result = export_checkpoint(args.weights, args.format, args.out, model=args.model, crop=args.crop,
                               fp16=args.fp16, int8=args.int8, calib=args.calib, val=args.val,
                               calib_clips=args.calib_clips, constant_folding=args.constant_folding)
    for path in result.files:
        print(path)
    if result.quantization:
        print(f"int8 vs fp32 on {'the validation clips' if args.val else 'the calibration clips'}: "
              f"{result.quantization}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Time inference backends side by side in one process: latency, speed-up over eager torch, GFLOP/s."""
    from .runtime.bench import run_bench

    result = run_bench(args.model, _csv(args.backends), [int(b) for b in _csv(args.batch)], args.threads,
                       weights=args.weights, crop=args.crop, runs=args.runs)
    print(result.table())
    return 0


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ar-core", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", help=cmd_info.__doc__, description=cmd_info.__doc__)
    info.add_argument("--model", required=True, choices=list(MODEL_SPECS), help="X3D size")
    info.set_defaults(func=cmd_info)

    export = commands.add_parser("export", help=cmd_export.__doc__, description=cmd_export.__doc__)
    export.add_argument("--model", choices=list(MODEL_SPECS),
                        help="X3D size (needed when no .json lies beside the weights)")
    export.add_argument("--weights", required=True, help="PyTorch weights (.pth/.pyth/.pt)")
    export.add_argument("--format", required=True, choices=["onnx", "openvino", "tensorrt"])
    export.add_argument("--fp16", action="store_true", help="fp16 weights (openvino) or engine (tensorrt)")
    export.add_argument("--int8", action="store_true", help="quantize to int8, calibrated on --calib")
    export.add_argument("--calib", metavar="DATASET",
                        help="calibration clips: synthetic[:N] or a folder of class folders of videos")
    export.add_argument("--calib-clips", type=int, default=64, help="at most this many calibration clips")
    export.add_argument("--val", metavar="DATASET", help="clips to compare int8 with fp32 on (default: --calib)")
    export.add_argument("--constant-folding", action="store_true", help="passed to torch.onnx.export")
    export.add_argument("--crop", type=int, help="clip size in pixels (default: the model's test crop)")
    export.add_argument("--out", required=True, help="output folder")
    export.set_defaults(func=cmd_export)

    bench = commands.add_parser("bench", help=cmd_bench.__doc__, description=cmd_bench.__doc__)
    bench.add_argument("--model", required=True, choices=list(MODEL_SPECS), help="X3D size")
    bench.add_argument("--backends", default="torch,torch-compile,onnxruntime,openvino",
                       help="comma-separated: torch, torch-compile, onnxruntime, openvino, tensorrt, "
                            "onnxruntime-int8, openvino-int8 (eager torch is always measured)")
    bench.add_argument("--batch", default="1,8", help="comma-separated batch sizes")
    bench.add_argument("--threads", type=int, default=2, help="CPU threads for every backend")
    bench.add_argument("--weights", help="weights to load (default: random init, fine for timing)")
    bench.add_argument("--crop", type=int, help="clip size in pixels (default: the model's test crop)")
    bench.add_argument("--runs", type=int, default=10, help="timed runs per measurement (median reported)")
    bench.set_defaults(func=cmd_bench)
    return parser


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
