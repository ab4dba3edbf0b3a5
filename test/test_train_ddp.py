"""Data parallel training (2 CPU processes, gloo) equals one process running the same global batches.

Reference: for each step, each rank's half of the batch goes through the model separately (BatchNorm
sees per-half statistics, as in DDP without SyncBN), with that rank's RNG stream for dropout; the two
gradients are averaged, and rank 0's BatchNorm running statistics are kept (DDP broadcasts rank 0's
buffers before every forward).
"""
import json

import pytest
import torch
import torch.multiprocessing as mp
from torch.nn import functional as F
from torch.utils.data import DistributedSampler

from ar_core import X3DLearner
from ar_core.data import SyntheticMotion
from ar_core.eval.evaluator import evaluate

from train_helpers import TINY, ddp_worker, free_port

SAMPLES, GLOBAL_BATCH, STEPS, WORLD = 16, 8, 3, 2  # 2 batches per epoch: the run crosses an epoch boundary
VAL_SAMPLES = 5  # split 3 + 2 over the ranks: sharded evaluation with uneven shards
LEARNER = dict(TINY, batch_size=GLOBAL_BATCH, optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=0.0,
               lr_schedule="", seed=7)


def _rank_batches(rank: int, epoch: int) -> list[list[int]]:
    sampler = DistributedSampler(range(SAMPLES), num_replicas=WORLD, rank=rank, shuffle=True, seed=LEARNER["seed"])
    sampler.set_epoch(epoch)
    order = list(sampler)
    per_rank = GLOBAL_BATCH // WORLD
    return [order[i:i + per_rank] for i in range(0, len(order), per_rank)]


def _reference_model(settings: dict) -> torch.nn.Module:
    torch.set_num_threads(1)
    learner = X3DLearner(**settings)
    model = learner.model.train()
    data = SyntheticMotion(SAMPLES, size=LEARNER["crop"], seed=5)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNER["lr"], momentum=LEARNER["momentum"])
    params = list(model.parameters())
    rng = []
    for rank in range(WORLD):
        torch.manual_seed(LEARNER["seed"] + rank)
        rng.append(torch.get_rng_state())
    per_epoch = SAMPLES // GLOBAL_BATCH
    for step in range(STEPS):
        epoch, index = divmod(step, per_epoch)
        grads, rank0_buffers = [], None
        for rank in range(WORLD):
            batch = _rank_batches(rank, epoch)[index]
            clips = torch.stack([data[i][0] for i in batch])
            labels = torch.tensor([data[i][1] for i in batch])
            torch.set_rng_state(rng[rank])
            grads.append(torch.autograd.grad(F.cross_entropy(model(clips), labels), params))
            rng[rank] = torch.get_rng_state()
            if rank == 0:
                rank0_buffers = {k: v.clone() for k, v in model.named_buffers()}
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                buffer.copy_(rank0_buffers[name])
        for param, *per_rank in zip(params, *grads):
            param.grad = sum(per_rank) / WORLD
        optimizer.step()
    return model


@pytest.mark.parametrize("model", ["xs", "lrcn"])  # a 3D CNN, and a 2D CNN + LSTM through the same DDP path
def test_two_process_ddp_equals_split_batch_reference(model, tmp_path):
    settings = dict(LEARNER, backbone=model)
    mp.spawn(ddp_worker, args=(WORLD, free_port(), str(tmp_path), settings, SAMPLES, VAL_SAMPLES, STEPS),
             nprocs=WORLD)
    ranks = [torch.load(tmp_path / f"{rank}.pt", weights_only=True) for rank in range(WORLD)]
    trained = _reference_model(settings)
    reference = trained.state_dict()
    initial = X3DLearner(**settings).model.state_dict()
    moved = 0
    for name, expected in reference.items():
        assert torch.allclose(ranks[0][name].float(), expected.float(), atol=1e-5, rtol=0), name
        if name.endswith("weight"):
            assert torch.equal(ranks[0][name], ranks[1][name]), f"ranks disagree on {name}"
        moved += not torch.equal(expected, initial[name])
    assert moved > 100  # the steps really changed the weights

    # Validation ran sharded over both ranks and was gathered: it matches one process scoring every clip.
    val = SyntheticMotion(VAL_SAMPLES, size=LEARNER["crop"], seed=6)
    metrics = evaluate(trained.eval(), val, val.classes, batch_size=4, device=torch.device("cpu"))
    for rank in range(WORLD):
        summary = json.loads((tmp_path / f"{rank}.json").read_text())
        assert summary["iteration"] == STEPS
        assert summary["val_loss"] == pytest.approx(metrics["loss"], abs=1e-5)
        assert summary["val_top1"] == pytest.approx(metrics["top1"])
