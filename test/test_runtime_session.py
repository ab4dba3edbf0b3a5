"""open_session (the node's, bag-eval's and infer's way to a model) goes through the one model loader."""
import numpy as np
import pytest
import torch

from ar_core.labels import kinetics400_labels
from ar_core.models import build_model
from ar_core.session import WeightsNotFound, open_session
from ar_core.train.learner import X3DLearner


def test_a_folder_saved_twice_opens_the_newest_version(tmp_path):
    X3DLearner(backbone="xs", device="cpu", num_classes=3).save(tmp_path)
    X3DLearner(backbone="xs", device="cpu", num_classes=5).save(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.pth")) == ["x3d_xs.pth", "x3d_xs_1.pth"]
    session = open_session("xs", tmp_path, device="auto", num_threads=1)
    try:
        assert session.weights == tmp_path / "x3d_xs_1.pth"
        assert len(session.labels) == 5 and session.engine.device == ("cuda" if torch.cuda.is_available() else "cpu")
        clips = np.zeros((1, *session.metadata.input_shape), np.float32)
        assert session.engine.predict(clips).shape == (1, 5)
    finally:
        session.close()


def test_a_folder_holding_only_an_official_checkpoint(tmp_path):
    torch.save({"model_state": build_model("xs").state_dict()}, tmp_path / "x3d_xs.pyth")
    session = open_session("xs", tmp_path, device="cpu")
    try:
        assert session.weights == tmp_path / "x3d_xs.pyth"
        assert session.labels == list(kinetics400_labels()) and session.metadata.model == "xs"
    finally:
        session.close()


def test_missing_weights_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("AR_ROS_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(WeightsNotFound, match=r"no weights given and the official X3D-XS checkpoint is not in the "
                                              r"download cache; run `ar-core download --model xs`"):
        open_session("xs")
    with pytest.raises(WeightsNotFound, match=f"weights not found: {tmp_path / 'absent.pth'}"):
        open_session("xs", tmp_path / "absent.pth")
