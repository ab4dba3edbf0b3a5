"""Evaluation: classification metrics and the reports written from them."""
from .metrics import (VideoWindows, classification_metrics, confusion_matrix, frame_accuracy, frame_predictions, nll,
                      per_class_accuracy, topk_accuracy, view_protocol)
from .reports import plot_confusion_matrix, write_metrics

__all__ = ["VideoWindows", "classification_metrics", "confusion_matrix", "frame_accuracy", "frame_predictions", "nll",
           "per_class_accuracy", "plot_confusion_matrix", "topk_accuracy", "view_protocol", "write_metrics"]
