"""Every dataset layout on real tiny videos (and JPEG frames) written by the test."""
import logging
from fractions import Fraction

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ar_core.data import (AnnotationError, HMDB51Dataset, KineticsDataset, RawFramesDataset, UCF101Dataset,
                          VideoFolderDataset)
from ar_core.models import get_spec
from data_helpers import encode_video, pattern_frames

SMALL = dict(frames=4, sampling_rate=6, crop=32, mean=(0.45,) * 3, std=(0.225,) * 3)
TRAIN = dict(SMALL, short_side=(32, 40))
EVAL = dict(SMALL, short_side=32)


def _video(path, seed=0, fps=30, codec="h264", frames=30, size=(36, 48), audio=False):
    return encode_video(path, pattern_frames(frames, *size, seed=seed), fps, codec, audio)


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def kinetics(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinetics")
    _video(root / "train/abseiling/aaa_000010_000020.mp4", seed=1)
    _video(root / "train/archery/bbb_000000_000010.mp4", seed=2, fps=Fraction(30000, 1001), audio=True)
    _video(root / "train/ccc_000005_000015.mp4", seed=3)  # flat layout
    (root / "train/archery/ddd_000001_000011.mp4").write_bytes(b"\x00" * 64)  # corrupt
    csv = _write(root / "train.csv", "label,youtube_id,time_start,time_end,split\n"
                 "abseiling,aaa,10,20,train\narchery,bbb,0,10,train\narchery,ccc,5,15,train\n"
                 "archery,ddd,1,11,train\nabseiling,eee,3,13,train\nabseiling,zzz,0,10,val\n")
    return root, csv


def test_kinetics_both_layouts_and_skips_bad_videos(kinetics, caplog):
    root, csv = kinetics
    with caplog.at_level(logging.WARNING):
        dataset = KineticsDataset(root, csv, "train", **TRAIN)
    assert dataset.classes == ["abseiling", "archery"]
    assert [(p.name, label) for p, label, _ in dataset.samples] == [
        ("aaa_000010_000020.mp4", 0), ("bbb_000000_000010.mp4", 1), ("ccc_000005_000015.mp4", 1)]
    reasons = dict((path.split("/")[-1], reason) for path, reason in dataset.skipped)
    assert reasons == {"ddd_000001_000011.mp4": reasons["ddd_000001_000011.mp4"],
                       "eee_000003_000013.mp4": "file not found"}
    assert "cannot open" in reasons["ddd_000001_000011.mp4"]
    assert "skipped 2 of 5 videos" in caplog.text
    clip, label = dataset[1]
    assert clip.shape == (3, 4, 32, 32) and clip.dtype == torch.float32 and label == 1


def test_kinetics_label_file_sets_class_order(kinetics, tmp_path):
    root, csv = kinetics
    labels = _write(tmp_path / "labels.txt", "archery\nabseiling\nzumba\n")
    dataset = KineticsDataset(root, csv, "train", label_file=labels, **TRAIN)
    assert dataset.classes == ["archery", "abseiling", "zumba"]
    assert [label for _, label, _ in dataset.samples] == [1, 0, 0]
    with pytest.raises(AnnotationError, match=r"train.csv:3: label 'archery' is not in"):
        KineticsDataset(root, csv, "train", label_file=_write(tmp_path / "one.txt", "abseiling\n"), **TRAIN)


def test_kinetics_annotation_errors(kinetics, tmp_path):
    root, _ = kinetics
    with pytest.raises(AnnotationError, match="missing.csv: annotation file not found"):
        KineticsDataset(root, tmp_path / "missing.csv", "train")
    header = "label,youtube_id,time_start,time_end,split\n"
    bad = _write(tmp_path / "escape.csv", header + "abseiling,aaa,10,20,train\n../../etc,x,1,2,train\n")
    with pytest.raises(AnnotationError, match=r"escape.csv:3: path .* points outside the dataset root"):
        KineticsDataset(root, bad, "train")
    with pytest.raises(AnnotationError, match=r"no rows of split 'test' \(splits present: \['train'\]\)"):
        KineticsDataset(root, _write(tmp_path / "t.csv", header + "abseiling,aaa,10,20,train\n"), "test")
    with pytest.raises(AnnotationError, match="h.csv:1: expected the header"):
        KineticsDataset(root, _write(tmp_path / "h.csv", "abseiling,aaa,10,20,train\n"), "train")


def test_multi_view_test_mode(kinetics):
    root, csv = kinetics
    dataset = KineticsDataset(root, csv, "train", mode="test", num_clips=4, num_crops=3, **EVAL)
    views, label = dataset[0]
    assert views.shape == (12, 3, 4, 32, 32) and label == 0
    # Views are clip-major: the 3 crops of a clip share their frames, so the centre crop overlaps.
    assert not torch.equal(views[0], views[3])  # another temporal clip
    one = KineticsDataset(root, csv, "train", mode="test", num_clips=1, num_crops=1, **EVAL)
    val = KineticsDataset(root, csv, "train", mode="val", **EVAL)
    assert one[0][0].shape == (1, 3, 4, 32, 32)
    assert torch.equal(one[0][0][0], val[0][0])  # one centred clip, centre crop == the val clip


def test_from_spec_uses_the_recipe(kinetics):
    root, csv = kinetics
    spec = get_spec("xs")
    train = KineticsDataset.from_spec(spec, root, csv, "train")
    assert train.frames == 4 and train.sampling_rate == 12
    assert train.transform.crop == 160 and train.transform.short_side == (182, 228)
    test = KineticsDataset.from_spec(spec, root, csv, "train", mode="test", num_clips=2, num_crops=3)
    assert test.transform.crop == 182 and test.transform.short_side == (182, 182)
    assert test[0][0].shape == (6, 3, 4, 182, 182)


def test_training_draws_are_seeded_and_vary(kinetics):
    root, csv = kinetics
    first, second, other = (KineticsDataset(root, csv, "train", seed=seed, **TRAIN) for seed in (7, 7, 8))
    draws = []
    for epoch in range(4):
        for dataset in (first, second, other):
            dataset.set_epoch(epoch)
        draws.append(first[0][0])
        assert torch.equal(draws[-1], second[0][0])  # same seed, same draws
        assert not torch.equal(draws[-1], other[0][0])
    assert len({d.sum().item() for d in draws}) == 4  # a different clip each epoch


def test_decode_failure_at_getitem_serves_another_sample(tmp_path, caplog):
    root = tmp_path / "folders"
    _video(root / "a/one.mp4", seed=1)
    broken = _video(root / "b/two.mp4", seed=2)
    dataset = VideoFolderDataset(root, **EVAL, mode="val")
    broken.write_bytes(b"garbage" * 50)  # corrupted after the dataset was built
    with caplog.at_level(logging.WARNING):
        clip, label = dataset[1]
    assert clip.shape == (3, 4, 32, 32) and label == 0  # the next sample (wrapping around) instead
    assert dataset.skipped == [(str(broken), dataset.skipped[0][1])] and "cannot open" in dataset.skipped[0][1]
    assert "skipping" in caplog.text and "two.mp4" in caplog.text


def test_video_folder_formats_and_loader(tmp_path):
    root = tmp_path / "folders"
    _video(root / "jump/a.mp4", seed=1)
    _video(root / "jump/b.avi", seed=2, codec="mjpeg", fps=25, size=(33, 45), audio=True)
    _video(root / "run/c.mkv", seed=3, codec="vp9", fps=24)
    _video(root / "run/d.webm", seed=4, codec="vp9", fps=15)
    _write(root / "run/notes.txt", "not a video")
    dataset = VideoFolderDataset(root, **TRAIN)
    assert dataset.classes == ["jump", "run"] and len(dataset) == 4 and dataset.skipped == []
    clips, labels = next(iter(DataLoader(dataset, batch_size=4, num_workers=0)))
    assert clips.shape == (4, 3, 4, 32, 32) and labels.tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="video folder not found"):
        VideoFolderDataset(tmp_path / "nothing")


