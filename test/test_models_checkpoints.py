"""Loading official SlowFast .pyth files, plain state dicts, and refusing everything else clearly."""
import logging
import pickle

import pytest
import torch

from ar_core.models import CheckpointError, build_model, load_checkpoint


@pytest.fixture(scope="module")
def trained_xs():
    torch.manual_seed(1)
    model = build_model("xs")
    # Non-default BN statistics so a round trip that drops buffers would show.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _same_outputs(a, b):
    clips = torch.randn(1, 3, 4, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return torch.allclose(a.eval()(clips), b.eval()(clips), atol=1e-6)


def test_slowfast_pyth_round_trip(trained_xs, tmp_path):
    path = tmp_path / "x3d_xs.pyth"
    torch.save({"epoch": 300, "model_state": trained_xs.state_dict(), "optimizer_state": {},
                "cfg": "MODEL:\n  ARCH: x3d\n"}, path)
    fresh = build_model("xs")
    loaded = load_checkpoint(fresh, path)
    assert len(loaded) == 568
    assert _same_outputs(trained_xs, fresh)


def test_plain_and_ddp_prefixed_state_dicts(trained_xs, tmp_path):
    for name, state in [("plain.pth", trained_xs.state_dict()),
                        ("ddp.pth", {f"module.{k}": v for k, v in trained_xs.state_dict().items()})]:
        torch.save(state, tmp_path / name)
        fresh = build_model("xs")
        load_checkpoint(fresh, tmp_path / name)
        assert _same_outputs(trained_xs, fresh), name


def test_missing_and_unexpected_keys_are_listed(trained_xs, tmp_path):
    state = trained_xs.state_dict()
    state.pop("head.lin_5.weight")
    state["head.extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(build_model("xs"), tmp_path / "bad.pth")
    assert "1 missing key(s) [head.lin_5.weight]" in str(err.value)
    assert "1 unexpected key(s) [head.extra.weight]" in str(err.value)


def test_deeper_model_reports_its_extra_blocks(tmp_path):
    torch.save(build_model("l").state_dict(), tmp_path / "l.pth")
    with pytest.raises(CheckpointError, match=r"0 missing key\(s\) \[\], \d+ unexpected key\(s\) \[s2.pathway0_res3"):
        load_checkpoint(build_model("m"), tmp_path / "l.pth")


def test_shape_mismatch_names_first_key_and_both_shapes(trained_xs, tmp_path):
    state = trained_xs.state_dict()
    state["s3.pathway0_res0.branch2.a.weight"] = torch.zeros(100, 24, 1, 1, 1)
    torch.save({"model_state": state}, tmp_path / "shape.pyth")
    with pytest.raises(CheckpointError, match=r"s3.pathway0_res0.branch2.a.weight: checkpoint "
                                              r"\(100, 24, 1, 1, 1\), X3D-XS \(108, 24, 1, 1, 1\)"):
        load_checkpoint(build_model("xs"), tmp_path / "shape.pyth")


def test_new_head_is_kept_and_reported(trained_xs, tmp_path, caplog):
    torch.save({"model_state": trained_xs.state_dict()}, tmp_path / "k400.pyth")
    model = build_model("xs", num_classes=5)
    head_before = model.head.projection.weight.clone()
    with caplog.at_level(logging.INFO):
        load_checkpoint(model, tmp_path / "k400.pyth")
    assert "new 5-class head" in caplog.text
    assert torch.equal(model.head.projection.weight, head_before)
    assert torch.equal(model.head.lin_5.weight, trained_xs.head.lin_5.weight)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_a_file_that_is_not_a_checkpoint_says_so(tmp_path, content):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="is not a PyTorch checkpoint"):
        load_checkpoint(build_model("xs"), path)


def test_tensors_without_a_state_dict_are_refused(tmp_path):
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="is not a model checkpoint"):
        load_checkpoint(build_model("xs"), tmp_path / "list.pth")


class _Payload:
    """Unpickling this would create a file: the loader must refuse before that happens."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_code_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pth"
    torch.save({"model_state": {"w": torch.zeros(1)}, "payload": _Payload(str(marker))}, path,
               pickle_module=pickle)
    with pytest.raises(CheckpointError, match="executing pickled code"):
        load_checkpoint(build_model("xs"), path)
    assert not marker.exists()


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(build_model("xs"), tmp_path / "nope.pyth")
