"""Calibrate the segmentation set against the models notebooks 06 and 07 train on it.

    OMP_NUM_THREADS=1 python benchmarks/segmentation_calibration.py [--epochs-scale 1.0] [--only unet,fcn-8s]
                                                                     [--save predictions.png]

Trains, single-threaded on the CPU (as on a learner's 2-core laptop), a colour-only
baseline (1×1 convolutions: no spatial context), a tiny FCN-32s, FCN-16s and FCN-8s
(Long, Shelhamer & Darrell, 2015: VGG-like backbone with five conv+pool stages, fc6/fc7 as
convolutions, score layers, bilinear-initialised transposed convolutions, skips from pool4
and pool3) and a small U-Net (Ronneberger, Fischer & Brox, 2015: depth 3, 8 channels at the
top, padded convolutions) on ``load_segmentation("train")``; prints each one's parameter
count, training time, and test mIoU (mean over the 4 classes of TP / (TP + FP + FN), from
one confusion matrix over the test split) and pixel accuracy.

Recipe for all: Adam, one-cycle learning rate peaking at 1e-2, batches of 8, 5 epochs
(1 for the baseline), seed 0.  Targets: U-Net >= 0.90 test mIoU in 10-20 s; FCN-8s clearly
above FCN-32s; the colour-only baseline far below.  Measured with torch 2.14.1 on a 2-core
AMD EPYC VM (other jobs running: times are upper bounds): baseline 0.17, FCN-32s 0.30,
FCN-16s 0.75, FCN-8s 0.86, U-Net 0.93 (0.91-0.93 over seeds 0-2 and peak rates 5e-3-1e-2).
Notebook 08 adds a small DeepLab v3+ (``segmentation.TinyDeepLabV3Plus``: separable-convolution encoder at
output stride 8, ASPP, decoder from stride-4 features), on the same recipe: 0.865 (FCN-8s 0.858, U-Net 0.926
in the same run, on a busy machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from course_utils import data, segmentation  # noqa: E402
from course_utils.segmentation import conv_bn_relu  # noqa: E402


class ColourOnly(nn.Module):
    """Per-pixel classifier from the pixel's colour alone (1×1 convolutions): the no-context baseline."""

    def __init__(self, num_classes, hidden=32):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
                                 nn.Conv2d(hidden, num_classes, 1))

    def forward(self, x):
        return self.net(x)


def double_conv(c_in, c_out):
    return nn.Sequential(conv_bn_relu(c_in, c_out), conv_bn_relu(c_out, c_out))


class UNet(nn.Module):
    """U-Net with padded convolutions (output size = input size); `depth` poolings, `base` channels at the top."""

    def __init__(self, num_classes, depth=3, base=8):
        super().__init__()
        widths = [base * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList(double_conv(3 if i == 0 else widths[i - 1], widths[i]) for i in range(depth))
        self.bottom = double_conv(widths[depth - 1], widths[depth])
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth)))
        self.dec = nn.ModuleList(double_conv(2 * widths[i], widths[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(base, num_classes, 1)

    def forward(self, x):
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, block, skip in zip(self.up, self.dec, reversed(skips)):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x)


CONFIGS = {   # name: (builder, epochs, learning rate); Adam, one-cycle schedule, batches of 8
    "colour-only 1x1": (lambda k: ColourOnly(k), 1, 1e-2),
    "FCN-32s": (lambda k: segmentation.TinyFCN(k, "32s"), 5, 1e-2),
    "FCN-16s": (lambda k: segmentation.TinyFCN(k, "16s"), 5, 1e-2),
    "FCN-8s": (lambda k: segmentation.TinyFCN(k, "8s"), 5, 1e-2),
    "U-Net d3 b8": (lambda k: UNet(k, 3, 8), 5, 1e-2),
    "DeepLab v3+": (lambda k: segmentation.TinyDeepLabV3Plus(k), 5, 1e-2),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs-scale", type=float, default=1.0)
    parser.add_argument("--only", default="")
    parser.add_argument("--save", default="", help="save a figure of test predictions to this PNG")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    train_set, test_set = data.load_segmentation("train"), data.load_segmentation("test")
    print(f"load train+test: {time.perf_counter() - start:.2f} s ({len(train_set)} + {len(test_set)} images, "
          f"{tuple(train_set.tensors[0].shape[1:])}), torch {torch.__version__}, threads {torch.get_num_threads()}")
    k = len(data.SEGMENTATION_CLASSES)
    print(f"{'model':<18}{'params':>9}{'epochs':>7}{'train s':>9}{'mIoU':>7}{'pix acc':>9}   per-class IoU")
    predictions = {}
    for name, (build, epochs, lr) in CONFIGS.items():
        if args.only and not any(o.strip().lower() in name.lower() for o in args.only.split(",")):
            continue
        torch.manual_seed(0)
        model = build(k)
        epochs = max(1, round(epochs * args.epochs_scale))
        seconds = segmentation.fit_segmentation(model, train_set, epochs=epochs, lr=lr)
        result = segmentation.evaluate(model, test_set, k)
        predictions[name] = result["predictions"]
        miou, acc, iou = result["mean_iou"], result["pixel_accuracy"], result["iou"]
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:<18}{params:>9,}{epochs:>7}{seconds:>9.1f}{miou:>7.3f}{acc:>9.3f}   "
              + " ".join(f"{v:.2f}" for v in iou.tolist()), flush=True)
    if args.save:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from course_utils import plots
        names = list(predictions)
        rows = 4
        fig, axes = plt.subplots(rows, 2 + len(names), figsize=(2.2 * (2 + len(names)), 2.3 * rows))
        for r in range(rows):
            x, y = test_set[r]
            plots.show_segmentation(x, y, axes=axes[r, :2], classes=data.SEGMENTATION_CLASSES, legend=False)
            for c, name in enumerate(names):
                plots.show_mask(x, predictions[name][r], ax=axes[r, 2 + c], num_classes=k, title=name if r == 0 else None)
        fig.tight_layout()
        fig.savefig(args.save, dpi=80)
        print("saved", args.save)


if __name__ == "__main__":
    main()
