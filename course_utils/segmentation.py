"""Segmentation helpers shared by notebooks 06-08: a tiny FCN, one training loop, evaluation.

The models are small on purpose: they train on the course's 64 × 64 segmentation set
(``data.load_segmentation``) in about ten seconds on one CPU thread.  Everything here
is plain PyTorch a learner can read top to bottom.
"""

from __future__ import annotations

__all__ = ["conv_bn_relu", "make_upsampler", "TinyFCN", "TinyDeepLabV3Plus",  # noqa: F822 - lazy, see __getattr__
           "fit_segmentation", "predict", "confusion", "scores", "evaluate"]


def conv_bn_relu(c_in, c_out):
    """3 × 3 convolution (padding 1, no bias), batch norm, ReLU: the unit every model here is built from."""
    import torch.nn as nn
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


def _tent_kernel(channels, factor):
    """Bilinear upsampling weights for ConvTranspose2d(k = 2f − f mod 2, stride f), one channel at a time."""
    import torch
    k = 2 * factor - 1 if factor % 2 else 2 * factor
    offsets = torch.arange(k, dtype=torch.float32) - (k - 1) / 2    # from the centre, f − 1 or f − 0.5
    tent = 1 - offsets.abs() / factor
    return torch.eye(channels)[:, :, None, None] * torch.outer(tent, tent)   # (C, C, k, k): channel c to c only


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


def _tiny_deeplab_class():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def separable(c_in, c_out, stride=1, dilation=1):
        """Depthwise 3 × 3 (groups = c_in) then pointwise 1 × 1, no biases (Chollet, 2017)."""
        return nn.Sequential(nn.Conv2d(c_in, c_in, 3, stride, dilation, dilation, groups=c_in, bias=False),
                             nn.Conv2d(c_in, c_out, 1, bias=False))

    def default_aspp(c_in, c_out, rates):
        from torchvision.models.segmentation.deeplabv3 import ASPP
        return ASPP(c_in, list(rates), c_out)

    class TinyDeepLabV3Plus(nn.Module):
        """A small DeepLab v3+ (Chen et al., ECCV 2018) for the course's 64 × 64 images.

        Encoder: a strided 3 × 3 stem (stride 2), then blocks of depthwise separable convolution + BN + ReLU:
        stride 4 (the low-level features), stride 8, then a block with dilation 2 instead of a further stride, so
        the output stride stays 8; ASPP (rates ``rates``) on top.  Decoder: the ASPP output upsampled ×2
        (bilinear), concatenated with the low-level features reduced by a 1 × 1 convolution, two separable
        3 × 3 blocks, a 1 × 1 classifier, and a bilinear ×4 upsampling to the input size.

        ``make_aspp(c_in, c_out, rates)`` and ``make_separable(c_in, c_out, kernel_size=3, stride=1, dilation=1)``
        supply the parts (notebook 08 passes the learner's); by default torchvision's ASPP and a plain separable
        convolution.
        """

        def __init__(self, num_classes, *, widths=(16, 32, 64), aspp_channels=32, low_level_channels=8,
                     rates=(2, 4, 6), make_aspp=None, make_separable=None):
            super().__init__()
            sep = ((lambda a, b, stride=1, dilation=1: make_separable(a, b, kernel_size=3, stride=stride,
                                                                       dilation=dilation))
                   if make_separable else separable)

            def block(a, b, stride=1, dilation=1):
                return nn.Sequential(sep(a, b, stride=stride, dilation=dilation), nn.BatchNorm2d(b),
                                     nn.ReLU(inplace=True))
            w1, w2, w3 = widths
            self.stem = nn.Sequential(nn.Conv2d(3, w1, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w1),
                                      nn.ReLU(inplace=True))                                   # stride 2
            self.low = nn.Sequential(block(w1, w2, stride=2), block(w2, w2))                     # stride 4
            self.high = nn.Sequential(block(w2, w3, stride=2), block(w3, w3, dilation=2))        # stride 8, atrous
            self.aspp = (make_aspp or default_aspp)(w3, aspp_channels, tuple(rates))
            self.reduce = nn.Sequential(nn.Conv2d(w2, low_level_channels, 1, bias=False),
                                        nn.BatchNorm2d(low_level_channels), nn.ReLU(inplace=True))
            self.refine = nn.Sequential(block(aspp_channels + low_level_channels, aspp_channels),
                                        block(aspp_channels, aspp_channels))
            self.classifier = nn.Conv2d(aspp_channels, num_classes, 1)

        def forward(self, x):
            size = x.shape[-2:]
            low = self.low(self.stem(x))                                  # (N, w2, H/4, W/4)
            high = self.aspp(self.high(low))                              # (N, aspp, H/8, W/8)
            high = F.interpolate(high, size=low.shape[-2:], mode="bilinear", align_corners=False)
            x = self.refine(torch.cat([high, self.reduce(low)], dim=1))  # (N, aspp, H/4, W/4)
            return F.interpolate(self.classifier(x), size=size, mode="bilinear", align_corners=False)

    return TinyDeepLabV3Plus


_LAZY = {"TinyFCN": _tiny_fcn_class, "TinyDeepLabV3Plus": _tiny_deeplab_class}


def __getattr__(name):   # the models are built on first use, so that importing this module imports no torch
    if name in _LAZY:
        cls = _LAZY[name]()
        globals()[name] = cls
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
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.long, device=target.device)
    cells = (target[keep].long(), pred[keep].long())
    return matrix.index_put_(cells, torch.ones_like(cells[0]), accumulate=True)   # one count per pixel


def scores(matrix):
    """(pixel accuracy, mean IoU, per-class IoU) from a confusion matrix; NaN IoU for absent classes."""
    import torch
    m = matrix.double()
    tp = m.diagonal()
    fp, fn = m.sum(dim=0) - tp, m.sum(dim=1) - tp      # predicted c wrongly; c predicted as another class
    iou = tp / (tp + fp + fn)
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
