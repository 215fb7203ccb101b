"""The confusion matrix of a segmentation and the scores read off it (pixel accuracy, IoU, mean IoU).

References: a count with one boolean mask per (true, predicted) pair, and the
scores from their definitions, class by class.
"""

from __future__ import annotations

import math
import numbers

from ..engine import (INCORRECT, RAISED, UNCHECKABLE, Case, CheckResult, Verdict, call_learner, compare_tensor,
                      finish, generator, mistakes_of, no_more_work_on_more_pixels, run_cases)
from ..messages.fcn import M

# --------------------------------------------------------------------------
# confusion_matrix
# --------------------------------------------------------------------------


def _confusion_reference(pred, target, num_classes, ignore_index):
    """Counted with one boolean mask per (true, predicted) pair: slow, obvious, independent of bincount."""
    import torch
    keep = target != ignore_index
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for t in range(num_classes):
        for p in range(num_classes):
            matrix[t, p] = int(((target == t) & (pred == p) & keep).sum())
    return matrix


def _confusion_cases(seed, extended):
    import torch
    g = generator(seed)
    # (shape, classes, ignore_index, fraction of ignored pixels, classes the pixels are drawn from: None for all).
    # Public: an ignore label that is also a class id (there only the mask on the target works); a last class that
    # no pixel has, true or predicted (a count sized by the pixels, not by num_classes, is too small); one pixel.
    specs = [((2, 6, 5), 3, 255, 0.1, None), ((1, 7, 9), 4, 255, 0.0, None), ((3, 4, 4), 2, 255, 0.3, None),
             ((2, 5, 6), 5, -1, 0.2, None), ((2, 4, 5), 3, 0, 0.0, None), ((2, 5, 4), 4, 255, 0.1, 3),
             ((1, 1, 1), 3, 255, 0.0, None)]
    if extended:
        specs += [((1, 1, 1), 2, 255, 0.0, None), ((4, 16, 12), 7, 255, 0.15, None), ((2, 3, 3), 6, 0, 0.0, None)]
    cases = []
    for shape, classes, ignore, fraction, drawn in specs:
        drawn = classes if drawn is None else drawn
        target = torch.randint(0, drawn, shape, generator=g)
        # a prediction right about 60 % of the time, so that the matrix is far from diagonal and far from uniform
        noise = torch.randint(0, drawn, shape, generator=g)
        pred = torch.where(torch.rand(shape, generator=g) < 0.6, target, noise)
        if ignore != 0:   # an ignore label that is also a class id (0) needs no extra ignored pixels
            target = torch.where(torch.rand(shape, generator=g) < fraction, torch.full_like(target, ignore), target)
        expected = _confusion_reference(pred, target, classes, ignore)
        mistakes = [M.mistake("confusion_matrix.transposed", expected.T.contiguous())]
        if ignore == 0:   # masking the class range instead of ignore_index keeps every pixel: all are class ids
            mistakes.append(M.mistake("confusion_matrix.ignore_is_class",
                                      _confusion_reference(pred, target, classes, ignore_index=-1)))
        keep = target != ignore
        if keep.any():   # one-hot rows as wide as the largest class present, not num_classes: a smaller matrix
            sized = (int(target[keep].max()) + 1, int(pred[keep].max()) + 1)
            if sized != (classes, classes):
                mistakes.append(M.mistake("confusion_matrix.sized_by_pixels", sized))
        absent = "" if drawn == classes else f", class{'es' if classes - drawn > 1 else ''} " \
            f"{', '.join(str(c) for c in range(drawn, classes))} on no pixel"
        label = f"pred and target of shape {shape}, num_classes={classes}, ignore_index={ignore}{absent}"
        cases.append(Case(label, (pred, target, classes), dict(ignore_index=ignore), expected=expected,
                          mistakes=mistakes, atol=0, rtol=0))
    return cases