def test_all_bad_videos_is_an_error(tmp_path):
    _write(tmp_path / "x/empty.mp4", "")
    with pytest.raises(ValueError, match=r"none of the 1 videos is usable .*empty.mp4: empty file"):
        VideoFolderDataset(tmp_path, **EVAL, mode="val")


@pytest.fixture(scope="module")
def ucf(tmp_path_factory):
    root = tmp_path_factory.mktemp("ucf")
    videos, splits = root / "UCF-101", root / "ucfTrainTestlist"
    _video(videos / "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", seed=1, codec="mjpeg", fps=25, audio=True)
    _video(videos / "Archery/v_Archery_g08_c01.avi", seed=2, codec="mpeg4", fps=25)
    _video(videos / "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", seed=3, codec="mjpeg", fps=25)
    _write(splits / "classInd.txt", "1 ApplyEyeMakeup\n2 Archery\n")
    _write(splits / "trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
                                       "Archery/v_Archery_g08_c01.avi 2\n")
    _write(splits / "testlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n")
    return videos, splits


def test_ucf101_official_split_files(ucf, tmp_path):
    videos, splits = ucf
    train = UCF101Dataset(videos, splits, split=1, train=True, **TRAIN)
    assert train.classes == ["ApplyEyeMakeup", "Archery"]
    assert [label for _, label, _ in train.samples] == [0, 1]
    assert train[1][0].shape == (3, 4, 32, 32)
    test = UCF101Dataset(videos, splits, split=1, train=False, mode="test", num_clips=2, num_crops=3, **EVAL)
    assert [label for _, label, _ in test.samples] == [0]  # from the folder name
    assert test[0][0].shape == (6, 3, 4, 32, 32)
    with pytest.raises(AnnotationError, match="trainlist02.txt: annotation file not found"):
        UCF101Dataset(videos, splits, split=2)


