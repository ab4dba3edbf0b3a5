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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ar-core", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", help=cmd_info.__doc__, description=cmd_info.__doc__)
    info.add_argument("--model", required=True, choices=list(MODEL_SPECS), help="X3D size")
    info.set_defaults(func=cmd_info)
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