def _compare_counts(check, got, case, *, name, general_hint=None):
    import torch
    if isinstance(got, torch.Tensor) and not got.is_floating_point() and got.dtype != torch.int64 \
            and got.dtype != torch.bool:
        got = got.long()   # any integer dtype holds counts
    if isinstance(got, torch.Tensor) and got.is_floating_point() and tuple(got.shape) == tuple(case.expected.shape):
        raise Verdict(CheckResult(check, INCORRECT, M("confusion_matrix.wrong_dtype"), case=case.label,
                                  evidence=[f"expected {case.expected.dtype}, got {got.dtype}"],
                                  hint=M("confusion_matrix.float_counts"), mistake="confusion_matrix.float_counts",
                                  next_step="Fix the dtype and run the check again."))
    compare_tensor(check, got, case, name=name, general_hint=general_hint)


def _answers(confusion_matrix, fixed: Case) -> bool:
    """Whether the learner's function, which raised on a case, answers ``fixed`` (that case with one cause
    removed) without raising: then that cause, and no other fault, made it raise."""
    try:
        call_learner("confusion_matrix", confusion_matrix, fixed, first=False)
    except Verdict:
        return False
    return True


def _raised_hint(confusion_matrix, result: CheckResult, seed, extended) -> str | None:
    """The mistake that made the learner's function raise, found by running it again on the failing case with
    one cause removed: the ignored pixels given a class (``unmasked``: 255 or -1 used as an index), or the last
    class put on a pixel (``sized_by_pixels``: counts sized by the largest label present).  None when neither
    change stops the error: another fault, named by the error itself."""
    import torch
    case = next((c for c in _confusion_cases(seed, extended) if c.label == result.case), None)
    if case is None:
        return None
    pred, target, classes = case.args
    ignore = case.kwargs["ignore_index"]
    if 0 <= ignore < classes:
        ignored = torch.zeros_like(target, dtype=torch.bool)   # an ignore label that is a class: no index beyond K
    else:
        ignored = target == ignore
    if ignored.any():
        masked = Case(case.label, (pred, torch.where(ignored, torch.zeros_like(target), target), classes),
                      dict(case.kwargs))
        if _answers(confusion_matrix, masked):
            return "confusion_matrix.unmasked"
    last = classes - 1
    if not ((target == last).any() and (pred == last).any()):
        full = (pred.clone(), target.clone())
        for tensor in full:
            tensor.view(-1)[0] = last
        if _answers(confusion_matrix, Case(case.label, (*full, classes), dict(case.kwargs))):
            return "confusion_matrix.sized_by_pixels"
    return None


def _no_pixel_loop(confusion_matrix, seed):
    """Once the counts are right: the work one call does (torch operations, lines of the learner's Python) on
    2 × 8 × 8 and on 2 × 16 × 16 pixels of 3 classes must be the same; a loop over pixels does more on more."""
    def probe():
        import torch
        g = generator(seed + 1)
        small, big = (Case(f"pred and target of shape (2, {side}, {side}), num_classes=3",
                           (*(torch.randint(0, 3, (2, side, side), generator=g) for _ in range(2)), 3))
                      for side in (8, 16))
        no_more_work_on_more_pixels(
            "confusion_matrix", confusion_matrix, small, big, sizes=("2 × 8 × 8 pixels", "2 × 16 × 16"),
            summary="the counts are right, but it loops over pixels.", hint=M("confusion_matrix.loops"),
            mistake="confusion_matrix.loops", vectorised="counting all pairs at once runs the same numbers on any size",
            next_step="Count all pixels at once and run the check again.")
    return probe


