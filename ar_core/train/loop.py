"""The training loop: mixed precision, gradient clipping, periodic resumable checkpoints, validation at each
epoch's end, TensorBoard scalars and a progress bar; data parallel under torchrun.

A run is a pure function of its config: the batch order depends on (seed, epoch), the RNG states are
checkpointed (every rank's), and a resumed run skips the batches already consumed, so stopping and resuming
at a checkpoint gives the weights an uninterrupted run gives, with any num_workers (video datasets draw
their augmentation from (seed, epoch, index), set_epoch tells them the epoch).
"""
from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from ..eval.evaluator import evaluate
from .checkpointing import (capture_rng_state, checkpoint_path, load_checkpoint_state, prune_checkpoints,
                            restore_rng_state, save_checkpoint)
from .config import ConfigError, TrainConfig
from .distributed import DistributedContext, all_gather, sync_buffers, unwrap_network, wrap_network
from .loader import Skipped, construction_skips, epoch_batches, make_loader
from .optim import build_optimizer, build_scheduler

log = logging.getLogger(__name__)

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
VAL_KEYS = ("loss", "top1", "top5", "mean_class_accuracy")
# Keys that may change between a run and its resumption without changing what is computed.
RESUME_NEUTRAL_KEYS = {"checkpoint_load_iter", "checkpoint_after_iter", "checkpoint_every_epochs",
                       "keep_checkpoints", "eval_batch_size", "temp_path", "device", "num_workers", "pin_memory",
                       "log_every"}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def steps_per_epoch(num_samples: int, batch_size: int, ctx: DistributedContext, drop_last: bool) -> int:
    per_rank = math.ceil(num_samples / ctx.world_size)  # DistributedSampler pads the shards to equal length
    return per_rank // batch_size if drop_last else math.ceil(per_rank / batch_size)


@dataclass
class Progress:
    """What a run has done so far; saved in checkpoints."""

    iteration: int = 0
    history: list[dict] = field(default_factory=list)  # validation summary after each epoch
    skipped: Skipped = field(default_factory=list)  # samples this rank skipped while reading
    last_loss: float = math.nan


