"""Shared by the test_train_* files: small, fast training settings and a torchrun-like worker."""
import json
import os
import socket

import torch

# X3D-XS at a 32-pixel crop and 4 frames: a training step takes a fraction of a second on one CPU thread.
TINY = dict(backbone="xs", crop=32, device="cpu", num_classes=4, synthetic_classes=4, log_every=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ddp_worker(rank: int, world_size: int, port: int, out_dir: str, learner_kwargs: dict, samples: int,
               val_samples: int, steps: int) -> None:
    """One process of a CPU data-parallel run, set up as torchrun would; rank r saves its weights to r.pt
    and the final validation summary to r.json."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from ar_core import X3DLearner
    from ar_core.data import SyntheticMotion
    from ar_core.train.distributed import shutdown_distributed

    learner = X3DLearner(**learner_kwargs)
    size = learner_kwargs["crop"]
    result = learner.fit(SyntheticMotion(samples, size=size, seed=5), SyntheticMotion(val_samples, size=size, seed=6),
                         steps=steps)
    torch.save(learner.model.state_dict(), os.path.join(out_dir, f"{rank}.pt"))
    with open(os.path.join(out_dir, f"{rank}.json"), "w") as out:
        json.dump(result["val"], out)
    shutdown_distributed()


class MovingSquares(torch.utils.data.Dataset):
    """A bright square moving right, left, down or up over a dark background, 4 pixels a frame; the class is
    the direction, so it is only in the motion (any single frame shows a square somewhere).

    Simpler than SyntheticMotion (no texture, no distractors, no wrapping at the borders): a short CPU run
    must learn it, so a failure points at the training loop rather than at the difficulty of the data.
    """

    classes = ["right", "left", "down", "up"]
    STEP, SIDE = 4, 6  # pixels per frame, square side

    def __init__(self, count: int, size: int = 32, frames: int = 4, seed: int = 0):
        self.count, self.size, self.frames, self.seed = count, size, frames, seed

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        label = index % len(self.classes)
        dx, dy = ((1, 0), (-1, 0), (0, 1), (0, -1))[label]
        travel = self.STEP * (self.frames - 1)
        room = self.size - self.SIDE - travel  # start positions that keep the whole path inside the frame
        along = int(torch.randint(0, room + 1, (1,), generator=generator)) + (travel if dx + dy < 0 else 0)
        across = int(torch.randint(0, self.size - self.SIDE + 1, (1,), generator=generator))
        left, top = (along, across) if dx else (across, along)
        clip = torch.full((3, self.frames, self.size, self.size), 0.1 * float(torch.rand(1, generator=generator)))
        for t in range(self.frames):
            x, y = left + dx * self.STEP * t, top + dy * self.STEP * t
            clip[:, t, y:y + self.SIDE, x:x + self.SIDE] = 0.9 + 0.1 * float(torch.rand(1, generator=generator))
        return (clip - 0.45) / 0.225, label
