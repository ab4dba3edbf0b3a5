"""The pieces of the training loop: schedule, batch order, RNG checkpoints, resume by iteration, AMP."""
import math
import random

import numpy as np
import pytest
import torch

from ar_core import X3DLearner
from ar_core.data import SyntheticMotion
from ar_core.models import CheckpointError
from ar_core.train.checkpointing import (capture_rng_state, list_checkpoints, load_checkpoint_state,
                                         restore_rng_state, save_checkpoint)
from ar_core.train.distributed import DistributedContext
from ar_core.train.loader import epoch_batches
from ar_core.train.optim import lr_factor

from train_helpers import TINY

torch.set_num_threads(1)


def test_warmup_then_cosine():
    # 10 warm-up steps from 0.1x to the cosine value at step 10, then cosine down to 0 at step 100.
    at_10 = 0.5 * (1 + math.cos(math.pi * 10 / 100))
    assert lr_factor(0, 100, "cosine", 10, 0.1) == pytest.approx(0.1)
    assert lr_factor(5, 100, "cosine", 10, 0.1) == pytest.approx(0.1 + (at_10 - 0.1) / 2)
    assert lr_factor(10, 100, "cosine", 10, 0.1) == pytest.approx(at_10)
    assert lr_factor(50, 100, "cosine", 10, 0.1) == pytest.approx(0.5)
    assert lr_factor(100, 100, "cosine", 10, 0.1) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(3, 100, "", 0, 0.1) == 1.0  # constant schedule without warm-up


def test_batch_order_depends_on_seed_and_epoch_only():
    one = DistributedContext()
    assert epoch_batches(20, 4, 3, 7, one) == epoch_batches(20, 4, 3, 7, one)
    assert epoch_batches(20, 4, 3, 7, one) != epoch_batches(20, 4, 4, 7, one)
    batches = epoch_batches(22, 4, 0, 7, one)
    assert len(batches) == 5 and all(len(b) == 4 for b in batches)  # drop_last drops the 2 left over
    shards = [epoch_batches(20, 5, 1, 7, DistributedContext(rank, 2)) for rank in range(2)]
    seen = [i for shard in shards for batch in shard for i in batch]
    assert sorted(seen) == list(range(20))  # the two ranks split the epoch without overlap


def test_rng_states_survive_a_weights_only_round_trip(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.random(), np.random.normal(), torch.rand(1)  # leave numpy with a cached gaussian, too
    save_checkpoint(tmp_path / "state.pt", {"model": {}, "optimizer": {}, "scheduler": {}, "iteration": 0,
                                            "rng": [capture_rng_state()]})
    expected = (random.random(), np.random.normal(), np.random.rand(), torch.rand(3))
    restore_rng_state(load_checkpoint_state(tmp_path / "state.pt")["rng"][0])
    again = (random.random(), np.random.normal(), np.random.rand(), torch.rand(3))
    assert expected[:3] == again[:3] and torch.equal(expected[3], again[3])


def test_checkpoint_load_iter_resumes_that_iteration(tmp_path):
    data = SyntheticMotion(16, size=32, seed=4)
    options = dict(TINY, batch_size=4, optimizer="sgd", lr=0.05, lr_schedule="cosine", warmup_epochs=0.5,
                   temp_path=str(tmp_path), checkpoint_after_iter=2, seed=5)
    full = X3DLearner(**options)
    full.fit(data, epochs=2, steps=6)
    assert list(list_checkpoints(tmp_path)) == [2, 4, 6]
    resumed = X3DLearner(**options, checkpoint_load_iter=2)
    resumed.fit(data, epochs=2, steps=6)
    for name, tensor in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name
    with pytest.raises(CheckpointError, match=r"no checkpoint for iteration 3 .*\(iterations saved: 2, 4, 6\)"):
        X3DLearner(**options, checkpoint_load_iter=3).fit(data, steps=6)


# fp16: the GradScaler skips the first step (its initial scale overflows), which torch reports as a warning.
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_and_clipping_train(amp):
    learner = X3DLearner(**TINY, batch_size=4, optimizer="sgd", lr=0.05, amp=amp, grad_clip=1.0)
    before = {k: v.clone() for k, v in learner.model.state_dict().items()}
    result = learner.fit(SyntheticMotion(8, size=32), steps=2)
    assert math.isfinite(result["train_loss"])
    assert any(not torch.equal(before[k], v) for k, v in learner.model.state_dict().items())


def test_cuda_mixed_precision():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine: fp16 autocast + GradScaler on the GPU not exercised")
    learner = X3DLearner(**{**TINY, "device": "cuda"}, batch_size=4, optimizer="sgd", lr=0.05, amp="fp16")
    result = learner.fit(SyntheticMotion(8, size=32), steps=2)
    assert math.isfinite(result["train_loss"])


def test_divergence_is_reported():
    learner = X3DLearner(**TINY, batch_size=4, optimizer="sgd", lr=1e12, momentum=0.0)
    with pytest.raises(FloatingPointError, match="training diverged"):
        learner.fit(SyntheticMotion(16, size=32), steps=4)
