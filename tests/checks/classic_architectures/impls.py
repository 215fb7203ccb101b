"""Learner implementations for the tests of notebook 03's checks (classic architectures).

Written the way a learner would write them: several correct styles per
exercise, then one small function per plausible mistake, each differing from
a correct builder in the one place its comment names.  Nothing here types an
expected number; the tests compute those.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from checks.helpers import solution
from checks.instructor import instructor_object

# ==========================================================================
# make_alexnet(num_classes=1000)
# ==========================================================================


# The notebook's own AlexNet (torchvision's layout: features, avgpool, classifier; torch.flatten in forward),
# taken from its source rather than copied here.
AlexNet = instructor_object("03_classic_architectures", "AlexNet")


def alexnet_class(num_classes=1000):
    """A class with features / avgpool / classifier, as in torchvision."""
    return AlexNet(num_classes)


def alexnet_flat_sequential(num_classes=1000):
    """One flat nn.Sequential, named layers, nn.Flatten and out-of-place ReLUs."""
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 64, 11, 4, 2)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(3, 2)),
        ("conv2", nn.Conv2d(64, 192, 5, padding=2)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(3, 2)),
        ("conv3", nn.Conv2d(192, 384, 3, padding=1)), ("relu3", nn.ReLU()),
        ("conv4", nn.Conv2d(384, 256, 3, padding=1)), ("relu4", nn.ReLU()),
        ("conv5", nn.Conv2d(256, 256, 3, padding=1)), ("relu5", nn.ReLU()), ("pool5", nn.MaxPool2d(3, 2)),
        ("avgpool", nn.AdaptiveAvgPool2d(6)), ("flatten", nn.Flatten()),
        ("drop6", nn.Dropout()), ("fc6", nn.Linear(9216, 4096)), ("relu6", nn.ReLU()),
        ("drop7", nn.Dropout()), ("fc7", nn.Linear(4096, 4096)), ("relu7", nn.ReLU()),
        ("fc8", nn.Linear(4096, num_classes)),
    ]))


class AlexNetFunctional(nn.Module):
    """Layers in ModuleLists built from a table; ReLU, pooling and dropout functional in forward."""

    # (out_channels, kernel, stride, padding, max pool after it)
    TABLE = [(64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False), (256, 3, 1, 1, False),
             (256, 3, 1, 1, True)]

    def __init__(self, num_classes=1000):
        super().__init__()
        channels = [3] + [row[0] for row in self.TABLE]
        self.convs = nn.ModuleList(nn.Conv2d(cin, cout, k, s, p)
                                   for cin, (cout, k, s, p, _) in zip(channels, self.TABLE))
        self.fcs = nn.ModuleList([nn.Linear(channels[-1] * 36, 4096), nn.Linear(4096, 4096),
                                  nn.Linear(4096, num_classes)])

    def forward(self, x):
        for conv, (*_, pool) in zip(self.convs, self.TABLE):
            x = F.relu(conv(x))
            if pool:
                x = F.max_pool2d(x, 3, 2)
        x = F.adaptive_avg_pool2d(x, (6, 6)).flatten(1)
        for fc in self.fcs[:-1]:
            x = F.relu(fc(F.dropout(x, 0.5, self.training)))
        return self.fcs[-1](x)


def alexnet_functional(num_classes=1000):
    return AlexNetFunctional(num_classes)


def _alexnet(num_classes=1000, *, widths=(64, 192, 384, 256, 256), conv1_padding=2, conv3_padding=1,
             pools_after=(0, 1, 4), pool_to=6, fc_in=None, conv_bias=True, relu=True, head_classes=None,
             dropout=0.5):
    """The learner's AlexNet with its knobs: each mistake below turns one of them."""
    kernels, strides, paddings = (11, 5, 3, 3, 3), (4, 1, 1, 1, 1), (conv1_padding, 2, conv3_padding, 1, 1)
    layers, channels = [], 3
    for index, (width, k, s, p) in enumerate(zip(widths, kernels, strides, paddings)):
        layers.append(nn.Conv2d(channels, width, k, stride=s, padding=p, bias=conv_bias))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        if index in pools_after:
            layers.append(nn.MaxPool2d(3, 2))
        channels = width
    fc_in = channels * pool_to * pool_to if fc_in is None else fc_in
    classifier = [nn.Dropout(dropout), nn.Linear(fc_in, 4096)] + ([nn.ReLU(inplace=True)] if relu else []) + \
        [nn.Dropout(dropout), nn.Linear(4096, 4096)] + ([nn.ReLU(inplace=True)] if relu else []) + \
        [nn.Linear(4096, num_classes if head_classes is None else head_classes)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(pool_to), nn.Flatten(), *classifier)


