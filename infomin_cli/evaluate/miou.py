"""Segmentation scores from a confusion matrix: mean IoU over the classes present, pixel accuracy.

The paper reports "the mean IoU for labeled classes" (B.2) without saying which. Here a class
counts when it has at least one labelled pixel in the test ground truth; a class the model
predicts but the test set never shows is not averaged in (its false positives still lower the IoU
of the true classes they were taken from). Unlabelled pixels (`ignore`) are neither scored nor
counted.
"""

from __future__ import annotations

import torch


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, classes: int, ignore: int | None = None) -> torch.Tensor:
    """(classes, classes) int64 counts; rows are the true class, columns the predicted one."""
    pred, target = pred.reshape(-1).long(), target.reshape(-1).long()
    keep = (target >= 0) & (target < classes)
    if ignore is not None:
        keep &= target != ignore
    index = target[keep] * classes + pred[keep].clamp(0, classes - 1)
    return torch.bincount(index, minlength=classes * classes).reshape(classes, classes).cpu()


def iou_per_class(confusion: torch.Tensor) -> torch.Tensor:
    """IoU = TP / (TP + FP + FN) per class; NaN where the class is absent from the ground truth."""
    confusion = confusion.double()
    tp = confusion.diag()
    truth, predicted = confusion.sum(1), confusion.sum(0)
    iou = tp / (truth + predicted - tp).clamp_min(1)
    return torch.where(truth > 0, iou, torch.full_like(iou, float("nan")))


def mean_iou(confusion: torch.Tensor) -> float:
    """Mean IoU (%) over the classes present in the ground truth."""
    iou = iou_per_class(confusion)
    present = ~torch.isnan(iou)
    return float(iou[present].mean()) * 100 if present.any() else float("nan")


def pixel_accuracy(confusion: torch.Tensor) -> float:
    """Correct labelled pixels / labelled pixels (%)."""
    total = confusion.sum()
    return float(confusion.diag().sum().double() / total) * 100 if total > 0 else float("nan")
