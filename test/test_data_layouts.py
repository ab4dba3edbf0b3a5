"""Data sets as the seed toolkits write them (issue 12): mmaction2 lists, OTE rawframes with detected frame names,
OTX's CVAT layout, Kinetics as OpenDR and MindSpore lay it out; every layout built from real files, read end to
end through build_dataset, and the bad-input errors naming the file and the line or element."""
import contextlib
import io
import json
import logging

import numpy as np
import pytest
import torch

from ar_core.cli import main
from ar_core.data import (AnnotationError, CvatDataset, KineticsDataset, ListDataset, detect_frame_template,
                          frame_folder)
from ar_core.models import get_spec
from ar_core.train.config import ConfigError, load_config
from ar_core.train.datasets import build_dataset
from data_helpers import encode_video, pattern_frames, write_frame_folder

torch.set_num_threads(1)
SMALL = dict(frames=4, sampling_rate=6, crop=32, mean=(0.45,) * 3, std=(0.225,) * 3)
XS = get_spec("xs")


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _config(**values):
    return load_config(None, {"crop": 32, "test_clips": 1, "test_crops": 1, **values})


@pytest.mark.parametrize("template, first", [("img_{:05d}.jpg", 1), ("{:05d}.jpg", 1), ("frame_{:06d}.png", 0),
                                             ("{:d}.jpg", 1), ("x{{y}}_{:03d}.png", 3)])
def test_frame_names_are_detected(tmp_path, template, first):
    folder = write_frame_folder(tmp_path / "v", pattern_frames(12, 16, 16), template, first)
    assert detect_frame_template(folder) == (template, list(range(first, first + 12)))
    frames = frame_folder(folder)
    assert (frames.template, frames.first, frames.count) == (template, first, 12)
    assert frames.frame_path(11).is_file()


def test_flow_images_beside_rgb_frames_lose_the_tie(tmp_path):
    folder = write_frame_folder(tmp_path / "v", pattern_frames(5, 16, 16), "flow_x_{:05d}.jpg")
    write_frame_folder(folder, pattern_frames(5, 16, 16), "img_{:05d}.jpg")
    assert detect_frame_template(folder)[0] == "img_{:05d}.jpg"


def test_a_rawframes_folder_with_gaps_names_the_missing_frames(tmp_path):
    root = tmp_path / "frames"
    folder = write_frame_folder(root / "clip", pattern_frames(10, 16, 16), "{:05d}.jpg")
    for n in (4, 7, 8):
        (folder / f"{n:05d}.jpg").unlink()
    with pytest.raises(ValueError, match=r"frames 4, 7-8 of \{:05d\}.jpg are missing"):
        frame_folder(folder)
    ann = _write(tmp_path / "ann.txt", "clip 10 0\n")
    with pytest.raises(AnnotationError, match=r"ann.txt:1: frame folder .*clip: frames 4, 7-8 of .* are missing"):
        ListDataset(root, ann, **SMALL)
    # Beyond the last frame counts too: mmaction2's num_frames says more than the folder holds.
    (folder / "00004.jpg").write_bytes((folder / "00001.jpg").read_bytes())
    ann = _write(tmp_path / "long.txt", "clip 12 0\n")
    with pytest.raises(AnnotationError, match=r"long.txt:1: .*frames 7-8, 11-12 of"):
        ListDataset(root, ann, **SMALL)


@pytest.fixture(scope="module")
def mmaction(tmp_path_factory):
    """hmdb51-style mmaction2 data: videos/ + rawframes/ (OTE's 00001.jpg names) and their split lists."""
    root = tmp_path_factory.mktemp("hmdb51")
    for i, (name, label) in enumerate([("brush_hair/a", 0), ("cartwheel/b", 1), ("catch/c", 2)]):
        frames = pattern_frames(24, 36, 48, seed=i)
        encode_video(root / "videos" / f"{name}.avi", frames, 30, "mpeg4")
        write_frame_folder(root / "rawframes" / name, frames, "{:05d}.jpg")
    _write(root / "hmdb51_train_split_1_videos.txt", "brush_hair/a.avi 0\ncartwheel/b.avi 1\n")
    _write(root / "hmdb51_val_split_1_videos.txt", "catch/c.avi 2\n")
    _write(root / "hmdb51_train_split_1_rawframes.txt", "brush_hair/a 24 0\ncartwheel/b 24 1\n")
    _write(root / "hmdb51_val_split_1_rawframes.txt", "catch/c 24 2\n")
    _write(root / "label_map.txt", "brush_hair\ncartwheel\ncatch\n")
    return root


