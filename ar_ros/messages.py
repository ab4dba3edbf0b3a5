"""vision_msgs in whichever version is installed: Classification (vision_msgs >= 4), else Classification2D."""
from __future__ import annotations

from ar_core.stream.pipeline import Ranked

try:
    from vision_msgs.msg import Classification as ClassificationMsg

    HAS_CLASSIFICATION = True
except ImportError:  # vision_msgs 3.x and older (ROS 2 Foxy/Galactic) only have Classification2D
    from vision_msgs.msg import Classification2D as ClassificationMsg

    HAS_CLASSIFICATION = False
from vision_msgs.msg import ObjectHypothesis

try:
    from vision_msgs.msg import LabelInfo, VisionClass
except ImportError:  # pragma: no cover - LabelInfo arrived with vision_msgs 4
    LabelInfo = VisionClass = None

_CLASS_FIELD = "class_id" if "class_id" in ObjectHypothesis.get_fields_and_field_types() else "id"


def classification(header, ranked: list[Ranked]) -> ClassificationMsg:
    msg = ClassificationMsg(header=header)
    msg.results = [ObjectHypothesis(**{_CLASS_FIELD: r.label, "score": r.score}) for r in ranked]
    return msg


def label_info(header, labels: list[str], threshold: float):
    if LabelInfo is None:
        return None
    return LabelInfo(header=header, threshold=float(threshold),
                     class_map=[VisionClass(class_id=i, class_name=name) for i, name in enumerate(labels)])
