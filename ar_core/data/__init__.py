"""Video data: decoding, clip sampling, transforms, datasets and the SyntheticMotion toy set."""
from .cvat import CvatDataset
from .datasets import (AnnotationError, ClipDataset, FrameFolder, HMDB51Dataset, KineticsDataset, ListDataset,
                       RawFramesDataset, UCF101Dataset, VideoFolderDataset, detect_frame_template, frame_folder)
from .sampling import random_clip_indices, stride_for_fps, uniform_clip_indices
from .synthetic import MOTION_CLASSES, SyntheticMotion, render_motion_frames
from .transforms import ClipTransform
from .video import VideoError, VideoInfo, probe, read_all_frames, read_frames

__all__ = ["MOTION_CLASSES", "AnnotationError", "ClipDataset", "ClipTransform", "CvatDataset", "FrameFolder",
           "HMDB51Dataset", "KineticsDataset", "ListDataset", "RawFramesDataset", "SyntheticMotion", "UCF101Dataset",
           "VideoError", "VideoFolderDataset", "VideoInfo", "detect_frame_template", "frame_folder", "probe",
           "random_clip_indices", "read_all_frames", "read_frames", "render_motion_frames", "stride_for_fps",
           "uniform_clip_indices"]