def test_mmaction2_video_and_rawframe_lists_through_build_dataset(mmaction):
    root = mmaction
    videos = _config(dataset="list", data_root=str(root / "videos"),
                     annotations=str(root / "hmdb51_train_split_1_videos.txt"),
                     val_annotations=str(root / "hmdb51_val_split_1_videos.txt"), labels=str(root / "label_map.txt"))
    train, val = build_dataset(videos, XS, "train"), build_dataset(videos, XS, "val")
    assert train.classes == ["brush_hair", "cartwheel", "catch"] and len(train) == 2 and len(val) == 1
    assert [label for _, label, _ in train.samples] == [0, 1] and val[0][1] == 2
    assert train[1][0].shape == (3, 4, 32, 32)
    # The same clips from the rawframes (3-field lines, 00001.jpg names detected); no labels file: class_<id>.
    frames = videos.replace(dataset="rawframes", data_root=str(root / "rawframes"), labels="",
                            annotations=str(root / "hmdb51_train_split_1_rawframes.txt"),
                            val_annotations=str(root / "hmdb51_val_split_1_rawframes.txt"))
    train = build_dataset(frames, XS, "train")
    assert train.classes == ["class_0", "class_1", "class_2"]  # the highest id of the train and val lists
    folder = train.samples[0][0]
    assert (folder.template, folder.first, folder.count) == ("{:05d}.jpg", 1, 24)
    from_video, from_frames = build_dataset(videos, XS, "val")[0][0], build_dataset(frames, XS, "val")[0][0]
    assert from_frames.shape == from_video.shape
    assert (from_frames - from_video).abs().mean() < 0.15  # the same frames, decoded vs. read back as JPEG
    with pytest.raises(ValueError, match=r"none of the 1 videos is usable .*catch/c: frame image not found"):
        build_dataset(frames.replace(frame_template="img_{:05d}.jpg"), XS, "val")  # given, so not detected


def test_several_roots_and_lists_are_paired_by_position_and_val_root_applies(mmaction, tmp_path):
    root = mmaction
    other = write_frame_folder(tmp_path / "more" / "x", pattern_frames(20, 30, 40), "frame_{:06d}.png", 0).parent
    extra = _write(tmp_path / "extra.txt", "x 0 0 19 5 14 15\n")  # OTE's 7 fields, frame_000000.png names
    config = _config(dataset="rawframes", data_root=f"{root / 'rawframes'},{other}",
                     annotations=f"{root / 'hmdb51_train_split_1_rawframes.txt'},{extra}",
                     val_root=str(root / "videos"), val_annotations=str(root / "hmdb51_val_split_1_videos.txt"))
    train = build_dataset(config, XS, "train")
    assert len(train) == 3 and [label for _, label, _ in train.samples] == [0, 1, 0]
    assert (train.samples[2][0].first, train.samples[2][0].count, train.samples[2][2].fps) == (5, 10, 15.0)
    assert train[2][0].shape == (3, 4, 32, 32)
    val = build_dataset(config, XS, "val")  # val_root holds videos; one list line kind per file is detected
    assert [str(s.name) for s, _, _ in val.samples] == ["c.avi"] and val.classes == ["class_0", "class_1", "class_2"]
    with pytest.raises(ConfigError, match=r"annotations: 3 files but data_root has 2 roots; they are paired"):
        build_dataset(config.replace(annotations=f"{extra},{extra},{extra}"), XS, "train")


