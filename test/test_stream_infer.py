"""`ar-core infer VIDEO` is the node's frame path: a video's frames at their presentation times give the same
predictions as bag-eval on a bag of the same frames at the same stamps."""
import numpy as np
import pytest
import torch

from ar_core.bags.evaluate import evaluate_bag
from ar_core.bags.writer import write_image_bag
from ar_core.cli import main
from ar_core.data import render_motion_frames
from ar_core.data.video import read_all_frames
from ar_core.stream.pipeline import ActivityStream
from ar_core.stream.settings import BAG_EVAL, INFER, load_settings
from ar_core.stream.video import predict_video

from bag_helpers import CLASSES, make_model, write_truth
from data_helpers import encode_video

FPS = 15.0

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """4 s of motion at 15 fps, H.264."""
    frames = np.concatenate([render_motion_frames(0, 30, 64, FPS, seed=1), render_motion_frames(1, 30, 64, FPS, seed=2)])
    return encode_video(tmp_path_factory.mktemp("video") / "motion.mp4", frames, FPS)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("model"))


def test_infer_predictions_equal_bag_eval_on_a_bag_of_the_same_frames(video, weights, tmp_path):
    settings = dict(weights=str(weights), num_threads=1, hop=2, smoothing=2, top_k=3)
    stream = ActivityStream.open(load_settings(INFER, overrides=settings))
    try:
        inferred = list(predict_video(video, stream))
    finally:
        stream.close()

    bag = write_image_bag(tmp_path / "bag", read_all_frames(video), fps=FPS, start_s=0.0, storage="mcap")
    truth = write_truth(tmp_path / "truth.yaml", [(0.0, 4.0, CLASSES[0])])
    report = evaluate_bag(bag, "/camera/image_raw", truth, load_settings(BAG_EVAL, overrides=settings),
                          tmp_path / "report", progress=False)

    assert len(inferred) == len(report["predictions"]) >= 4
    for ours, theirs in zip(inferred, report["predictions"]):
        assert ours.stamp == pytest.approx(theirs["stamp"], abs=1e-6)
        assert [r.label for r in ours.top] == [t["label"] for t in theirs["top"]]
        assert [r.score for r in ours.top] == [t["score"] for t in theirs["top"]]  # the same numbers, exactly


def test_infer_prints_a_prediction_every_hop_samples(video, weights, capsys):
    assert main(["infer", str(video), "--weights", str(weights), "--device", "cpu", "--num-threads", "1",
                 "--top-k", "2", "--hop", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:2] == ["time", "s"]
    rows = [line.split() for line in lines[1:]]
    # X3D-XS samples every 0.4 s: the first clip (4 samples) ends at 1.2 s, then one every 2 samples (0.8 s).
    assert [row[0] for row in rows] == ["1.20", "2.00", "2.80", "3.60"]
    for row in rows:
        assert row[1] in CLASSES or " ".join(row[1:3]) in CLASSES  # class names hold a space


def test_infer_help_shows_only_the_stream_settings_it_uses(capsys):
    with pytest.raises(SystemExit):
        main(["infer", "--help"])
    text = capsys.readouterr().out
    for flag in ("--model", "--weights", "--backend", "--device", "--labels", "--num-threads", "--top-k", "--hop",
                 "--smoothing", "--score-threshold", "--params"):
        assert flag in text
    for flag in ("--lr", "--batch-size", "--dataset", "--image-transport", "--qos-reliability", "--step"):
        assert flag not in text


def test_infer_refuses_cuda_where_there_is_none(video, weights, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal cannot happen here")
    assert main(["infer", str(video), "--weights", str(weights), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cuda" in err and "not available" in err and len(err.splitlines()) == 1
