"""im2col variants against F.conv2d: the figures behind check_conv2d_im2col's speed bar.

    python3 benchmarks/im2col.py [--rounds 15] [--repeats 7]

Each variant runs on the check's own speed case (``im2col_speed_case``: (8, 16, 32, 32) input, 32 3×3
filters, padding 1), on one thread and in CPU time as the check measures it (``--wall``: wall-clock time,
as the check measured before: on a loaded machine a call of a few milliseconds is preempted often).  Two figures per variant:

* the plain timing: median (and min) of ``--rounds × --repeats`` calls, over the median of F.conv2d's;
* the check's own procedure (``convolution._speed_ratio``: interleaved with F.conv2d, best CPU time of each)
  repeated ``--rounds`` times: the median and the worst ratio the check would have reported.  The worst
  is what decides whether a correct variant could fail on a loaded machine.

The correct vectorised variants are the ones a learner may write (the notebook allows a loop over the
kh·kw kernel taps); the others are correct but poor, and the speed bar is meant to fail them.  Whether the
op-count test already catches a variant (a loop over output pixels) is printed too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _settings(x, weight, stride, padding, dilation):
    from course_utils.checks.engine import pair
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return n, c, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo


# --------------------------------------------------------------------------
# Correct, vectorised
# --------------------------------------------------------------------------

def as_strided(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """F.pad, an as_strided patch view (N, C, kh, kw, H_out, W_out), one matmul weight @ columns."""
    import torch.nn.functional as F
    n, c, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = _settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph)).contiguous()
    s = xp.stride()
    cols = xp.as_strided((n, c, kh, kw, ho, wo), (s[0], s[1], s[2] * dh, s[3] * dw, s[2] * sh, s[3] * sw))
    out = weight.reshape(o, -1) @ cols.reshape(n, c * kh * kw, ho * wo)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def unfold_rows(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """The notebook's solution: Tensor.unfold windows as rows (N, H_out·W_out, C·kh·kw) @ weight.T."""
    import torch.nn.functional as F
    n, c, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = _settings(x, weight, stride, padding, dilation)
    windows = F.pad(x, (pw, pw, ph, ph)).unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)
    windows = windows[..., ::dh, ::dw]
    rows = windows.permute(0, 2, 3, 1, 4, 5).reshape(n, ho * wo, c * kh * kw)
    out = rows @ weight.reshape(o, -1).T
    if bias is not None:
        out = out + bias
    return out.reshape(n, ho, wo, o).permute(0, 3, 1, 2)