@pytest.mark.parametrize("text, line, reason", [
    ("a.avi 0\n0\n", 2, r"got 1: the path or the label is missing"),
    ("a.avi walk\n", 1, r"label 'walk' is not a 0-based integer \(a class id\)"),
    ("a.avi 0\nb.avi 1 2 3\n", 2, r"expected 7 fields, 3 or 2: .*; got 4"),
    ("a 2x 0\n", 1, r"num_frames '2x' is not a positive integer"),
    ("a.avi -1\n", 1, r"label id -1 out of range \(negative\)"),
])
def test_bad_list_lines_name_the_file_and_line(tmp_path, text, line, reason):
    ann = _write(tmp_path / "list.txt", text)
    with pytest.raises(AnnotationError, match=rf"list.txt:{line}: .*{reason}"):
        ListDataset(tmp_path, ann, **SMALL)


def test_a_listed_video_that_is_missing_is_skipped_and_named(mmaction, tmp_path, caplog):
    ann = _write(tmp_path / "list.txt", "brush_hair/a.avi 0\nbrush_hair/gone.avi 1\n")
    with caplog.at_level(logging.WARNING):
        dataset = ListDataset(mmaction / "videos", ann, **SMALL)
    assert len(dataset) == 1 and dataset.skipped == [(str(mmaction / "videos/brush_hair/gone.avi"), "file not found")]
    assert "skipped 1 of 2 videos" in caplog.text