def alexnet_paper_widths(num_classes=1000):
    # the 2012 paper's two-GPU widths 96, 256, 384, 384, 256 instead of torchvision's
    return _alexnet(num_classes, widths=(96, 256, 384, 384, 256))


def alexnet_missing_pool(num_classes=1000):
    # no max pool after conv2: conv3-5 run on 27×27 maps (the adaptive pool hides it from the shape)
    return _alexnet(num_classes, pools_after=(0, 4))


def alexnet_conv1_no_padding(num_classes=1000):
    # conv1 without padding=2
    return _alexnet(num_classes, conv1_padding=0)


def alexnet_conv3_no_padding(num_classes=1000):
    # conv3 without padding=1: the 13×13 maps shrink
    return _alexnet(num_classes, conv3_padding=0)


def alexnet_pool_to_7(num_classes=1000):
    # VGG's 7×7 adaptive pool, with the dense layer resized to match (256·7·7 inputs)
    return _alexnet(num_classes, pool_to=7)


def alexnet_pool_to_7_keeps_9216(num_classes=1000):
    # 7×7 adaptive pool, but the dense layer still expects 256·6·6 = 9216 inputs
    return _alexnet(num_classes, pool_to=7, fc_in=256 * 6 * 6)


def alexnet_ignores_num_classes(num_classes=1000):
    # the last layer always has 1000 outputs
    return _alexnet(num_classes, head_classes=1000)


def alexnet_conv_without_bias(num_classes=1000):
    # bias=False in every convolution (a habit from batch-norm networks)
    return _alexnet(num_classes, conv_bias=False)


def alexnet_without_relus(num_classes=1000):
    # forgets every ReLU: shapes, parameters and FLOPs are those of AlexNet (only values show it)
    return _alexnet(num_classes, relu=False)


def alexnet_dropout_0_4(num_classes=1000):
    # Dropout(0.4) instead of 0.5: equal in eval mode, different in training mode
    return _alexnet(num_classes, dropout=0.4)


def alexnet_returns_the_class(num_classes=1000):
    # returns the class instead of an instance
    return AlexNet


def alexnet_forgets_return(num_classes=1000):
    model = AlexNet(num_classes)  # noqa: F841 - and then no return


# ==========================================================================
# make_vgg(cfg, num_classes=1000, batch_norm=False)
# ==========================================================================

