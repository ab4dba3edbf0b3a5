"""The X3D family: sizes as the paper reports them, SlowFast parameter names, head semantics."""
import subprocess
import sys

import pytest
import torch
from torch.nn import functional as F

from ar_core.models import MODEL_SPECS, build_model, get_spec
from ar_core.models.profile import profile_model

# X3D paper, Table 3 / SlowFast MODEL_ZOO: parameters (without BatchNorm) and multiply-add GFLOPs, one clip.
PAPER = {"xs": (3.76e6, 0.60), "s": (3.76e6, 1.96), "m": (3.76e6, 4.73), "l": (6.08e6, 18.37)}


@pytest.mark.parametrize("name", list(PAPER))
def test_params_and_flops_match_the_paper(name):
    params, gflops = PAPER[name]
    stats = profile_model(build_model(name), MODEL_SPECS[name])
    assert stats.params == pytest.approx(params, rel=0.02)
    assert stats.gflops == pytest.approx(gflops, rel=0.02)


def test_info_command_prints_the_figures():
    out = subprocess.run([sys.executable, "-m", "ar_core.cli", "info", "--model", "s"],
                         capture_output=True, text=True, check=True).stdout
    assert "X3D-S" in out and "3.763 M without BatchNorm; published 3.760 M" in out and "13x160x160" in out
    assert "1.96 (multiply-adds" in out and "published 1.96" in out
    listing = subprocess.run([sys.executable, "-m", "ar_core.cli", "info"], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    rows = {line.split()[0]: line for line in listing[1:-1]}
    assert set(rows) == set(MODEL_SPECS) and "R(2+1)D-18" in rows["r2plus1d_18"] and "31.51 M" in rows["r2plus1d_18"]


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="the registry has: xs, s, m, l, r3d_18, r2plus1d_18, s3d"):
        build_model("xxl")
    assert get_spec("X3D-XS").name == "xs"


def test_parameter_names_and_shapes_follow_slowfast():
    state = build_model("xs").state_dict()
    expected = {
        "s1.pathway0_stem.conv_xy.weight": (24, 3, 1, 3, 3),
        "s1.pathway0_stem.conv.weight": (24, 1, 5, 1, 1),
        "s2.pathway0_res0.branch1.weight": (24, 24, 1, 1, 1),
        "s2.pathway0_res0.branch2.a.weight": (54, 24, 1, 1, 1),
        "s2.pathway0_res0.branch2.b.weight": (54, 1, 3, 3, 3),
        "s2.pathway0_res0.branch2.se.fc1.weight": (8, 54, 1, 1, 1),
        "s2.pathway0_res0.branch2.se.fc2.bias": (54,),
        "s4.pathway0_res10.branch2.c_bn.running_var": (96,),
        "s5.pathway0_res0.branch2.se.fc1.weight": (32, 432, 1, 1, 1),
        "s5.pathway0_res6.branch2.c.weight": (192, 432, 1, 1, 1),
        "head.conv_5.weight": (432, 192, 1, 1, 1),
        "head.lin_5.weight": (2048, 432, 1, 1, 1),
        "head.projection.weight": (400, 2048),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    # SE sits on every other block only, and only the first block of a stage has a shortcut conv.
    assert "s2.pathway0_res1.branch2.se.fc1.weight" not in state
    assert "s2.pathway0_res1.branch1.weight" not in state
    stage_depths = [len({k.split(".")[1] for k in state if k.startswith(f"s{i}.")}) for i in (2, 3, 4, 5)]
    assert stage_depths == [3, 5, 11, 7]
    assert len(state) == 568


def test_train_mode_gives_logits_and_eval_mode_probabilities():
    torch.manual_seed(0)
    model = build_model("xs", num_classes=7)
    clips = torch.randn(2, 3, 4, 64, 64)
    logits = model.train()(clips)
    assert logits.shape == (2, 7) and not torch.allclose(logits.sum(1), torch.ones(2))
    probs = model.eval()(clips)
    assert torch.allclose(probs.sum(1), torch.ones(2), atol=1e-5) and (probs >= 0).all()


def test_eval_at_test_crop_averages_softmax_over_positions():
    """At 182 px the head pools 5x5 over a 6x6 map: 2x2 positions, each softmaxed, then averaged."""
    torch.manual_seed(0)
    model = build_model("xs").eval()
    clips = torch.randn(1, 3, 4, 182, 182)
    with torch.no_grad():
        x = model.s1.pathway0_stem(clips)
        for stage in (model.s2, model.s3, model.s4, model.s5):
            x = stage(x)
        head = model.head
        x = F.relu(head.conv_5_bn(head.conv_5(x)))
        assert x.shape[2:] == (4, 6, 6)
        x = F.relu(head.lin_5(F.avg_pool3d(x, (4, 5, 5), stride=1)))
        per_position = head.projection(x.permute(0, 2, 3, 4, 1)).softmax(-1)
        assert per_position.shape[1:4] == (1, 2, 2)
        expected = per_position.mean(dim=(1, 2, 3))
        assert torch.allclose(model(clips), expected, atol=1e-6)
