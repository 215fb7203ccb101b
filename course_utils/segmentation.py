"""Segmentation helpers shared by notebooks 06-08: a tiny FCN, one training loop, evaluation.

The models are small on purpose: they train on the course's 64 × 64 segmentation set
(``data.load_segmentation``) in about ten seconds on one CPU thread.  Everything here
is plain PyTorch a learner can read top to bottom.
"""

from __future__ import annotations

__all__ = ["conv_bn_relu", "make_upsampler", "TinyFCN", "fit_segmentation", "predict", "confusion", "scores", "evaluate"]


def conv_bn_relu(c_in, c_out):
    """3 × 3 convolution (padding 1, no bias), batch norm, ReLU: the unit every model here is built from."""
    import torch.nn as nn
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


def _tent_kernel(channels, factor):
    """Bilinear upsampling weights for ConvTranspose2d(k = 2f − f mod 2, stride f), one channel at a time."""
    import torch
    k = 2 * factor - factor % 2
    centre = factor - 1 if k % 2 == 1 else factor - 0.5
    tent = 1 - (torch.arange(k, dtype=torch.float32) - centre).abs() / factor
    weight = torch.zeros(channels, channels, k, k)
    weight[range(channels), range(channels)] = tent[:, None] * tent[None, :]
    return weight


def make_upsampler(channels, factor, *, kernel=None):
    """``nn.ConvTranspose2d`` that makes a map exactly ``factor`` times larger, initialised to bilinear
    interpolation (FCN's choice; training may change it).  ``kernel(channels, factor)`` may supply the
    initial weights (notebook 06 passes the learner's ``bilinear_kernel``)."""
    import torch
    import torch.nn as nn
    weight = (kernel or _tent_kernel)(channels, factor)
    layer = nn.ConvTranspose2d(channels, channels, weight.shape[-1], stride=factor, padding=factor // 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(weight)
    return layer


def _tiny_fcn_class():
    import torch.nn as nn

    class TinyFCN(nn.Module):
        """FCN-32s, -16s or -8s (Long, Shelhamer & Darrell, 2015) on a small VGG-like backbone.

        Five stages of 3 × 3 conv + BN + ReLU, each ending in a 2 × 2 max pool (strides 2 … 32);
        fc6/fc7 as convolutions; a 1 × 1 "score" layer; bilinear-initialised transposed
        convolutions to upsample; FCN-16s adds scores from pool4, FCN-8s also from pool3.
        """

        def __init__(self, num_classes, variant="8s", channels=(8, 16, 32, 64, 64), fc=128, convs=(1, 1, 2, 2, 2),
                     kernel=None):
            super().__init__()
            if variant not in ("32s", "16s", "8s"):
                raise ValueError(f"variant must be '32s', '16s' or '8s', not {variant!r}")
            self.variant = variant
            stages, c_in = [], 3
            for c, n in zip(channels, convs):
                stages.append(nn.Sequential(*[conv_bn_relu(c_in if i == 0 else c, c) for i in range(n)],
                                            nn.MaxPool2d(2)))
                c_in = c
            self.stages = nn.ModuleList(stages)
            # fc6 and fc7 "convolutionalized": a 3 × 3 and a 1 × 1 convolution on the stride-32 map
            self.fc = nn.Sequential(nn.Conv2d(channels[4], fc, 3, padding=1), nn.ReLU(inplace=True),
                                    nn.Conv2d(fc, fc, 1), nn.ReLU(inplace=True))
            self.score_fr = nn.Conv2d(fc, num_classes, 1)
            if variant == "32s":
                self.up_final = make_upsampler(num_classes, 32, kernel=kernel)
            else:
                self.score_pool4 = nn.Conv2d(channels[3], num_classes, 1)
                self.up_pool5 = make_upsampler(num_classes, 2, kernel=kernel)
                if variant == "16s":
                    self.up_final = make_upsampler(num_classes, 16, kernel=kernel)
                else:
                    self.score_pool3 = nn.Conv2d(channels[2], num_classes, 1)
                    self.up_pool4 = make_upsampler(num_classes, 2, kernel=kernel)
                    self.up_final = make_upsampler(num_classes, 8, kernel=kernel)

        def features(self, x):
            """The outputs of the five stages (pool1 … pool5), strides 2, 4, 8, 16, 32."""
            out = []
            for stage in self.stages:
                x = stage(x)
                out.append(x)
            return out

        def forward(self, x):
            pool1, pool2, pool3, pool4, pool5 = self.features(x)
            score = self.score_fr(self.fc(pool5))                       # (N, K, H/32, W/32)
            if self.variant == "32s":
                return self.up_final(score)                             # one jump back: coarse
            score = self.up_pool5(score) + self.score_pool4(pool4)      # (N, K, H/16, W/16)
            if self.variant == "16s":
                return self.up_final(score)
            score = self.up_pool4(score) + self.score_pool3(pool3)      # (N, K, H/8, W/8)
            return self.up_final(score)                                 # (N, K, H, W)

    return TinyFCN


def __getattr__(name):   # TinyFCN is built on first use, so that importing this module imports no torch
    if name == "TinyFCN":
        cls = _tiny_fcn_class()
        globals()["TinyFCN"] = cls
        return cls
    raise AttributeError(name)


def fit_segmentation(model, dataset, *, epochs=5, lr=1e-2, batch_size=8, seed=0):
    """Train ``model`` (on the device it sits on) with Adam and a one-cycle learning rate; return the seconds taken.

    Pixel-wise cross-entropy; the same batches in the same order for every model with the same
    ``seed``, so that models can be compared fairly.
    """
    import time

    import torch
    import torch.nn.functional as F
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (len(dataset) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.2)
    images, masks = dataset.tensors
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(dataset), generator=generator)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[i:i + batch_size]
            loss = F.cross_entropy(model(images[batch].to(device)), masks[batch].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return time.perf_counter() - start


def predict(model, dataset, *, batch_size=64):
    """Predicted class maps (N, H, W) for every image of ``dataset``, in eval mode."""
    import torch
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    images = dataset.tensors[0]
    with torch.no_grad():
        out = torch.cat([model(images[i:i + batch_size].to(device)).argmax(dim=1).cpu()
                         for i in range(0, len(images), batch_size)])
    model.train(was_training)
    return out


def confusion(pred, target, num_classes, ignore_index=255):
    """Confusion matrix m[true, predicted] over all pixels whose target is not ``ignore_index``."""
    import torch
    keep = target != ignore_index
    pairs = target[keep].long() * num_classes + pred[keep].long()
    return torch.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def scores(matrix):
    """(pixel accuracy, mean IoU, per-class IoU) from a confusion matrix; NaN IoU for absent classes."""
    import torch
    m = matrix.double()
    tp = m.diagonal()
    iou = tp / (m.sum(dim=0) + m.sum(dim=1) - tp)
    return (tp.sum() / m.sum()).item(), torch.nanmean(iou).item(), iou


def evaluate(model, dataset, num_classes, *, confusion_fn=None, scores_fn=None):
    """Predict ``dataset`` and score it: a dict with pixel_accuracy, mean_iou, iou and predictions.

    ``confusion_fn`` and ``scores_fn`` default to this module's; notebook 06 passes the
    learner's own ``confusion_matrix`` and ``segmentation_scores`` once their checks pass.
    """
    predictions = predict(model, dataset)
    matrix = (confusion_fn or confusion)(predictions, dataset.tensors[1], num_classes)
    pixel_accuracy, mean_iou, iou = (scores_fn or scores)(matrix)
    return {"pixel_accuracy": pixel_accuracy, "mean_iou": mean_iou, "iou": iou, "predictions": predictions}