def _cvat_video(folder, frames, labels, tags=None, tracks=(), images=True, name_of=lambda j: f"{j + 1:05d}.jpg"):
    """An OTX-converted Video_N folder: images/ and annotations.xml with <image><tag> per frame (`tags`: a label
    per frame, None for none) and <track>s of (label, [(frame, outside), ...])."""
    write_frame_folder(folder / "images", frames, "{:05d}.jpg")
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>",
             "  <meta>", "    <task>", f"      <size>{len(frames)}</size>", "      <labels>"]
    for label in labels:
        lines += ["        <label>", f"          <name>{label}</name>", "          <attributes></attributes>",
                  "        </label>"]
    lines += ["      </labels>", "    </task>", "  </meta>"]
    for j in range(len(frames)) if images else ():
        tag = tags[j] if tags else None
        lines.append(f'  <image id="{j}" name="{name_of(j)}" width="{frames.shape[2]}" height="{frames.shape[1]}">'
                     + (f'<tag label="{tag}" source="manual"></tag>' if tag else "") + "</image>")
    for i, (label, shapes) in enumerate(tracks):
        lines.append(f'  <track id="{i}" label="{label}">')
        lines += [f'    <box frame="{f}" outside="{int(out)}" occluded="0" keyframe="1" xtl="1" ytl="1" xbr="9" '
                  f'ybr="9" z_order="0"></box>' for f, out in shapes]
        lines.append("  </track>")
    lines.append("</annotations>")
    _write(folder / "annotations.xml", "\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def cvat(tmp_path_factory):
    """OTX's HMDB51-in-CVAT layout: train/Video_0..2 (per-frame tags; Video_2: two tracks that disagree) and
    val/Video_0."""
    root = tmp_path_factory.mktemp("cvat")
    frames = [pattern_frames(20, 30, 40, seed=i) for i in range(4)]
    _cvat_video(root / "train/Video_0", frames[0], ["walk"], tags=["walk"] * 20)
    _cvat_video(root / "train/Video_1", frames[1], ["run"], tags=["run"] * 20)
    # frames 0-11 run (track 0, out from 12), 12-19 walk (track 1 from 12; its last box labels frame 19 only)
    _cvat_video(root / "train/Video_10", frames[2], ["run", "walk"],
                tracks=[("run", [(0, False), (12, True)]), ("walk", [(12, False), (19, False)])])
    _cvat_video(root / "val/Video_0", frames[3], ["walk"], tags=["walk"] * 20)
    return root


def test_cvat_layout_with_per_frame_labels_through_build_dataset(cvat):
    config = _config(dataset="cvat", data_root=str(cvat / "train"), val_root=str(cvat / "val"))
    train, val = build_dataset(config, XS, "train"), build_dataset(config, XS, "val")
    assert isinstance(train, CvatDataset) and train.classes == ["run", "walk"]
    assert [(s.folder.parent.name, label) for s, label, _ in train.samples] == [
        ("Video_0", 1), ("Video_1", 0), ("Video_10", 0)]  # natural order; Video_10: run holds 12 of 20 frames
    assert train.frame_labels(0) is None and train.frame_labels(1) is None
    np.testing.assert_array_equal(train.frame_labels(2), [0] * 12 + [1] * 8)
    assert train[2][0].shape == (3, 4, 32, 32)
    assert len(val) == 1 and val[0][1] == 1 and val.samples[0][2].num_frames == 20
    # eval reads val_root alone; without it, validation falls back to data_root.
    assert len(build_dataset(config.replace(data_root=""), XS, "test")) == 1
    assert len(build_dataset(config.replace(val_root=""), XS, "val")) == 3
    with pytest.raises(ConfigError, match="dataset 'cvat' needs data_root"):
        build_dataset(config.replace(data_root=""), XS, "train")
    # A labels file sets the class order (and names the labels the XMLs may use).
    labels = _write(cvat / "labels.txt", "walk\nrun\njump\n")
    ordered = build_dataset(config.replace(labels=str(labels)), XS, "train")
    assert [label for _, label, _ in ordered.samples] == [0, 1, 1]
    np.testing.assert_array_equal(ordered.frame_labels(2), [1] * 12 + [0] * 8)
    with pytest.raises(AnnotationError, match=r"Video_1/annotations.xml: label\(s\) 'run' are not in"):
        CvatDataset(cvat / "train", label_file=_write(cvat / "walk.txt", "walk\n"), **SMALL)


def test_cvat_bad_xml_names_the_file_and_element(tmp_path):
    frames = pattern_frames(6, 24, 24)
    video = _cvat_video(tmp_path / "a/Video_0", frames, ["walk"], tags=["walk"] * 5 + ["jump"])
    with pytest.raises(AnnotationError, match=r'Video_0/annotations.xml:\d+: <tag label="jump">: label \'jump\' is '
                                              r"not declared in <labels> \(walk\)"):
        CvatDataset(tmp_path / "a", **SMALL)
    video = _cvat_video(tmp_path / "b/Video_0", frames, ["walk"], tags=["walk"] * 6)
    (video / "images/00004.jpg").unlink()
    with pytest.raises(AnnotationError, match=r"annotations.xml: frame folder .*images: frames 4 of"):
        CvatDataset(tmp_path / "b", **SMALL)
    _cvat_video(tmp_path / "c/Video_0", frames, ["walk"], tags=["walk"] * 6, name_of=lambda j: f"{j + 2:05d}.jpg")
    with pytest.raises(AnnotationError, match=r'annotations.xml:\d+: <image id="5" name="00007.jpg">: frame file not '
                                              r"found"):
        CvatDataset(tmp_path / "c", **SMALL)
    _cvat_video(tmp_path / "d/Video_0", frames, ["walk"], images=False, tracks=[("walk", [(0, False), (9, True)])])
    with pytest.raises(AnnotationError, match=r'annotations.xml:\d+: <box frame="9"> of <track id="0" label="walk">: '
                                              r"frame 9 is not among the 6 frames"):
        CvatDataset(tmp_path / "d", **SMALL)
    xml = _cvat_video(tmp_path / "e/Video_0", frames, ["walk"], tags=["walk"] * 6) / "annotations.xml"
    xml.write_text(xml.read_text().replace('<image id="2"', '<image id="7"'))
    with pytest.raises(AnnotationError, match=r"annotations.xml: <image> elements of frames 2 are missing "
                                              r"\(the 6 ids must run 0..5; found 7 beyond\)"):
        CvatDataset(tmp_path / "e", **SMALL)
    with pytest.raises(ValueError, match=r"no <video folder>/annotations.xml in"):
        CvatDataset(tmp_path / "a/Video_0/images", **SMALL)


def test_kinetics_as_opendr_and_mindspore_lay_it_out(tmp_path):
    # OpenDR: KineticsDataset(path=root, frames_per_clip=4, split="train") reads root/splits/<split>.json and
    # root/data/<subset>/<label>/<id>_<start>_<end>.mp4; its "val" is the "validate" subset.
    opendr = tmp_path / "opendr"
    entries = {"aaa": ("abseiling", "train"), "bbb": ("archery", "train"), "ccc": ("archery", "validate")}
    for i, (key, (label, subset)) in enumerate(entries.items()):
        encode_video(opendr / f"data/{subset}/{label}/{key}_000002_000012.mp4", pattern_frames(24, 36, 48, i))
    for subset in ("train", "validate"):
        _write(opendr / f"splits/{subset}.json", json.dumps(
            {key: {"annotations": {"label": label, "segment": [2.0, 12.0]}, "subset": sub, "duration": 10.0}
             for key, (label, sub) in entries.items() if sub == subset}))
    config = _config(dataset="kinetics", data_root=str(opendr))
    train, val = build_dataset(config, XS, "train"), build_dataset(config, XS, "val")
    assert train.classes == ["abseiling", "archery"] and [label for _, label, _ in train.samples] == [0, 1]
    assert [s.name for s, _, _ in val.samples] == ["ccc_000002_000012.mp4"] and train[0][0].shape == (3, 4, 32, 32)
    as_opendr_writes_it = KineticsDataset(path=opendr, frames_per_clip=2, split="train", crop=32)
    assert len(as_opendr_writes_it) == 2 and as_opendr_writes_it[1][0].shape == (3, 2, 32, 32)
    # MindSpore: root/<split>/<id>_<start>_<end>.mp4 and root/kinetics-400_<split>.csv (official columns).
    mindspore = tmp_path / "mindspore"
    encode_video(mindspore / "train/ddd_000000_000010.mp4", pattern_frames(24, 36, 48, 5))
    encode_video(mindspore / "train/eee_000001_000011.mp4", pattern_frames(24, 36, 48, 6))
    _write(mindspore / "kinetics-400_train.csv", "label,youtube_id,time_start,time_end,split,is_cc\n"
           "zumba,ddd,0,10,train,0\nabseiling,eee,1,11,train,0\n")
    train = build_dataset(config.replace(data_root=str(mindspore)), XS, "train")
    assert train.classes == ["abseiling", "zumba"] and [label for _, label, _ in train.samples] == [1, 0]
    with pytest.raises(AnnotationError, match=r"no annotations given and none found for split 'val'"):
        build_dataset(config.replace(data_root=str(mindspore)), XS, "val")
    bad = _write(tmp_path / "bad.json", json.dumps({"zzz": {"subset": "train"}}))
    with pytest.raises(AnnotationError, match=r"bad.json: entry 'zzz': expected"):
        KineticsDataset(opendr, bad, "train")


def test_ar_core_train_on_a_cvat_data_set(cvat, tmp_path):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", "--model", "xs", "--crop", "32", "--device", "cpu", "--dataset", "cvat",
                     "--data-root", str(cvat / "train"), "--val-root", str(cvat / "val"), "--batch-size", "3",
                     "--iters", "1", "--temp-path", str(tmp_path / "run")])
    assert code == 0, printed.getvalue()
    assert "trained 1 iterations" in printed.getvalue()
    metadata = json.loads((tmp_path / "run/x3d_xs.json").read_text())
    assert metadata["classes"] == ["run", "walk"]
    # eval scores frame-wise against the per-frame labels: 60 frames of 3 videos, Video_10's two labels included.
    metrics_path = tmp_path / "metrics.json"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["eval", "--weights", str(tmp_path / "run"), "--model", "xs", "--crop", "32", "--device", "cpu",
                     "--dataset", "cvat", "--val-root", str(cvat / "train"), "--test-clips", "2", "--test-crops",
                     "1", "--save-metrics-to", str(metrics_path)]) == 0
    metrics = json.loads(metrics_path.read_text())
    assert metrics["samples"] == 3 and metrics["classes"] == ["run", "walk"]
    frames_right = metrics["frame_accuracy"] * 60
    assert 0 <= frames_right <= 60 and frames_right == pytest.approx(round(frames_right))