def test_ucf101_bad_lines(ucf, tmp_path):
    videos, splits = ucf
    bad = tmp_path / "splits"
    _write(bad / "classInd.txt", (splits / "classInd.txt").read_text())
    _write(bad / "trainlist01.txt", "Archery/v_Archery_g08_c01.avi 2\nArchery/v_Archery_g08_c01.avi 3\n")
    with pytest.raises(AnnotationError, match=r"trainlist01.txt:2: label id 3 out of range 1..2"):
        UCF101Dataset(videos, bad)
    _write(bad / "trainlist01.txt", "/etc/passwd 1\n")
    with pytest.raises(AnnotationError, match=r"trainlist01.txt:1: path '/etc/passwd' points outside"):
        UCF101Dataset(videos, bad)
    _write(bad / "testlist01.txt", "Archery/x.avi\nSurfing/v_Surfing_g01_c01.avi\n")
    with pytest.raises(AnnotationError, match=r"testlist01.txt:2: folder 'Surfing' is not a class"):
        UCF101Dataset(videos, bad, train=False)


def test_hmdb51_official_split_files(tmp_path):
    videos, splits = tmp_path / "hmdb51", tmp_path / "testTrainMulti_7030_splits"
    _video(videos / "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi", seed=1, codec="mjpeg", fps=30)
    _video(videos / "brush_hair/Blonde_brush_hair_f_nm_np1_ba_goo_1.avi", seed=2, codec="mjpeg", fps=30)
    _video(videos / "cartwheel/Bodenturnen_cartwheel_f_cm_np1_le_med_0.avi", seed=3, codec="mpeg4", fps=30)
    _write(splits / "brush_hair_test_split1.txt", "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \n"
                                                   "Blonde_brush_hair_f_nm_np1_ba_goo_1.avi 2 \nunused.avi 0 \n")
    _write(splits / "cartwheel_test_split1.txt", "Bodenturnen_cartwheel_f_cm_np1_le_med_0.avi 1 \n")
    train = HMDB51Dataset(videos, splits, split=1, train=True, **TRAIN)
    assert train.classes == ["brush_hair", "cartwheel"]
    assert [(p.name[:6], label) for p, label, _ in train.samples] == [("April_", 0), ("Bodent", 1)]
    test = HMDB51Dataset(videos, splits, split=1, train=False, mode="val", **EVAL)
    assert [(p.name[:6], label) for p, label, _ in test.samples] == [("Blonde", 0)]
    assert test[0][0].shape == (3, 4, 32, 32)
    _write(splits / "cartwheel_test_split2.txt", "x.avi 1\ny.avi 3\n")
    with pytest.raises(AnnotationError, match=r"cartwheel_test_split2.txt:2: expected '<video> <0\|1\|2>'"):
        HMDB51Dataset(videos, splits, split=2)
    with pytest.raises(AnnotationError, match=r"no split files \*_test_split3.txt"):
        HMDB51Dataset(videos, splits, split=3)


