"""What `ar-core train | eval | download` do; cli.py parses the flags and calls these."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from .config import ConfigError, TrainConfig
from .distributed import setup_distributed, shutdown_distributed

log = logging.getLogger(__name__)


def run_train(config: TrainConfig, resume: bool = False) -> int:
    from .checkpointing import latest_checkpoint, list_checkpoints
    from .datasets import build_dataset
    from .learner import X3DLearner

    if not config.temp_path:
        raise ConfigError("temp_path: `ar-core train` needs a run directory (--temp-path DIR)")
    spec = config.spec  # the size with the run's frames and sampling rate
    train_set, val_set = build_dataset(config, spec, "train"), build_dataset(config, spec, "val")
    if list(val_set.classes) != list(train_set.classes):
        raise ConfigError(f"the validation set's classes differ from the training set's ({len(val_set.classes)} vs "
                          f"{len(train_set.classes)} classes)")
    config = config.replace(num_classes=len(train_set.classes))
    if resume:
        latest = latest_checkpoint(config.temp_path)
        if latest is None:
            log.warning("--resume: no checkpoint in %s yet, starting from the beginning", config.temp_path)
        else:
            config = config.replace(checkpoint_load_iter=max(list_checkpoints(config.temp_path)))
    learner = X3DLearner.from_config(config)
    try:
        result = learner.fit(train_set, val_set)
        ctx, _ = setup_distributed(learner.device)
        if ctx.is_main:
            weights = learner.save(config.temp_path)
            _print_train_summary(result, weights)
    finally:
        shutdown_distributed()
    return 0


def _print_train_summary(result: dict, weights: Path) -> None:
    print(f"trained {result['iterations']} iterations ({result['epochs']:.2f} epochs), "
          f"last training loss {result['train_loss']:.4f}")
    if result["val"]:
        val = result["val"]
        print(f"validation: top-1 {100 * val['val_top1']:.2f}%, top-5 {100 * val['val_top5']:.2f}%, "
              f"loss {val['val_loss']:.4f}")
    _print_skipped(result["skipped"])
    print(f"model: {weights} (+ {weights.with_suffix('.json').name})")


def _print_skipped(skipped: list) -> None:
    if skipped:
        print(f"skipped {len(skipped)} unreadable video(s):")
        for path, reason in skipped:
            print(f"  {path}: {reason}")


def _learner_for(config: TrainConfig, weights: str | None):
    """A learner holding `weights` (anything the model loader opens: a run directory, .json, .pth, .pyth, .onnx,
    OpenVINO .xml), else the config's `pretrained`."""
    from .learner import X3DLearner

    if not weights and not config.pretrained:
        raise ConfigError("no model: pass --weights (a run directory, .json, .pth, .pyth, .onnx or .xml) or "
                          "--pretrained")
    learner = X3DLearner.from_config(config)
    if weights:
        learner.load(weights)
    return learner


def run_eval(config: TrainConfig, weights: str | None, save_metrics_to: str | None) -> int:
    from ..eval import plot_confusion_matrix, write_metrics
    from .datasets import build_dataset

    learner = _learner_for(config, weights)
    dataset = build_dataset(learner.config, learner.spec, "test")
    try:
        metrics = learner.eval(dataset)
        ctx, _ = setup_distributed(learner.device)
    finally:
        shutdown_distributed()
    if not ctx.is_main:
        return 0
    print(f"{metrics['samples']} videos ({metrics['protocol']}): top-1 {100 * metrics['top1']:.2f}%, "
          f"top-3 {100 * metrics['top3']:.2f}%, top-5 {100 * metrics['top5']:.2f}%, "
          f"frame accuracy {100 * metrics['frame_accuracy']:.2f}%, "
          f"mean class accuracy {100 * metrics['mean_class_accuracy']:.2f}%, loss (NLL) {metrics['loss']:.4f}")
    print(f"model: {metrics['params'] / 1e6:.2f} M parameters, {metrics['gflops']:.2f} GFLOPs per clip")
    _print_skipped(metrics["skipped"])
    if save_metrics_to:
        json_path = write_metrics(metrics, save_metrics_to)
        png_path = plot_confusion_matrix(metrics["confusion"], metrics["classes"],
                                         json_path.with_name(f"{json_path.stem}_confusion.png"))
        print(f"metrics: {json_path}\nconfusion matrix: {png_path}")
    return 0


def run_download(models: list[str], dest: str | os.PathLike | None, timeout: float) -> int:
    from ..hub import cache_dir, download_checkpoint

    for name in models:
        path = download_checkpoint(name, dest, timeout=timeout)
        print(path)
    if dest is None:
        print(f"(cache: {cache_dir()}; set AR_ROS_CACHE to move it)")
    return 0
