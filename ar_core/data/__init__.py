"""Video data: decoding, clip sampling, transforms, datasets and the SyntheticMotion toy set."""
from .synthetic import MOTION_CLASSES, SyntheticMotion, render_motion_frames
from .transforms import ClipTransform

__all__ = ["MOTION_CLASSES", "ClipTransform", "SyntheticMotion", "render_motion_frames"]
