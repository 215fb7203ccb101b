"""Notebook 03, the inception module: ``make_inception`` against the paper's module (``_paper_inception``,
built here from ``nn.Conv2d`` and ReLU), by value, with its branch-order and missing-part mutants."""

from __future__ import annotations

from ..engine import CheckResult, ModelCase, ModelScenario, check_model
from ..messages.classic_architectures import M
from .alexnet_vgg import _replace

__all__ = ["check_make_inception"]


# --------------------------------------------------------------------------
# Inception module: the paper's, by value
# --------------------------------------------------------------------------

# GoogLeNet's inception (3a), (4a) and (5b) (Szegedy et al., 2015, Table 1), plus a small one; then H, W.
_INCEPTION_SPECS = [(192, 64, 96, 128, 16, 32, 32, 9, 7), (480, 192, 96, 208, 16, 48, 64, 5, 6),
                    (8, 4, 6, 8, 2, 4, 3, 9, 7)]
_INCEPTION_EXTENDED = [(832, 384, 192, 384, 48, 128, 128, 4, 3), (3, 1, 1, 1, 1, 1, 1, 5, 11)]


def _paper_inception(cin, c1, c3r, c3, c5r, c5, pool_proj):
    """The reference: GoogLeNet's inception module (Szegedy et al., 2015, Fig. 2b), built from nn.Conv2d."""
    import torch
    from torch import nn

    class PaperInception(nn.Module):
        def __init__(self):
            super().__init__()
            self.branches = nn.ModuleList([
                nn.Sequential(nn.Conv2d(cin, c1, 1)),
                nn.Sequential(nn.Conv2d(cin, c3r, 1), nn.ReLU(), nn.Conv2d(c3r, c3, 3, padding=1)),
                nn.Sequential(nn.Conv2d(cin, c5r, 1), nn.ReLU(), nn.Conv2d(c5r, c5, 5, padding=2)),
                nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(cin, pool_proj, 1))])
            self.order = (0, 1, 2, 3)           # the mutants below turn these knobs
            self.final_relu = [True] * 4

        def forward(self, x):
            outs = [branch(x) for branch in self.branches]
            outs = [torch.relu(y) if relu else y for y, relu in zip(outs, self.final_relu)]
            return torch.cat([outs[i] for i in self.order], dim=1)

    return PaperInception()


def _set(attribute, value):
    def mutate(model):
        setattr(model, attribute, value)
    return mutate


def _without_final_relu(branch):
    def mutate(model):
        model.final_relu = [i != branch for i in range(4)]
    return mutate


def _inception_mistakes():
    from torch import nn
    orders = [(1, 0, 2, 3), (0, 2, 1, 3), (3, 0, 1, 2), (0, 1, 3, 2), (1, 2, 3, 0)]
    mistakes = [M.model_mistake("make_inception.branch_order", _set("order", order)) for order in orders]
    mistakes += [M.model_mistake("make_inception.missing_branch", _set("order", tuple(i for i in range(4) if i != b)))
                 for b in range(4)]
    mistakes += [M.model_mistake("make_inception.missing_relu", _without_final_relu(b)) for b in range(4)]

    def without_inner_relus(model):
        _replace(model.branches, nn.ReLU, lambda relu: nn.Identity())
    mistakes.append(M.model_mistake("make_inception.inner_relu", without_inner_relus))
    return mistakes


def check_make_inception(make_inception, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_inception(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj) -> nn.Module``.

    The module of GoogLeNet (Szegedy et al., 2015): four parallel branches —
    1×1; 1×1 → 3×3; 1×1 → 5×5; 3×3/1 max pool → 1×1 — each convolution with
    bias and ReLU, concatenated along channels in that order.  The learner's
    module gets the reference's weights (its six convolutions paired in the
    order forward runs them) and must compute the same output on odd and
    non-square inputs.
    """
    mistakes = _inception_mistakes()
    cases = [ModelCase(f"make_inception({cin}, {c1}, {c3r}, {c3}, {c5r}, {c5}, {pp})",
                       (lambda spec=(cin, c1, c3r, c3, c5r, c5, pp): _paper_inception(*spec)), [(2, cin, h, w)],
                       args=(cin, c1, c3r, c3, c5r, c5, pp), mistakes=mistakes)
             for cin, c1, c3r, c3, c5r, c5, pp, h, w in _INCEPTION_SPECS + (_INCEPTION_EXTENDED if extended else [])]
    scenario = ModelScenario("make_inception", cases, general_hint=M("make_inception.structure"),
                             raised_hint=M("make_inception.raised"), passed=M("make_inception.passed"))
    return check_model(make_inception, scenario, strict=strict, seed=seed)
