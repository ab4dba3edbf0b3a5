"""Shared by the test_train_* files: small, fast training settings, a torchrun-like worker and a model zoo mirror."""
import contextlib
import functools
import http.server
import json
import os
import socket
import threading

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


@contextlib.contextmanager
def serving(folder):
    """A real HTTP server on 127.0.0.1 serving the files of `folder`; yields its base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