def vgg_classifier(num_classes, in_features=512 * 7 * 7):
    return [nn.Linear(in_features, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(4096, num_classes)]


# The notebook's own make_vgg (a loop over cfg, tracking the channel count, into one nn.Sequential).
vgg_loop = solution("03_classic_architectures", "make_vgg")


def _vgg_features_recursive(cfg, channels, batch_norm):
    if not cfg:
        return []
    head, *rest = cfg
    if head == "M":
        return [nn.MaxPool2d(2)] + _vgg_features_recursive(rest, channels, batch_norm)
    block = [nn.Conv2d(channels, head, 3, 1, 1)] + ([nn.BatchNorm2d(head)] if batch_norm else []) + [nn.ReLU()]
    return block + _vgg_features_recursive(rest, head, batch_norm)


class VGG(nn.Module):
    def __init__(self, features, num_classes):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(*vgg_classifier(num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).view(x.shape[0], -1))


def vgg_recursive(cfg, num_classes=1000, batch_norm=False):
    """A recursive builder for the features, inside a class with features / avgpool / classifier."""
    return VGG(nn.Sequential(*_vgg_features_recursive(list(cfg), 3, batch_norm)), num_classes)


def vgg_comprehension(cfg, num_classes=1000, batch_norm=False):
    """One list comprehension; each conv takes its input channels from an iterator over [3] + widths."""
    widths = [c for c in cfg if c != "M"]
    inputs = iter([3] + widths)

    def conv(width):
        norm = [nn.BatchNorm2d(width)] if batch_norm else []
        return [nn.Conv2d(next(inputs), width, (3, 3), padding="same"), *norm, nn.ReLU()]
    features = [layer for item in cfg for layer in ([nn.MaxPool2d(2, 2)] if item == "M" else conv(item))]
    return nn.Sequential(nn.Sequential(*features), nn.AdaptiveAvgPool2d(7), nn.Flatten(1),
                         nn.Sequential(*vgg_classifier(num_classes)))


def _vgg(cfg, num_classes=1000, batch_norm=False, *, kernel=3, padding=1, pools=True, norm_after_relu=False,
         honour_batch_norm=True, adaptive_pool=True, in_features=512 * 7 * 7, conv_bias=True,
         head_classes=None):
    """The learner's VGG builder with its knobs: each mistake below turns one of them."""
    layers, channels = [], 3
    batch_norm = batch_norm and honour_batch_norm
    for item in cfg:
        if item == "M":
            if pools:
                layers.append(nn.MaxPool2d(2, 2))
            continue
        layers.append(nn.Conv2d(channels, item, kernel, padding=padding, bias=conv_bias))
        block = [nn.BatchNorm2d(item), nn.ReLU(inplace=True)] if batch_norm else [nn.ReLU(inplace=True)]
        layers += block[::-1] if norm_after_relu else block
        channels = item
    pool = [nn.AdaptiveAvgPool2d((7, 7))] if adaptive_pool else []
    return nn.Sequential(*layers, *pool, nn.Flatten(),
                         *vgg_classifier(num_classes if head_classes is None else head_classes, in_features))


def vgg_skips_pools(cfg, num_classes=1000, batch_norm=False):
    # `if item == "M": continue`: the pools are never added
    return _vgg(cfg, num_classes, batch_norm, pools=False)


def vgg_ignores_batch_norm(cfg, num_classes=1000, batch_norm=False):
    # the batch_norm argument is accepted and never used
    return _vgg(cfg, num_classes, batch_norm, honour_batch_norm=False)


def vgg_norm_after_relu(cfg, num_classes=1000, batch_norm=False):
    # conv, ReLU, BatchNorm2d instead of conv, BatchNorm2d, ReLU
    return _vgg(cfg, num_classes, batch_norm, norm_after_relu=True)


def vgg_5x5_kernels(cfg, num_classes=1000, batch_norm=False):
    # 5×5 kernels ("same" padding 2): the sizes are right, the weights are not
    return _vgg(cfg, num_classes, batch_norm, kernel=5, padding=2)


def vgg_no_padding(cfg, num_classes=1000, batch_norm=False):
    # 3×3 convs without padding=1: every conv shrinks the maps by 2
    return _vgg(cfg, num_classes, batch_norm, padding=0)


def vgg_classifier_reads_4096(cfg, num_classes=1000, batch_norm=False):
    # the first dense layer reads 4096 features instead of 512·7·7
    return _vgg(cfg, num_classes, batch_norm, in_features=4096)


def vgg_no_adaptive_pool(cfg, num_classes=1000, batch_norm=False):
    # no adaptive pool: correct for 224×224 images only (7×7 maps after five pools)
    return _vgg(cfg, num_classes, batch_norm, adaptive_pool=False)


def vgg_conv_without_bias(cfg, num_classes=1000, batch_norm=False):
    # bias=False in every convolution
    return _vgg(cfg, num_classes, batch_norm, conv_bias=False)


def vgg_ignores_num_classes(cfg, num_classes=1000, batch_norm=False):
    # the last layer always has 1000 outputs
    return _vgg(cfg, num_classes, batch_norm, head_classes=1000)


# ==========================================================================
# vgg_stack_params(channels, bias=True) -> (three_3x3, one_7x7)
# ==========================================================================

# The notebook's own formula, 3·(9C² + C) and 49C² + C.
vgg_stack_params_formula = solution("03_classic_architectures", "vgg_stack_params")


def vgg_stack_params_meta_layers(channels, bias=True):
    """Build the layers on the meta device and count their parameters."""
    def count(*layers):
        return sum(p.numel() for layer in layers for p in layer.parameters())
    with torch.device("meta"):
        stack = [nn.Conv2d(channels, channels, 3, padding=1, bias=bias) for _ in range(3)]
        single = nn.Conv2d(channels, channels, 7, padding=3, bias=bias)
    return count(*stack), count(single)


def vgg_stack_params_shapes(channels, bias=True):
    """Multiply out the weight shapes, add the bias lengths."""
    def conv(k):
        return math.prod((channels, channels, k, k)) + (channels if bias else 0)
    return sum(conv(3) for _ in range(3)), conv(7)


def vgg_stack_params_one_layer(channels, bias=True):
    # counts one 3×3 layer, not three
    biases = channels if bias else 0
    return 9 * channels * channels + biases, 49 * channels * channels + biases


def vgg_stack_params_no_input_channels(channels, bias=True):
    # k·k·C weights per layer: the input channels are forgotten
    biases = channels if bias else 0
    return 3 * (9 * channels + biases), 49 * channels + biases


def vgg_stack_params_always_bias(channels, bias=True):
    # the biases are counted even with bias=False
    return 3 * (9 * channels * channels + channels), 49 * channels * channels + channels


def vgg_stack_params_bias_once(channels, bias=True):
    # one set of biases for the whole stack
    biases = channels if bias else 0
    return 3 * 9 * channels * channels + biases, 49 * channels * channels + biases


def vgg_stack_params_stack_only(channels, bias=True):
    # returns the first number only
    return vgg_stack_params_formula(channels, bias)[0]


def vgg_stack_params_swapped(channels, bias=True):
    # (one_7x7, three_3x3): the pair in the wrong order
    return vgg_stack_params_formula(channels, bias)[::-1]


def vgg_stack_params_math_pow(channels, bias=True):
    # math.pow returns floats
    biases = channels if bias else 0
    return 3 * (math.pow(3, 2) * channels ** 2 + biases), math.pow(7, 2) * channels ** 2 + biases


# ==========================================================================
# bottleneck_params(c_in, c_mid, c_out, kernel_size=3) -> (direct, reduced)
# ==========================================================================

# The notebook's own formula, k²·C_in·C_out and C_in·C_mid + k²·C_mid·C_out.
bottleneck_params_formula = solution("03_classic_architectures", "bottleneck_params")


def bottleneck_params_meta_modules(c_in, c_mid, c_out, kernel_size=3):
    """Build both paths as bias-free modules on the meta device and count."""
    def count(module):
        return sum(p.numel() for p in module.parameters())
    with torch.device("meta"):
        direct = nn.Conv2d(c_in, c_out, kernel_size, bias=False)
        reduced = nn.Sequential(nn.Conv2d(c_in, c_mid, 1, bias=False), nn.ReLU(),
                                nn.Conv2d(c_mid, c_out, kernel_size, bias=False))
    return count(direct), count(reduced)


def bottleneck_params_weight_shapes(c_in, c_mid, c_out, kernel_size=3):
    """Products of the weight shapes (C_out, C_in, kh, kw)."""
    shapes = {"direct": [(c_out, c_in, kernel_size, kernel_size)],
              "reduced": [(c_mid, c_in, 1, 1), (c_out, c_mid, kernel_size, kernel_size)]}
    return tuple(sum(math.prod(s) for s in shapes[key]) for key in ("direct", "reduced"))


def bottleneck_params_no_reduction(c_in, c_mid, c_out, kernel_size=3):
    # the reduced path without its 1×1 convolution
    k2 = kernel_size * kernel_size
    return k2 * c_in * c_out, k2 * c_mid * c_out


def bottleneck_params_1x1_as_c_mid(c_in, c_mid, c_out, kernel_size=3):
    # "a 1×1 conv has one weight per output channel"
    k2 = kernel_size * kernel_size
    return k2 * c_in * c_out, c_mid + k2 * c_mid * c_out


def bottleneck_params_with_biases(c_in, c_mid, c_out, kernel_size=3):
    # biases added although the exercise counts weights only
    k2 = kernel_size * kernel_size
    return k2 * c_in * c_out + c_out, c_in * c_mid + c_mid + k2 * c_mid * c_out + c_out


def bottleneck_params_swapped(c_in, c_mid, c_out, kernel_size=3):
    # (reduced, direct): the pair in the wrong order
    return bottleneck_params_formula(c_in, c_mid, c_out, kernel_size)[::-1]


def bottleneck_params_k_not_k_squared(c_in, c_mid, c_out, kernel_size=3):
    # k instead of k·k
    return kernel_size * c_in * c_out, c_in * c_mid + kernel_size * c_mid * c_out


def bottleneck_params_1x1_to_c_out(c_in, c_mid, c_out, kernel_size=3):
    # the 1×1 reduction counted as C_in·C_out
    k2 = kernel_size * kernel_size
    return k2 * c_in * c_out, c_in * c_out + k2 * c_mid * c_out


def bottleneck_params_saving_only(c_in, c_mid, c_out, kernel_size=3):
    # returns the fraction kept, not the two counts
    direct, reduced = bottleneck_params_formula(c_in, c_mid, c_out, kernel_size)
    return reduced / direct


# ==========================================================================
# make_inception(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)
# ==========================================================================

# The notebook's own module (four nn.Sequential branches, torch.cat along dim 1), taken from its source.
InceptionSequential = instructor_object("03_classic_architectures", "Inception")


def inception_sequential(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
    return InceptionSequential(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)


class InceptionPoolFirst(InceptionSequential):
    """Correct: computes the pool branch first, concatenates in the paper's order."""

    def forward(self, x):
        pooled = self.branch_pool(x)
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), pooled], dim=1)


