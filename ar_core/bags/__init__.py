"""rosbag2 work without ROS, one concept a module:

    reader     Bag: topics, counts and camera images of a sqlite3 or MCAP bag; message -> RGB
    salvage    MCAP files read front to back without their index (a recording cut short)
    writer     write_image_bag: RGB frames recorded as a test bag
    truth      truth files: which activity happens when
    evaluate   `ar-core bag-eval`: a bag through the node's frame path, measured against truth
    report     a bag evaluation's report.json and its plots
    extract    `ar-core bag-extract`: labelled segments cut into a class-folder video dataset
"""
from .extract import Extracted, extract_segments, frame_rate, write_video
from .reader import (COMPRESSED_IMAGE, IMAGE, STORAGES, Bag, BagError, BagImage, BagReadError, bag_topics,
                     iter_images, to_rgb_from_message, typestore)
from .truth import Segment, TruthError, read_truth, segment_index
from .writer import write_image_bag

__all__ = ["COMPRESSED_IMAGE", "IMAGE", "STORAGES", "Bag", "BagError", "BagImage", "BagReadError", "Extracted",
           "Segment", "TruthError", "bag_topics", "extract_segments", "frame_rate", "iter_images", "read_truth",
           "segment_index", "to_rgb_from_message", "typestore", "write_image_bag", "write_video"]