def check_confusion_matrix(confusion_matrix, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``confusion_matrix(pred, target, num_classes, ignore_index=255) -> LongTensor (K, K)``.

    ``matrix[t, p]`` counts the pixels of true class t predicted as p; pixels
    whose target is ``ignore_index`` are left out.  Compared with a count made
    with one boolean mask per (t, p) pair.  Then, no Python loop over pixels:
    the same work on 4 × as many pixels (``count_work``).
    """
    result = run_cases("confusion_matrix", confusion_matrix, lambda: _confusion_cases(seed, extended),
                       compare=_compare_counts, strict=False, general_hint=M("confusion_matrix.general"),
                       after=_no_pixel_loop(confusion_matrix, seed))
    if result.outcome == RAISED and not result.hint:
        # a bincount over unmasked targets: 255 (or -1) makes indices outside 0 … K·K − 1; a bincount without
        # minlength, where the last class is on no pixel, makes fewer than K·K counts (named only when removing
        # that cause from the failing case stops the error)
        key = _raised_hint(confusion_matrix, result, seed, extended)
        if key is not None:
            result.hint, result.mistake = M(key), key
    return finish(result, strict)


# --------------------------------------------------------------------------
# segmentation_scores
# --------------------------------------------------------------------------

def _scores_reference(matrix):
    """Pixel accuracy, mean IoU and per-class IoU from the definitions (NaN for a class absent everywhere)."""
    import torch
    m = matrix.double()
    total = m.sum()
    pixel_accuracy = float(m.diagonal().sum() / total) if total > 0 else float("nan")
    iou = []
    for c in range(m.shape[0]):
        tp, fp, fn = m[c, c], m[:, c].sum() - m[c, c], m[c, :].sum() - m[c, c]
        union = tp + fp + fn
        iou.append(float(tp / union) if union > 0 else float("nan"))
    present = [v for v in iou if not math.isnan(v)]
    mean_iou = sum(present) / len(present) if present else float("nan")
    return pixel_accuracy, mean_iou, torch.tensor(iou, dtype=torch.float64)


def _nanmean(values):
    present = [v for v in values if not math.isnan(v)]
    return sum(present) / len(present) if present else float("nan")


def _scores_cases(seed, extended):
    import torch
    g = generator(seed)
    # (classes, what is special): "absent" — the last class in neither truth nor prediction, its IoU
    # undefined; "predicted only" — a class no pixel truly has, predicted anyway: IoU 0, and it counts; and a
    # single class, a 1 × 1 matrix
    specs = [(3, ""), (4, "absent"), (2, ""), (5, "absent"), (4, "predicted only"), (1, "")]
    specs += [(6, "absent"), (1, ""), (8, ""), (6, "predicted only")] if extended else []
    cases = []
    for classes, special in specs:
        matrix = torch.randint(0, 40, (classes, classes), generator=g) + 60 * torch.eye(classes, dtype=torch.int64)
        if special == "absent":
            matrix[classes - 1, :] = 0
            matrix[:, classes - 1] = 0
        elif special == "predicted only":   # row 1 (its truth) empty, column 1 (its prediction) not
            matrix[1, :] = 0
        pa, miou, iou = _scores_reference(matrix)
        m = matrix.double()
        tp = m.diagonal()
        dice = [float(2 * tp[c] / (m[:, c].sum() + m[c, :].sum())) if m[:, c].sum() + m[c, :].sum() > 0
                else float("nan") for c in range(classes)]
        recall = [float(tp[c] / m[c, :].sum()) if m[c, :].sum() > 0 else float("nan") for c in range(classes)]
        zero_filled = [0.0 if math.isnan(v) else v for v in iou.tolist()]
        union = m.sum(dim=0) + m.sum(dim=1) - tp
        # per-class answers (tensors) first, then mean IoUs (floats)
        mistakes = [M.mistake("segmentation_scores.dice", torch.tensor(dice, dtype=torch.float64)),
                    M.mistake("segmentation_scores.recall", torch.tensor(recall, dtype=torch.float64)),
                    M.mistake("segmentation_scores.integer_division",
                              torch.div(matrix.diagonal(), union.long().clamp(min=1), rounding_mode="floor").double()),
                    M.mistake("segmentation_scores.mean_recall", _nanmean(recall)),
                    M.mistake("segmentation_scores.dice", _nanmean(dice)),
                    M.mistake("segmentation_scores.mean_absent_as_zero", sum(zero_filled) / classes)]
        if special == "predicted only":   # a mean over the classes present in the truth leaves the 0 out
            true_classes = [v for c, v in enumerate(iou.tolist()) if m[c, :].sum() > 0]
            mistakes.append(M.mistake("segmentation_scores.mean_over_true_classes",
                                      sum(true_classes) / len(true_classes)))
        what = {"absent": ", last class absent", "predicted only": ", class 1 only predicted, never true"}
        cases.append(Case(f"segmentation_scores(<{classes}×{classes} confusion matrix{what.get(special, '')}>)",
                          (matrix,), expected=(pa, miou, iou), mistakes=mistakes))
    return cases


def _as_float(value):
    import torch
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.item())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


def _same_values(a, b):
    """Same NaNs in the same places, and the other values within 1e-6."""
    import torch
    return (a.shape == b.shape and torch.equal(torch.isnan(a), torch.isnan(b))
            and torch.allclose(a.nan_to_num(-1), b.double().nan_to_num(-1), atol=1e-6))


def _close(a, b, tol=1e-6):
    return (math.isnan(a) and math.isnan(b)) or (not math.isnan(a) and not math.isnan(b) and abs(a - b) <= tol)


def _incorrect(check, case, key, evidence, hint, mistake=None):
    return Verdict(CheckResult(check, INCORRECT, M(key), case=case.label, evidence=evidence, hint=hint,
                               mistake=mistake, next_step="Fix it and run the check again."))


def _compare_scores(check, got, case, *, name, general_hint=None):
    import torch
    if got is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
                                  hint=M("segmentation_scores.return_none"),
                                  next_step="Return the three results and run the check again."))
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        what = type(got).__name__ + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else "")
        raise Verdict(CheckResult(check, UNCHECKABLE, M("segmentation_scores.not_a_triple", name=name, what=what),
                                  case=case.label, hint=M("segmentation_scores.return_tuple"),
                                  next_step="Return the three results and run the check again."))
    pa, miou, iou = got
    want_pa, want_miou, want_iou = case.expected
    for part, value in (("pixel_accuracy", pa), ("mean_iou", miou)):
        if _as_float(value) is None:
            raise Verdict(CheckResult(check, UNCHECKABLE, M("segmentation_scores.not_a_float", part=part,
                                                            type=type(value).__name__),
                                      case=case.label, hint=M("segmentation_scores.return_floats"),
                                      next_step="Fix the type and run the check again."))
    if not isinstance(iou, torch.Tensor) or iou.shape != want_iou.shape:
        got_shape = tuple(iou.shape) if isinstance(iou, torch.Tensor) else type(iou).__name__
        raise _incorrect(check, case, "segmentation_scores.iou_shape",
                         [f"expected shape {tuple(want_iou.shape)}, got {got_shape}"],
                         M("segmentation_scores.iou_definition"))
    if not _close(_as_float(pa), want_pa):
        raise _incorrect(check, case, "segmentation_scores.pixel_accuracy_wrong",
                         [f"expected {want_pa:.6g}, got {_as_float(pa):.6g}"], M("segmentation_scores.pixel_accuracy"))
    mine = iou.detach().double().cpu()
    if not _same_values(mine, want_iou):
        matched = next((m for m in mistakes_of(case)
                        if isinstance(m.answer, torch.Tensor) and _same_values(mine, m.answer)), None)
        same_nan = torch.equal(torch.isnan(mine), torch.isnan(want_iou))
        hint = M("segmentation_scores.iou_general" if same_nan else "segmentation_scores.absent_nan")
        first = int((~torch.isclose(mine, want_iou, equal_nan=True)).nonzero()[0])
        raise _incorrect(check, case, "segmentation_scores.iou_wrong", [f"first class that differs: {first}"],
                         matched.hint if matched else hint, matched.key if matched else None)
    got_miou = _as_float(miou)
    if not _close(got_miou, want_miou):
        matched = next((m for m in mistakes_of(case) if isinstance(m.answer, float) and _close(got_miou, m.answer)),
                       None)
        raise _incorrect(check, case, "segmentation_scores.mean_iou_wrong",
                         [f"expected {want_miou:.6g}, got {got_miou:.6g}"],
                         matched.hint if matched else M("segmentation_scores.mean_iou_general"),
                         matched.key if matched else None)


def check_segmentation_scores(segmentation_scores, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``segmentation_scores(matrix) -> (pixel_accuracy, mean_iou, iou)`` from a confusion matrix.

    ``matrix[t, p]`` counts pixels of true class t predicted as p.  Pixel
    accuracy = trace / sum; ``iou[c]`` = TP / (TP + FP + FN), NaN for a class
    absent from both truth and prediction; ``mean_iou`` the mean over the
    defined IoUs.  Compared with the definitions, computed class by class.
    """
    return run_cases("segmentation_scores", segmentation_scores, lambda: _scores_cases(seed, extended),
                     compare=_compare_scores, strict=strict)