class Trainer:
    def __init__(self, network: nn.Module, config: TrainConfig, classes: list[str], device: torch.device,
                 ctx: DistributedContext = DistributedContext(), log_dir: Path | None = None):
        """log_dir: TensorBoard's folder (default: temp_path/tensorboard; neither: no TensorBoard)."""
        if config.batch_size % ctx.world_size:
            raise ConfigError(f"batch_size: {config.batch_size} does not split evenly over {ctx.world_size} "
                              f"processes")
        self.config, self.classes, self.device, self.ctx = config, classes, device, ctx
        self.batch_size = config.batch_size // ctx.world_size  # per process
        self.network = wrap_network(network.to(device), ctx, device)
        self.optimizer = build_optimizer(network, config.optimizer, config.lr, config.weight_decay,
                                         config.bn_weight_decay, config.momentum)
        self.scaler = torch.amp.GradScaler(device.type, enabled=config.amp == "fp16")
        self.run_dir = Path(config.temp_path) if config.temp_path else None
        self.log_dir = log_dir or (self.run_dir / "tensorboard" if self.run_dir else None)

    def fit(self, train_set: Dataset, val_set: Dataset | None, epochs: int, max_steps: int | None = None,
            resume_from: Path | None = None) -> dict:
        config, ctx = self.config, self.ctx
        per_epoch = steps_per_epoch(len(train_set), self.batch_size, ctx, config.drop_last)
        if per_epoch == 0:
            raise ConfigError(f"batch_size: {config.batch_size} is larger than the {len(train_set)} training "
                              f"samples (with drop_last={config.drop_last} no batch would be left)")
        total = min(epochs * per_epoch, max_steps or math.inf)
        self.scheduler = build_scheduler(self.optimizer, total, config.lr_schedule,
                                         round(config.warmup_epochs * per_epoch), config.warmup_start_lr, config.lr,
                                         config.eta_min)
        progress = self._resume(resume_from, per_epoch) if resume_from else self._start()
        self.started = time.perf_counter()
        built_skips = construction_skips(train_set)
        with _Reporter(self, total, progress.iteration) as reporter:
            while progress.iteration < total:
                self._run_epoch(train_set, val_set, progress, per_epoch, total, reporter)
        skipped = built_skips + [entry for part in all_gather(progress.skipped, ctx) for entry in part]
        if skipped and ctx.is_main:
            log.warning("training skipped %d unreadable sample(s): %s", len(skipped),
                        "; ".join(f"{path}: {reason}" for path, reason in skipped))
        return {"iterations": progress.iteration, "epochs": progress.iteration / per_epoch,
                "train_loss": progress.last_loss, "val": progress.history[-1] if progress.history else None,
                "history": progress.history, "skipped": [list(entry) for entry in skipped]}

    # -- one epoch and one step -------------------------------------------------------------------------

    def _run_epoch(self, train_set: Dataset, val_set: Dataset | None, progress: Progress, per_epoch: int,
                   total: int, reporter: _Reporter) -> None:
        config = self.config
        epoch = progress.iteration // per_epoch
        if hasattr(train_set, "set_epoch"):
            train_set.set_epoch(epoch)
        done_in_epoch = progress.iteration - epoch * per_epoch
        batches = epoch_batches(len(train_set), self.batch_size, epoch, config.seed, self.ctx,
                                drop_last=config.drop_last)[done_in_epoch:per_epoch]
        batches = batches[:total - progress.iteration]
        loader = make_loader(train_set, batches, seed=config.seed * 100_003 + epoch,
                             num_workers=config.num_workers, pin_memory=config.pin_memory)
        for clips, labels, skipped in loader:
            loss = self._step(clips.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True))
            progress.iteration += 1
            progress.skipped += skipped
            reporter.step(progress, loss, len(labels) * self.ctx.world_size)
            epoch_done = progress.iteration % per_epoch == 0 or progress.iteration == total
            if epoch_done and val_set is not None:
                summary = self._validate(val_set, epoch, progress.iteration)
                progress.history.append(summary)
                reporter.validated(summary)
            if self._checkpoint_due(progress.iteration, per_epoch):
                self._save(progress, epoch, per_epoch)

    def _checkpoint_due(self, iteration: int, per_epoch: int) -> bool:
        """Every checkpoint_after_iter iterations and at the end of every checkpoint_every_epochs-th epoch (one
        file when both fall on the same iteration)."""
        every_iter, every_epochs = self.config.checkpoint_after_iter, self.config.checkpoint_every_epochs
        if every_iter and iteration % every_iter == 0:
            return True
        return bool(every_epochs) and iteration % per_epoch == 0 and (iteration // per_epoch) % every_epochs == 0

    def _step(self, clips: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.network.train()
        amp = self.config.amp
        with torch.autocast(self.device.type, dtype=AMP_DTYPES.get(amp), enabled=amp != "off"):
            loss = F.cross_entropy(self.network(clips), labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.network.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach()

    def _validate(self, val_set: Dataset, epoch: int, iteration: int) -> dict:
        sync_buffers(self.network, self.ctx)
        network = unwrap_network(self.network).eval()
        batch_size = max(1, self.config.eval_batch // self.ctx.world_size)
        metrics = evaluate(network, val_set, self.classes, batch_size, self.device, self.ctx,
                           num_workers=self.config.num_workers, pin_memory=self.config.pin_memory)
        return {"epoch": epoch + 1, "iteration": iteration, "elapsed_s": time.perf_counter() - self.started,
                **{f"val_{k}": metrics[k] for k in VAL_KEYS}}

    # -- starting, resuming, checkpoints -----------------------------------------------------------------

    def _start(self) -> Progress:
        seed_everything(self.config.seed + self.ctx.rank)  # ranks draw different augmentations and dropout
        return Progress()

    def _resume(self, path: Path, per_epoch: int) -> Progress:
        state = load_checkpoint_state(path)
        unwrap_network(self.network).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        changed = sorted(k for k, v in state["config"].items()
                         if k not in RESUME_NEUTRAL_KEYS and getattr(self.config, k, v) != v)
        if changed or state["steps_per_epoch"] != per_epoch:
            log.warning("resuming %s with changed settings (%s): the run will not match an uninterrupted one",
                        path, ", ".join(changed) or "steps per epoch")
        rng = state["rng"]
        if len(rng) == self.ctx.world_size:
            restore_rng_state(rng[self.ctx.rank])
        else:
            log.warning("%s was written by %d process(es), this run has %d: RNG streams restart", path, len(rng),
                        self.ctx.world_size)
            seed_everything(self.config.seed + self.ctx.rank + state["iteration"])
        if self.ctx.is_main:
            log.info("resumed from %s at iteration %d", path, state["iteration"])
        # Rank 0 carries the skips of every rank so far; the others start an empty list.
        skipped = [tuple(entry) for entry in state["skipped"]] if self.ctx.is_main else []
        return Progress(state["iteration"], list(state["history"]), skipped, state["last_loss"])

    def _save(self, progress: Progress, epoch: int, per_epoch: int) -> None:
        # Every rank takes part in the gather; rank 0 alone writes.
        rng = all_gather(capture_rng_state(), self.ctx)
        skipped = [entry for part in all_gather(progress.skipped, self.ctx) for entry in part]
        if not self.ctx.is_main or self.run_dir is None:
            return
        path = checkpoint_path(self.run_dir, progress.iteration)
        save_checkpoint(path, {
            "model": unwrap_network(self.network).state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
            "epoch": epoch, "iteration": progress.iteration, "steps_per_epoch": per_epoch,
            "config": self.config.to_dict(), "history": progress.history, "skipped": [list(e) for e in skipped],
            "last_loss": progress.last_loss, "rng": rng,
        })
        prune_checkpoints(self.run_dir, self.config.keep_checkpoints, path)


class _Reporter:
    """Progress bar, TensorBoard scalars and the running loss. Every rank computes; rank 0 shows and writes."""

    def __init__(self, trainer: Trainer, total: int, start: int):
        self.trainer, self.total, self.start = trainer, total, start
        self.every = trainer.config.log_every

    def __enter__(self) -> _Reporter:
        from tqdm import tqdm

        main = self.trainer.ctx.is_main
        self.bar = tqdm(total=self.total, initial=self.start, desc="train", unit="it", disable=not main,
                        dynamic_ncols=True)
        self.writer = None
        if main and self.trainer.log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops what an interrupted run logged after the checkpoint we resumed from.
            self.writer = SummaryWriter(str(self.trainer.log_dir), purge_step=self.start or None)
        self._reset()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()

    def _reset(self) -> None:
        self.loss_sum, self.steps, self.clips, self.since = 0.0, 0, 0, time.perf_counter()

    def step(self, progress: Progress, loss: torch.Tensor, clips: int) -> None:
        # Losses stay on the device between reports: reading one every step would stall a GPU.
        self.loss_sum, self.steps, self.clips = self.loss_sum + loss, self.steps + 1, self.clips + clips
        self.bar.update(1)
        if progress.iteration % self.every and progress.iteration != self.total:
            return
        mean = float(self.loss_sum / self.steps)
        if not math.isfinite(mean):
            raise FloatingPointError(f"training diverged: mean loss {mean} over iterations up to "
                                     f"{progress.iteration}; lower lr (now {self.trainer.config.lr}) or set grad_clip")
        progress.last_loss = mean
        lr = self.trainer.optimizer.param_groups[0]["lr"]
        rate = self.clips / max(time.perf_counter() - self.since, 1e-9)
        self.bar.set_postfix(loss=f"{mean:.4f}", lr=f"{lr:.2e}", clips_s=f"{rate:.1f}")
        if self.writer is not None:
            for name, value in (("loss", mean), ("lr", lr), ("clips_per_s", rate)):
                self.writer.add_scalar(f"train/{name}", value, progress.iteration)
        self._reset()

    def validated(self, summary: dict) -> None:
        if not self.trainer.ctx.is_main:
            return
        self.bar.write(f"epoch {summary['epoch']}: " + ", ".join(f"{k} {summary[f'val_{k}']:.4f}" for k in VAL_KEYS))
        if self.writer is not None:
            for key in VAL_KEYS:
                self.writer.add_scalar(f"val/{key}", summary[f"val_{key}"], summary["iteration"])
