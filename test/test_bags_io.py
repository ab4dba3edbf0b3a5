"""ar_core.bags on real rosbag2 files written with rosbags: both storages, Image and CompressedImage,
topic errors, and recordings cut short."""
import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from ar_core.bags.reader import Bag, BagError, BagReadError, bag_topics, iter_images, to_rgb_from_message
from ar_core.bags.writer import write_image_bag
from ar_core.data import render_motion_frames

from bag_helpers import DELAY_S, FPS, START_S, TOPIC, cut, storage_file, zstd_chunks

STORAGES = ["sqlite3", "mcap"]


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return np.concatenate([render_motion_frames(label, 20, 64, FPS, seed=label) for label in (0, 4)])


def record(path, frames, storage="mcap", compressed=False):
    return write_image_bag(path, frames, TOPIC, storage, compressed, fps=FPS, start_s=START_S, delay_s=DELAY_S)


@pytest.mark.parametrize("compressed", [False, True], ids=["Image", "CompressedImage"])
@pytest.mark.parametrize("storage", STORAGES)
def test_images_come_back_with_their_stamps_bag_times_and_pixels(tmp_path, frames, storage, compressed):
    path = record(tmp_path / "bag", frames, storage, compressed)
    msgtype = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    assert bag_topics(path) == {TOPIC: msgtype}
    bag = Bag(path)
    assert not bag.scanned and bag.counts == {TOPIC: len(frames)}
    assert bag.start_ns == round((START_S + DELAY_S) * 1e9)

    images = list(iter_images(path, TOPIC))
    assert len(images) == len(frames)
    for i, (bag_time_ns, stamp_s, frame_id, msg) in enumerate(images):
        assert stamp_s == pytest.approx(START_S + i / FPS, abs=1e-9)
        assert bag_time_ns * 1e-9 == pytest.approx(stamp_s + DELAY_S, abs=1e-6)
        assert bag.time_s(bag_time_ns) == pytest.approx(i / FPS, abs=1e-6)
        assert frame_id == "camera"
    for i in (0, 25):
        rgb = to_rgb_from_message(images[i].message)
        assert rgb.shape == frames[i].shape and rgb.dtype == np.uint8
        error = np.abs(rgb.astype(int) - frames[i]).mean()
        if compressed:  # jpeg: close to its own frame, further from the other class's
            assert error < 15 < np.abs(rgb.astype(int) - frames[25 - i]).mean()
        else:
            assert error == 0


def test_a_missing_topic_lists_the_topics_with_their_types(tmp_path, frames):
    path = record(tmp_path / "bag", frames[:3])
    store = get_typestore(Stores.ROS2_JAZZY)
    with Writer(tmp_path / "two", version=9, storage_plugin=StoragePlugin.SQLITE3) as writer:
        conn = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=store)
        writer.write(conn, 5, store.serialize_cdr(store.types["std_msgs/msg/String"](data="hi"), "std_msgs/msg/String"))
    with pytest.raises(BagError, match=r"no topic '/camera/image'; its topics: /camera/image_raw "
                                       r"\(sensor_msgs/msg/Image\)"):
        iter_images(path, "/camera/image")
    with pytest.raises(BagError, match=r"'/chatter' holds std_msgs/msg/String, not sensor_msgs/msg/Image"):
        iter_images(tmp_path / "two", "/chatter")
    with pytest.raises(BagError, match="no rosbag2 folder"):
        Bag(tmp_path / "nothing here")


def test_a_cut_mcap_recording_is_read_as_far_as_it_goes(tmp_path, frames):
    path = record(tmp_path / "bag", frames)
    whole = [(t, stamp) for t, stamp, _, _ in iter_images(path, TOPIC)]
    cut(path, 0.6)
    bag = Bag(path)
    assert bag.scanned and bag.topics == {TOPIC: "sensor_msgs/msg/Image"}
    read = []
    with pytest.raises(BagReadError, match="cut short") as caught:
        for bag_time_ns, stamp, _, msg in bag.images(TOPIC):
            read.append((bag_time_ns, stamp))
            to_rgb_from_message(msg)
    assert 0 < len(read) < len(whole) and read == whole[:len(read)]
    assert bag.counts[TOPIC] == len(read)
    error = caught.value
    assert error.messages_read == len(read)
    assert error.last_time_s == pytest.approx(bag.time_s(read[-1][0]))
    assert f"{len(read)} messages read on {TOPIC}" in str(error)


def test_a_cut_recording_with_zstd_chunks_is_read_chunk_by_chunk(tmp_path):
    # 200 frames of 96x96 fill several of rosbags' 1 MiB chunks
    frames = render_motion_frames(0, 200, 96, FPS, seed=1)
    path = record(tmp_path / "bag", frames)
    assert zstd_chunks(path) >= 2
    read = []
    with pytest.raises(BagReadError, match="cut short"):
        for _, stamp, _, msg in iter_images(path, TOPIC):
            read.append(stamp)
            np.testing.assert_array_equal(to_rgb_from_message(msg), frames[len(read) - 1])
    assert read == pytest.approx([START_S + i / FPS for i in range(len(frames))])


def test_a_cut_sqlite3_bag_says_it_cannot_be_opened(tmp_path, frames):
    path = record(tmp_path / "bag", frames, "sqlite3")
    cut(path, 0.6)
    with pytest.raises(BagReadError, match=r"cannot open the bag .*\(0 messages read\)") as caught:
        Bag(path)
    assert caught.value.messages_read == 0


def test_a_damaged_sqlite3_bag_stops_at_the_damage_and_says_how_far_it_got(tmp_path, frames):
    path = record(tmp_path / "bag", frames, "sqlite3")
    file = storage_file(path)
    with file.open("r+b") as stream:  # zero pages in the middle: messages' data, the chains between them
        stream.seek(file.stat().st_size // 2 // 4096 * 4096)
        stream.write(bytes(8 * 4096))
    read = []
    with pytest.raises(BagReadError, match="reading failed") as caught:
        for bag_time_ns, _, _, _ in iter_images(path, TOPIC):
            read.append(bag_time_ns)
    assert 0 < len(read) < len(frames) and caught.value.messages_read == len(read)
    assert caught.value.last_time_s == pytest.approx(Bag(path).time_s(read[-1]))


def test_a_file_that_is_not_mcap_is_refused(tmp_path, frames):
    path = record(tmp_path / "bag", frames[:2])
    storage_file(path).write_bytes(b"this is not a bag")
    with pytest.raises(BagReadError, match="not an MCAP file"):
        Bag(path)


def test_unknown_storage_is_refused(tmp_path, frames):
    with pytest.raises(ValueError, match="unknown bag storage 'rosbag1'"):
        write_image_bag(tmp_path / "bag", frames[:1], storage="rosbag1")