def inception_computes_pool_branch_first(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
    return InceptionPoolFirst(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)


class InceptionExplicit(nn.Module):
    """Six named convolutions; ReLU and max pooling written out in forward."""

    def __init__(self, in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        super().__init__()
        self.p1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_reduce = nn.Conv2d(in_channels, c3_reduce, kernel_size=1)
        self.p2 = nn.Conv2d(c3_reduce, c3, kernel_size=3, padding=1)
        self.p3_reduce = nn.Conv2d(in_channels, c5_reduce, kernel_size=1)
        self.p3 = nn.Conv2d(c5_reduce, c5, kernel_size=5, padding=2)
        self.p4 = nn.Conv2d(in_channels, pool_proj, kernel_size=1)

    def forward(self, x):
        y1 = F.relu(self.p1(x))
        y2 = F.relu(self.p2(F.relu(self.p2_reduce(x))))
        y3 = F.relu(self.p3(F.relu(self.p3_reduce(x))))
        y4 = F.relu(self.p4(F.max_pool2d(x, 3, stride=1, padding=1)))
        return torch.cat((y1, y2, y3, y4), 1)


def inception_explicit(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
    return InceptionExplicit(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)


class InceptionDict(nn.Module):
    """A ModuleDict of branches built from a table, padding="same", one ReLU after the concatenation."""

    def __init__(self, in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        super().__init__()

        def reduce_then(mid, out, k):
            return nn.Sequential(nn.Conv2d(in_channels, mid, 1), nn.ReLU(), nn.Conv2d(mid, out, k, padding="same"))
        self.branches = nn.ModuleDict({
            "1x1": nn.Conv2d(in_channels, c1, 1),
            "3x3": reduce_then(c3_reduce, c3, 3),
            "5x5": reduce_then(c5_reduce, c5, 5),
            "pool": nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(in_channels, pool_proj, 1)),
        })

    def forward(self, x):
        # a ReLU after the concatenation is a ReLU at the end of each branch
        return torch.relu(torch.cat([branch(x) for branch in self.branches.values()], dim=1))


def inception_dict(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
    return InceptionDict(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)


class InceptionKnobs(nn.Module):
    """The learner's inception module with its knobs: each mistake below turns one of them."""

    def __init__(self, in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj, *, order=(0, 1, 2, 3),
                 big_kernel=5, big_padding=2, pool_stride=1, pool_padding=1, pool_relu=True, inner_relu=True,
                 bias=True, cat_dim=1, project_pool=True, drop_branch=None, relu_input_in_place=False):
        super().__init__()
        act = [nn.ReLU()] if inner_relu else []
        self.branch1 = nn.Sequential(nn.Conv2d(in_channels, c1, 1, bias=bias), nn.ReLU())
        self.branch3 = nn.Sequential(nn.Conv2d(in_channels, c3_reduce, 1, bias=bias), *act,
                                     nn.Conv2d(c3_reduce, c3, 3, padding=1, bias=bias), nn.ReLU())
        self.branch5 = nn.Sequential(nn.Conv2d(in_channels, c5_reduce, 1, bias=bias), *act,
                                     nn.Conv2d(c5_reduce, c5, big_kernel, padding=big_padding, bias=bias),
                                     nn.ReLU())
        projection = [nn.Conv2d(in_channels, pool_proj, 1, bias=bias)] + ([nn.ReLU()] if pool_relu else [])
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=pool_stride, padding=pool_padding),
                                         *(projection if project_pool else []))
        self.order, self.cat_dim, self.drop_branch = order, cat_dim, drop_branch
        self.relu_input_in_place = relu_input_in_place

    def forward(self, x):
        if self.relu_input_in_place:
            x = F.relu(x, inplace=True)
        outputs = [self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)]
        chosen = [outputs[i] for i in self.order if i != self.drop_branch]
        return torch.cat(chosen, dim=self.cat_dim)


def inception_3x3_first(*args):
    # torch.cat([3×3, 1×1, 5×5, pool])
    return InceptionKnobs(*args, order=(1, 0, 2, 3))


def inception_pool_first(*args):
    # torch.cat([pool, 1×1, 3×3, 5×5])
    return InceptionKnobs(*args, order=(3, 0, 1, 2))


def inception_5x5_before_3x3(*args):
    # torch.cat([1×1, 5×5, 3×3, pool])
    return InceptionKnobs(*args, order=(0, 2, 1, 3))


def inception_pool_branch_without_relu(*args):
    # the pool projection has no ReLU
    return InceptionKnobs(*args, pool_relu=False)


def inception_no_relu_after_reductions(*args):
    # no ReLU between the 1×1 reductions and the 3×3 / 5×5 convolutions
    return InceptionKnobs(*args, inner_relu=False)


def inception_5x5_padding_1(*args):
    # the 5×5 convolution with the 3×3's padding=1
    return InceptionKnobs(*args, big_padding=1)


def inception_pool_stride_2(*args):
    # MaxPool2d(3, stride=2, padding=1): stride defaults to the kernel size, and here it is set to 2
    return InceptionKnobs(*args, pool_stride=2)


def inception_pool_without_padding(*args):
    # MaxPool2d(3, stride=1) without padding=1
    return InceptionKnobs(*args, pool_padding=0)


def inception_cat_dim_0(*args):
    # torch.cat(..., dim=0): along the batch
    return InceptionKnobs(*args, cat_dim=0)


def inception_3x3_instead_of_5x5(*args):
    # torchvision's GoogLeNet: a 3×3 where the paper has 5×5
    return InceptionKnobs(*args, big_kernel=3, big_padding=1)


def inception_without_bias(*args):
    # bias=False everywhere
    return InceptionKnobs(*args, bias=False)


def inception_forgets_pool_projection(*args):
    # the pool branch without its 1×1 projection: in_channels instead of pool_proj channels
    return InceptionKnobs(*args, project_pool=False)


def inception_drops_5x5_branch(*args):
    # only three branches concatenated
    return InceptionKnobs(*args, drop_branch=2)


def inception_relu_on_input_in_place(*args):
    # F.relu(x, inplace=True) on the module's input
    return InceptionKnobs(*args, relu_input_in_place=True)


# ==========================================================================
# make_mini_googlenet(num_classes=10): auxiliary heads in training only
# ==========================================================================

# The notebook's network: its given layers (conv blocks block1..3, auxiliary heads aux1 / aux2) and the
# solution's forward (heads computed under `if self.training`), taken from its source.  The learners below
# subclass it and write their own forward.
AuxHead = instructor_object("03_classic_architectures", "AuxHead")
conv_block = instructor_object("03_classic_architectures", "conv_block")
MiniGoogLeNetBase = MiniGoogLeNetIfTraining = instructor_object("03_classic_architectures", "MiniGoogLeNet")


class MiniGoogLeNetEarlyReturn(MiniGoogLeNetBase):
    """Returns early in eval; the training path written separately."""

    def forward(self, x):
        h1 = self.block1(self.stem(x))
        h2 = self.block2(h1)
        logits = self.head(self.block3(h2))
        if not self.training:
            return logits
        return logits, self.aux1(h1), self.aux2(h2)


class InceptionBlocksGoogLeNet(nn.Module):
    """Real inception blocks (the learner's own module), heads in a list of (name, input) pairs."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block1 = InceptionSequential(32, 16, 16, 24, 4, 8, 8)
        self.block2 = InceptionSequential(56, 24, 24, 32, 8, 16, 16)
        self.block3 = InceptionSequential(88, 32, 32, 48, 8, 24, 24)
        self.aux1 = AuxHead(56, num_classes)
        self.aux2 = AuxHead(88, num_classes)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, num_classes))

    def forward(self, x):
        features = []
        for block in (self.block1, self.block2, self.block3):
            x = block(x if features else self.stem(x))
            features.append(x)
        logits = self.head(features[-1])
        if self.training:
            return (logits, *(head(f) for head, f in zip((self.aux1, self.aux2), features)))
        return logits


class HeadsFirstGoogLeNet(MiniGoogLeNetEarlyReturn):
    """Correct forward; __init__ declares the auxiliary heads before the stem."""

    def __init__(self, num_classes=10):
        nn.Module.__init__(self)
        self.aux1 = AuxHead(56, num_classes)
        self.aux2 = AuxHead(88, num_classes)
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.block1 = conv_block(32, 56)
        self.block2 = conv_block(56, 88)
        self.block3 = conv_block(88, 128)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, num_classes))


def mini_googlenet_if_training(num_classes=10):
    return MiniGoogLeNetIfTraining(num_classes)


def mini_googlenet_early_return(num_classes=10):
    return MiniGoogLeNetEarlyReturn(num_classes)


def mini_googlenet_inception_blocks(num_classes=10):
    return InceptionBlocksGoogLeNet(num_classes)


def mini_googlenet_heads_declared_first(num_classes=10):
    return HeadsFirstGoogLeNet(num_classes)


class SelfTrainTypo(MiniGoogLeNetBase):
    def forward(self, x):
        x = self.block1(self.stem(x))
        aux1 = self.aux1(x)
        x = self.block2(x)
        aux2 = self.aux2(x)
        logits = self.head(self.block3(x))
        if self.train:  # the bound method, always true: self.training was meant
            return logits, aux1, aux2
        return logits


class AlwaysRunsHeads(MiniGoogLeNetBase):
    def forward(self, x):
        x = self.block1(self.stem(x))
        aux1 = self.aux1(x)  # computed in both modes
        x = self.block2(x)
        aux2 = self.aux2(x)
        logits = self.head(self.block3(x))
        return (logits, aux1, aux2) if self.training else logits


class DetachedHeads(MiniGoogLeNetBase):
    def forward(self, x):
        x = self.block1(self.stem(x))
        aux1 = self.aux1(x.detach()) if self.training else None  # "the heads must not disturb the trunk"
        x = self.block2(x)
        aux2 = self.aux2(x.detach()) if self.training else None
        logits = self.head(self.block3(x))
        return (logits, aux1, aux2) if self.training else logits


class SecondHeadNoGrad(MiniGoogLeNetBase):
    def forward(self, x):
        x = self.block1(self.stem(x))
        aux1 = self.aux1(x) if self.training else None
        x = self.block2(x)
        with torch.no_grad():  # the second head computed without autograd
            aux2 = self.aux2(x) if self.training else None
        logits = self.head(self.block3(x))
        return (logits, aux1, aux2) if self.training else logits


class LogitsOnly(MiniGoogLeNetBase):
    def forward(self, x):
        # never returns the auxiliary outputs
        return self.head(self.block3(self.block2(self.block1(self.stem(x)))))


class ListOfTwo(MiniGoogLeNetBase):
    def forward(self, x):
        x = self.block1(self.stem(x))
        aux1 = self.aux1(x) if self.training else None
        logits = self.head(self.block3(self.block2(x)))
        return [logits, aux1] if self.training else logits  # forgot aux2


class HeadsFirstInTuple(MiniGoogLeNetBase):
    def forward(self, x):
        h1 = self.block1(self.stem(x))
        h2 = self.block2(h1)
        logits = self.head(self.block3(h2))
        if self.training:
            return self.aux1(h1), self.aux2(h2), logits  # in the order they were computed
        return logits


class HeadOnWrongBlock(MiniGoogLeNetBase):
    def forward(self, x):
        x = self.block1(self.stem(x))
        x = self.block2(x)
        aux1 = self.aux1(x) if self.training else None  # aux1 after block2: 88 channels, it expects 56
        aux2 = self.aux2(x) if self.training else None
        logits = self.head(self.block3(x))
        return (logits, aux1, aux2) if self.training else logits


def mini_googlenet_self_train_typo(num_classes=10):
    return SelfTrainTypo(num_classes)


def mini_googlenet_always_runs_heads(num_classes=10):
    return AlwaysRunsHeads(num_classes)


def mini_googlenet_detached_heads(num_classes=10):
    return DetachedHeads(num_classes)


def mini_googlenet_second_head_no_grad(num_classes=10):
    return SecondHeadNoGrad(num_classes)


def mini_googlenet_logits_only(num_classes=10):
    return LogitsOnly(num_classes)


def mini_googlenet_list_of_two(num_classes=10):
    return ListOfTwo(num_classes)


def mini_googlenet_heads_first_in_tuple(num_classes=10):
    return HeadsFirstInTuple(num_classes)


def mini_googlenet_head_on_wrong_block(num_classes=10):
    return HeadOnWrongBlock(num_classes)
