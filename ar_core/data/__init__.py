"""Video data: decoding, clip sampling, transforms, datasets and the SyntheticMotion toy set."""
from .datasets import (AnnotationError, ClipDataset, HMDB51Dataset, KineticsDataset, RawFramesDataset,
                       UCF101Dataset, VideoFolderDataset)
from .sampling import random_clip_indices, stride_for_fps, uniform_clip_indices
from .synthetic import MOTION_CLASSES, SyntheticMotion, render_motion_frames
from .transforms import ClipTransform
from .video import VideoError, VideoInfo, probe, read_all_frames, read_frames

__all__ = ["MOTION_CLASSES", "AnnotationError", "ClipDataset", "ClipTransform", "HMDB51Dataset", "KineticsDataset",
           "RawFramesDataset", "SyntheticMotion", "UCF101Dataset", "VideoError", "VideoFolderDataset", "VideoInfo",
           "probe", "random_clip_indices", "read_all_frames", "read_frames", "render_motion_frames",
           "stride_for_fps", "uniform_clip_indices"]
