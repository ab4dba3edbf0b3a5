"""Session-wide settings: keep DDS traffic on this machine and away from other test runs."""
import os

import pytest
import torch

# A domain of our own (0..101 are valid with the default port mapping) and discovery on loopback only.
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 90 + 10))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for a test module (small models run fastest so, and results do not vary), then back."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
