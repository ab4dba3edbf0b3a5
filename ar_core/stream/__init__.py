"""The one frame path from camera to model: image fields to RGB, preprocessing, clip sampling."""
from .clip_buffer import Clip, ClipBuffer
from .image import MAX_SIDE, ImageError, decode_compressed, rgb_to_image_fields, to_rgb
from .preprocess import FramePreprocessor, clip_to_tensor

__all__ = ["MAX_SIDE", "Clip", "ClipBuffer", "FramePreprocessor", "ImageError", "clip_to_tensor",
           "decode_compressed", "rgb_to_image_fields", "to_rgb"]
