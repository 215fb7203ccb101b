"""Notebook 08, ``mean_field_step``: one mean-field update of the dense CRF, against explicit dense sums
written here (every pair (i, j ≠ i), Potts compatibility, softmax over the labels), not ``course_utils.crf``."""

from __future__ import annotations

from ..engine import Case, CheckResult, call_learner, compare_tensor, generator, randn, run_cases
from ..messages.deeplab import M

__all__ = ["check_mean_field_step"]


def kernels(image, theta_alpha, theta_beta, theta_gamma):
    """The two dense kernel matrices, written out pair by pair with broadcasting (independent of course_utils.crf)."""
    import torch
    c, h, w = image.shape
    pos = torch.stack(torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")).reshape(2, -1).double()
    col = image.reshape(c, -1).double()
    dp = ((pos[:, :, None] - pos[:, None, :]) ** 2).sum(0)
    dc = ((col[:, :, None] - col[:, None, :]) ** 2).sum(0)
    appearance = torch.exp(-dp / (2 * theta_alpha ** 2) - dc / (2 * theta_beta ** 2))
    smooth = torch.exp(-dp / (2 * theta_gamma ** 2))
    return appearance.float(), smooth.float()


# the mistakes mean_field_reference computes: their keys are its variants
MF_VARIANTS = ("mean_field_step.self", "mean_field_step.plus", "mean_field_step.no_unary", "mean_field_step.no_potts",
               "mean_field_step.sign_potts", "mean_field_step.normalised", "mean_field_step.swapped_weights",
               "mean_field_step.ignores_q", "mean_field_step.no_softmax", "mean_field_step.column_major",
               "mean_field_step.softmax_pixels")


def mean_field_reference(unary, q, ka, ks, wa, ws, variant=None):
    """The mean-field update by explicit sums over j ≠ i, in float64; ``variant``, the key of a mistake,
    makes that mistake."""
    import torch
    L = q.shape[0]
    n = q[0].numel()
    U, Q = unary.reshape(L, n).double(), q.reshape(L, n).double()
    Ka, Ks = ka.double(), ks.double()
    if variant == "mean_field_step.swapped_weights":
        wa, ws = ws, wa
    off = 1 - torch.eye(n, dtype=torch.float64)
    if variant != "mean_field_step.self":
        Ka, Ks = Ka * off, Ks * off
    if variant == "mean_field_step.ignores_q":
        Q = torch.softmax(-U, dim=0)
    if variant == "mean_field_step.column_major":   # pixels numbered column by column on the q side only
        h, w = q.shape[1:]
        Qt = q.transpose(1, 2).reshape(L, n).double()
        m = (wa * Qt @ Ka.t() + ws * Qt @ Ks.t()).reshape(L, w, h).transpose(1, 2).reshape(L, n)
    else:
        m = wa * Q @ Ka.t() + ws * Q @ Ks.t()                       # m[l, i] = Σ_j k(i, j) Q_j(l)
    if variant == "mean_field_step.normalised":
        m = m / m.sum(dim=0, keepdim=True)
    if variant == "mean_field_step.no_potts":
        pair = m
    elif variant == "mean_field_step.sign_potts":
        pair = -(m.sum(dim=0, keepdim=True) - m)
    else:
        pair = m.sum(dim=0, keepdim=True) - m                     # μ(l, l') = [l ≠ l']
    energy = U + pair
    if variant == "mean_field_step.no_unary":
        energy = pair
    if variant == "mean_field_step.plus":
        out = torch.softmax(energy, dim=0)
    elif variant == "mean_field_step.no_softmax":
        out = torch.exp(-energy)
    elif variant == "mean_field_step.softmax_pixels":
        out = torch.softmax(-energy, dim=1)
    else:
        out = torch.softmax(-energy, dim=0)
    return out.float().reshape(q.shape)


# (L, H, W, C, w_appearance, theta_alpha, theta_beta, w_smooth, theta_gamma)
MF_PUBLIC = [(3, 5, 6, 3, 4.0, 3.0, 20.0, 3.0, 1.0), (2, 7, 4, 1, 2.0, 5.0, 30.0, 1.5, 2.0),
             (4, 6, 6, 3, 1.0, 2.0, 40.0, 2.0, 1.5)]
MF_EXTENDED = [(5, 4, 9, 3, 3.0, 4.0, 25.0, 0.5, 3.0), (2, 8, 8, 3, 5.0, 6.0, 15.0, 3.0, 1.0),
               (3, 3, 11, 2, 0.7, 1.5, 60.0, 4.0, 0.8)]


def mf_cases(seed, extended):
    import torch
    g = generator(seed)
    cases = []
    for L, h, w, c, wa, ta, tb, ws, tg in MF_PUBLIC + (MF_EXTENDED if extended else []):
        unary = randn(g, L, h, w) * 2
        q = torch.softmax(randn(g, L, h, w) * 2, dim=0)
        image = torch.rand(c, h, w, generator=g) * 255
        ka, ks = kernels(image, ta, tb, tg)
        args = (unary, q, ka, ks, wa, ws)
        mistakes = [M.mistake(key, mean_field_reference(*args, variant=key)) for key in MF_VARIANTS]
        cases.append(Case(f"unary/q of shape {(L, h, w)}, kernels {tuple(ka.shape)}, w_appearance={wa}, "
                          f"w_smooth={ws} (θα={ta}, θβ={tb}, θγ={tg})", args, expected=mean_field_reference(*args),
                          mistakes=mistakes, atol=1e-5, rtol=1e-4))
    # A known value: without pairwise weights the step is softmax(−unary), whatever q is.
    L, h, w = 3, 4, 5
    unary, q = randn(g, L, h, w), torch.softmax(randn(g, L, h, w), dim=0)
    ka, ks = kernels(torch.rand(3, h, w, generator=g) * 255, 2.0, 20.0, 1.0)
    cases.append(Case(f"w_appearance=0, w_smooth=0 (the step must return softmax(−unary) over the labels), "
                      f"unary of shape {(L, h, w)}", (unary, q, ka, ks, 0.0, 0.0),
                      expected=torch.softmax(-unary, dim=0),
                      mistakes=[M.mistake("mean_field_step.zero_weights", torch.softmax(unary, dim=0)),
                                M.mistake("mean_field_step.zero_weights",
                                          torch.softmax(-unary.reshape(L, -1), dim=1).reshape(L, h, w))]
                      + [M.mistake(key, wrong) for key in MF_VARIANTS   # what each mistake gives here too
                         if not torch.allclose(wrong := mean_field_reference(unary, q, ka, ks, 0.0, 0.0, variant=key),
                                               torch.softmax(-unary, dim=0), atol=1e-5, rtol=1e-4)]))
    return cases


def _iterated(step, steps):
    def iterate(unary, q, ka, ks, wa, ws):
        for _ in range(steps):
            q = step(unary, q, ka, ks, wa, ws)
        return q
    iterate.__name__ = getattr(step, "__name__", "mean_field_step")
    return iterate


def check_mean_field_step(mean_field_step, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``mean_field_step(unary, q, k_appearance, k_smooth, w_appearance, w_smooth) -> (L, H, W)``.

    unary, q: (L, H, W); k_appearance, k_smooth: (N, N) kernel matrices, N = H·W, pixels numbered row by
    row, diagonal 1.  Compared with an explicit computation: Q_i(l) = softmax over l of
    −(ψu_i(l) + Σ_l' [l ≠ l'] Σ_{j ≠ i} (w_a k_a(i, j) + w_s k_s(i, j)) Q_j(l')); on small random images, with
    zero weights (softmax(−unary)), and over five iterations.
    """
    import torch
    check = "mean_field_step"
    g = generator(seed + 1)
    shapes = [(3, 6, 5)] + ([(4, 7, 6)] if extended else [])

    def iterations():
        for L, h, w in shapes:
            unary = randn(g, L, h, w) * 2
            q = torch.softmax(-unary, dim=0)
            ka, ks = kernels(torch.rand(3, h, w, generator=g) * 255, 3.0, 25.0, 1.0)
            case = Case(f"five iterations from q = softmax(−unary), unary of shape {(L, h, w)}, w_appearance=4, "
                        "w_smooth=3", (unary, q, ka, ks, 4.0, 3.0), atol=1e-4, rtol=1e-4)
            got, _ = call_learner(check, _iterated(mean_field_step, 5), case, first=False,
                                  name=getattr(mean_field_step, "__name__", check))
            case.expected = q   # only now: the learner's code has returned
            for _ in range(5):
                case.expected = mean_field_reference(unary, case.expected, ka, ks, 4.0, 3.0)
            compare_tensor(check, got, case, name=getattr(mean_field_step, "__name__", check),
                           general_hint=M("mean_field_step.iterations"))
        return "Five iterations in a row match too."

    return run_cases(check, mean_field_step, lambda: mf_cases(seed, extended), compare=compare_tensor, strict=strict,
                     general_hint=M("mean_field_step.general"), after=iterations)
