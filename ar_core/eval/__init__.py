"""Evaluation: classification metrics and the reports written from them."""
from .metrics import classification_metrics, confusion_matrix, nll, per_class_accuracy, topk_accuracy
from .reports import plot_confusion_matrix, write_metrics

__all__ = ["classification_metrics", "confusion_matrix", "nll", "per_class_accuracy", "plot_confusion_matrix",
           "topk_accuracy", "write_metrics"]
