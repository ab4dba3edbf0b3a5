"""sensor_msgs Image / CompressedImage -> RGB numpy array: cv_bridge where installed, else ar_core's converter.

Both raise `ImageError` (a ValueError) for a message that cannot be converted, so callers handle one error type.
"""
from __future__ import annotations

import numpy as np

from ar_core.stream.image import ImageError, decode_compressed, to_rgb

try:  # On a robot with ROS 2 from apt; not on PyPI.
    from cv_bridge import CvBridge, CvBridgeError
except ImportError:  # pragma: no cover - depends on the installation
    CvBridge = None


class ImageConverter:
    """Converts messages to (H, W, 3) uint8 RGB."""

    def __init__(self, use_cv_bridge: bool = True):
        self.bridge = CvBridge() if (use_cv_bridge and CvBridge is not None) else None

    @property
    def backend(self) -> str:
        return "cv_bridge" if self.bridge else "ar_core"

    def image(self, msg) -> np.ndarray:
        if self.bridge is None:
            return to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data, bool(msg.is_bigendian))
        try:
            return self._checked(self.bridge.imgmsg_to_cv2(msg, "rgb8"))
        except (CvBridgeError, TypeError, ValueError) as err:
            raise ImageError(f"cv_bridge could not convert {msg.width}x{msg.height} {msg.encoding!r}: {err}") from None

    def compressed(self, msg) -> np.ndarray:
        if self.bridge is None:
            return decode_compressed(msg.format, msg.data)
        try:
            return self._checked(self.bridge.compressed_imgmsg_to_cv2(msg, "rgb8"))
        except (CvBridgeError, TypeError, ValueError) as err:
            raise ImageError(f"cv_bridge could not decode {msg.format!r}: {err}") from None

    @staticmethod
    def _checked(rgb: np.ndarray) -> np.ndarray:
        if rgb.size == 0:
            raise ImageError("image has zero width or height")
        return rgb
