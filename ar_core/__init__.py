"""ar_core: X3D activity recognition without ROS: models, data, training, export and runtimes."""
from .version import __version__


def __getattr__(name: str):
    # X3DLearner pulls in torch and the training stack: load it only when asked for.
    if name == "X3DLearner":
        from .train.learner import X3DLearner

        return X3DLearner
    raise AttributeError(f"module 'ar_core' has no attribute {name!r}")