def _frame_folder(folder, first, count, seed):
    folder.mkdir(parents=True)
    for i, frame in enumerate(pattern_frames(count, 30, 40, seed=seed)):
        cv2.imwrite(str(folder / f"img_{first + i:05d}.jpg"), frame[..., ::-1])


def test_rawframes(tmp_path):
    root = tmp_path / "rawframes"
    _frame_folder(root / "video_a", 1, 40, seed=1)
    _frame_folder(root / "video_b", 1, 20, seed=2)
    (root / "video_c").mkdir()  # no frames: skipped
    annotations = _write(tmp_path / "train.txt", "video_a 2 1 40 11 30 30\nvideo_b 0 1 20 1 20 15\n"
                                                "video_c 1 1 10 1 10 30\n")
    dataset = RawFramesDataset(root, annotations, **TRAIN)
    assert dataset.classes == ["class_0", "class_1", "class_2"]
    assert [label for _, label, _ in dataset.samples] == [2, 0]
    assert dataset.samples[0][2].num_frames == 20 and dataset.samples[0][2].width == 40
    assert len(dataset.skipped) == 1 and "frame image not found" in dataset.skipped[0][1]
    assert dataset[0][0].shape == (3, 4, 32, 32)
    # Frames come from the clip range 11..30: the centred val clip (stride 6, start 0.5 rounds to 0).
    val = RawFramesDataset(root, annotations, **dict(EVAL, crop=30, short_side=30), mode="val")
    expected = [cv2.imread(str(root / f"video_a/img_{n:05d}.jpg"))[..., ::-1] for n in (11, 17, 23, 29)]
    got = val[0][0] * 0.225 + 0.45  # undo normalisation: the (3, T, 30, 30) centre of 40-wide frames
    want = torch.tensor(np.stack(expected)[:, :, 5:35].copy()).permute(3, 0, 1, 2).float() / 255
    assert torch.allclose(got, want, atol=1e-5)


def test_rawframes_bad_lines(tmp_path):
    root = tmp_path / "rawframes"
    _frame_folder(root / "video_a", 1, 10, seed=1)
    labels = _write(tmp_path / "labels.txt", "walk\nrun\n")
    ann = _write(tmp_path / "a.txt", "video_a 1 1 10 1 10 30\nvideo_a 2 1 10 1 10 30\n")
    with pytest.raises(AnnotationError, match=r"a.txt:2: label id 2 out of range 0..1 \(2 classes in .*labels.txt\)"):
        RawFramesDataset(root, ann, label_file=labels)
    ann = _write(tmp_path / "b.txt", "../outside 0 1 10 1 10 30\n")
    with pytest.raises(AnnotationError, match=r"b.txt:1: path '../outside' points outside the dataset root"):
        RawFramesDataset(root, ann)
    ann = _write(tmp_path / "c.txt", "video_a 0 1 10 5 12 30\n")
    with pytest.raises(AnnotationError, match=r"c.txt:1: need start_video <= start_clip <= end_clip"):
        RawFramesDataset(root, ann)
    ann = _write(tmp_path / "d.txt", "video_a 0 1 10\n")
    with pytest.raises(AnnotationError, match=r"d.txt:1: expected 7 fields"):
        RawFramesDataset(root, ann)
    with pytest.raises(AnnotationError, match="nope.txt: annotation file not found"):
        RawFramesDataset(root, tmp_path / "nope.txt")


def test_training_draws_depend_on_epoch_and_index_not_on_workers(kinetics):
    root, csv = kinetics
    dataset = KineticsDataset(root, csv, "train", seed=3, **TRAIN)

    def clips(epoch: int, num_workers: int) -> list[torch.Tensor]:
        dataset.set_epoch(epoch)
        loader = DataLoader(dataset, batch_size=1, sampler=[0, 1, 0, 1], num_workers=num_workers)
        return [clip for clip, _ in loader]

    in_process, in_workers = clips(0, 0), clips(0, 2)
    # Workers start from copies of the dataset; the draws follow (seed, epoch, index), so they agree.
    assert all(torch.equal(a, b) for a, b in zip(in_process, in_workers))
    assert torch.equal(in_process[0], in_process[2]) and not torch.equal(in_process[0], in_process[1])
    next_epoch = clips(1, 2)
    assert not any(torch.equal(a, b) for a, b in zip(in_process, next_epoch))  # a new clip and crop per epoch