def unfold_columns(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Tensor.unfold windows as columns (N, C·kh·kw, H_out·W_out), weight @ columns: no output permute."""
    import torch.nn.functional as F
    n, c, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = _settings(x, weight, stride, padding, dilation)
    windows = F.pad(x, (pw, pw, ph, ph)).unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)
    cols = windows[..., ::dh, ::dw].permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)
    out = weight.reshape(o, -1) @ cols
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def index_gather(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Row and column index grids, one advanced-indexing gather, one matmul."""
    import torch
    import torch.nn.functional as F
    n, c, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = _settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph))
    rows = (torch.arange(kh) * dh)[:, None] + (torch.arange(ho) * sh)[None, :]      # (kh, H_out)
    cols = (torch.arange(kw) * dw)[:, None] + (torch.arange(wo) * sw)[None, :]      # (kw, W_out)
    patches = xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]              # (N, C, kh, kw, H_out, W_out)
    out = weight.reshape(o, -1) @ patches.reshape(n, c * kh * kw, ho * wo)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def taps_loop(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """A loop over the kh·kw kernel taps (allowed by the notebook): one strided slice each, stacked, one matmul."""
    import torch
    import torch.nn.functional as F
    n, c, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = _settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph))
    taps = [xp[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]                                  # kh·kw of (N, C, H_out, W_out)
    cols = torch.stack(taps, dim=2).reshape(n, c * kh * kw, ho * wo)
    out = weight.reshape(o, -1) @ cols
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def einsum_windows(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Tensor.unfold windows and one torch.einsum (torch turns it into one batched matmul)."""
    import torch
    import torch.nn.functional as F
    n, c, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = _settings(x, weight, stride, padding, dilation)
    windows = F.pad(x, (pw, pw, ph, ph)).unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)
    out = torch.einsum("nchwij,ocij->nohw", windows[..., ::dh, ::dw], weight)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def batch_loop(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """im2col and a matmul per image of the batch (a loop over N, not over pixels)."""
    import torch
    return torch.cat([unfold_columns(x[b:b + 1], weight, bias, stride, padding, dilation) for b in range(x.shape[0])])


# --------------------------------------------------------------------------
# Correct but poor: the op count stays constant, the time does not
# --------------------------------------------------------------------------

def channel_loop(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """A loop over the input channels, one small im2col matmul each, summed."""
    out = 0
    for ci in range(x.shape[1]):
        out = out + unfold_columns(x[:, ci:ci + 1], weight[:, ci:ci + 1], None, stride, padding, dilation)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def float64_inside(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """The notebook's im2col computed in float64, converted back at the end."""
    out = unfold_rows(x.double(), weight.double(), None if bias is None else bias.double(), stride, padding,
                      dilation)
    return out.to(x.dtype)


def broadcast_product(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """No matmul: windows (N, 1, C, H_out, W_out, kh, kw) times weights, summed (a huge temporary)."""
    import torch.nn.functional as F
    n, c, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = _settings(x, weight, stride, padding, dilation)
    windows = F.pad(x, (pw, pw, ph, ph)).unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)
    windows = windows[..., ::dh, ::dw]
    out = (windows[:, None] * weight[None, :, :, None, None]).sum(dim=(2, 5, 6))
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def numpy_einsum(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """numpy's sliding_window_view and np.einsum (no optimize): vectorised, but one naive C loop."""
    import numpy as np
    import torch
    from numpy.lib.stride_tricks import sliding_window_view
    n, c, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = _settings(x, weight, stride, padding, dilation)
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    out = np.einsum("nchwij,ocij->nohw", windows, weight.numpy())
    if bias is not None:
        out = out + bias.numpy()[None, :, None, None]
    return torch.from_numpy(np.ascontiguousarray(out)).to(x.dtype)


def python_columns(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """The column matrix filled element by element in Python lists (.tolist()), then one matmul."""
    import torch
    import torch.nn.functional as F
    n, c, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = _settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph)).tolist()
    cols = [[[xp[b][ci][i * sh + p * dh][j * sw + q * dw] for i in range(ho) for j in range(wo)]
             for ci in range(c) for p in range(kh) for q in range(kw)] for b in range(n)]
    out = weight.reshape(o, -1) @ torch.tensor(cols, dtype=x.dtype)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def pixel_loop(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """A loop over images and output pixels filling the column matrix (the op-count test's target)."""
    import torch.nn.functional as F
    n, c, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = _settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph))
    cols = x.new_empty(n, c * kh * kw, ho * wo)
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                patch = xp[b, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
                cols[b, :, i * wo + j] = patch.reshape(-1)
    out = weight.reshape(o, -1) @ cols
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


CORRECT = [as_strided, unfold_rows, unfold_columns, index_gather, taps_loop, einsum_windows, batch_loop]
POOR = [channel_loop, float64_inside, broadcast_product, numpy_einsum, python_columns, pixel_loop]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="repetitions of the check's timing procedure")
    parser.add_argument("--repeats", type=int, default=7, help="calls per round")
    parser.add_argument("--only", nargs="*", help="variant names to run")
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of the check's CPU time")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F

    from course_utils.checks import convolution
    from course_utils.checks.engine import count_torch_ops

    case = convolution.im2col_speed_case()
    small = convolution.im2col_speed_case(size=16)   # op counts on 16×16 and 32×32 (the check: 8×8 and 16×16)
    torch.set_num_threads(1)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"im2col variants vs F.conv2d on {case.label}")
    print(f"torch {torch.__version__}, one thread, {os.cpu_count()} cores, load average {' '.join(load)}; "
          f"{'wall' if args.wall else 'CPU'} time; check bar {convolution.IM2COL_SPEED_FACTOR:g}x; "
          f"{args.rounds} rounds of {args.repeats} calls\n")

    def ref():
        return F.conv2d(*case.args, **case.kwargs)

    clock = time.perf_counter if args.wall else convolution._cpu_clock()
    factor = convolution.IM2COL_SPEED_FACTOR

    def timed(fn):
        def call():
            start = clock()
            fn(*case.args, **case.kwargs)
            return clock() - start
        return call

    expected = ref()
    print(f"{'variant':<18} {'ops 16/32':>10} {'median ms':>10} {'min ms':>8} {'median x':>9} "
          f"{'check x (median)':>17} {'check x (worst)':>16}  verdict at the bar")
    for fn in CORRECT + POOR:
        if args.only and fn.__name__ not in args.only:
            continue
        with torch.no_grad():
            got = fn(*case.args, **case.kwargs)
            assert torch.allclose(got, expected, atol=1e-3, rtol=1e-3), fn.__name__
            ops = (count_torch_ops(fn, *small.args, **small.kwargs), count_torch_ops(fn, *case.args, **case.kwargs))
            first = time.perf_counter()
            fn(*case.args, **case.kwargs)
            once = time.perf_counter() - first
            slow = once > 0.2    # a slow variant: fewer rounds, the figures are clear anyway
            rounds, repeats = (2, 3) if slow else (args.rounds, args.repeats)
            mine, theirs, check_ratios = [], [], []
            for _ in range(rounds):
                ref_min, mine_min, _ = convolution._speed_ratio(ref, timed(fn), factor=factor, budget=float("inf"),
                                                                repeats=repeats, clock=clock)
                check_ratios.append(mine_min / ref_min)
                for _ in range(repeats):
                    start = clock()
                    ref()
                    theirs.append(clock() - start)
                    start = clock()
                    fn(*case.args, **case.kwargs)
                    mine.append(clock() - start)
        median_ratio = statistics.median(mine) / statistics.median(theirs)
        worst = max(check_ratios)
        verdict = "loops (op count)" if ops[1] > ops[0] else ("passes" if worst <= factor else "too slow")
        print(f"{fn.__name__:<18} {ops[0]:>4}/{ops[1]:<5} {statistics.median(mine) * 1e3:>10.2f} "
              f"{min(mine) * 1e3:>8.2f} {median_ratio:>8.1f}x {statistics.median(check_ratios):>16.1f}x "
              f"{worst:>15.1f}x  {verdict}{'  (' + ('poor' if fn in POOR else 'correct') + ')'}", flush=True)
    print(f"\nF.conv2d: median {statistics.median(theirs) * 1e3:.2f} ms over the last variant's calls; "
          f"load average {' '.join(open('/proc/loadavg').read().split()[:3])} at the end")


if __name__ == "__main__":
    main()
