"""Learner implementations for the tests of notebook 05's checks (DenseNet, SENet, EfficientNet, deformable
convolution).

Written the way a learner would write them: several correct styles per
exercise, then one small function per plausible mistake, each differing from
a correct one in the one place its comment names.  Nothing here types an
expected number; the tests compute those.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from checks.instructor import instructor_object

# ==========================================================================
# make_dense_layer(in_channels, growth_rate, bn_size=4)
# ==========================================================================


# The notebook's own layer (named modules as in torchvision, functional ReLUs), taken from its source rather than
# copied here.
DenseLayer = instructor_object("05_densenet_and_beyond", "DenseLayer")


def dense_layer_class(in_channels, growth_rate, bn_size=4):
    return DenseLayer(in_channels, growth_rate, bn_size)


def dense_layer_sequential(in_channels, growth_rate, bn_size=4):
    """One nn.Sequential with in-place ReLUs."""
    width = bn_size * growth_rate
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
                         nn.Conv2d(in_channels, width, 1, bias=False),
                         nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                         nn.Conv2d(width, growth_rate, 3, padding="same", bias=False))


class DenseLayerConvsFirst(nn.Module):
    """Convolutions registered before the norms (the registration order differs from the running order)."""

    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=False),
                                    nn.Conv2d(bn_size * growth_rate, growth_rate, 3, 1, 1, bias=False)])
        self.norms = nn.ModuleList([nn.BatchNorm2d(in_channels), nn.BatchNorm2d(bn_size * growth_rate)])

    def forward(self, x):
        for norm, conv in zip(self.norms, self.convs):
            x = conv(torch.relu(norm(x)))
        return x


def dense_layer_convs_first(in_channels, growth_rate, bn_size=4):
    return DenseLayerConvsFirst(in_channels, growth_rate, bn_size)


class DenseLayerKnobs(nn.Module):
    """The learner's dense layer with its knobs: each mistake below turns one of them."""

    def __init__(self, in_channels, growth_rate, bn_size=4, *, bottleneck=True, width=None, bias=False,
                 order="pre", relus=(True, True), padding=1, concat=False):
        super().__init__()
        width = bn_size * growth_rate if width is None else width
        self.order, self.relus, self.concat, self.bottleneck = order, relus, concat, bottleneck
        if bottleneck:
            self.norm1 = nn.BatchNorm2d(in_channels if order != "post" else width)
            self.conv1 = nn.Conv2d(in_channels, width, 1, bias=bias)
            mid = width
        else:
            mid = in_channels
        self.norm2 = nn.BatchNorm2d(mid if order != "post" else growth_rate)
        self.conv2 = nn.Conv2d(mid, growth_rate, 3, padding=padding, bias=bias)

    def unit(self, norm, conv, relu, x):
        if self.order == "post":               # conv → BN → ReLU
            x = norm(conv(x))
            return F.relu(x) if relu else x
        if self.order == "relu_first":         # ReLU → BN → conv
            return conv(norm(F.relu(x)))
        return conv(F.relu(norm(x)) if relu else norm(x))

    def forward(self, x):
        out = x
        if self.bottleneck:
            out = self.unit(self.norm1, self.conv1, self.relus[0], out)
        out = self.unit(self.norm2, self.conv2, self.relus[1], out)
        return torch.cat([x, out], 1) if self.concat else out


def dense_layer_no_bottleneck(in_channels, growth_rate, bn_size=4):
    # DenseNet without the "B": one BN-ReLU-3×3 conv
    return DenseLayerKnobs(in_channels, growth_rate, bn_size, bottleneck=False)


def dense_layer_post_activation(in_channels, growth_rate, bn_size=4):
    # conv → BN → ReLU (ResNet's order) instead of BN → ReLU → conv
    return DenseLayerKnobs(in_channels, growth_rate, bn_size, order="post")


def dense_layer_relu_before_bn(in_channels, growth_rate, bn_size=4):
    # ReLU → BN → conv
    return DenseLayerKnobs(in_channels, growth_rate, bn_size, order="relu_first")


def dense_layer_no_relus(in_channels, growth_rate, bn_size=4):
    # BN → conv, twice: the ReLUs forgotten
    return DenseLayerKnobs(in_channels, growth_rate, bn_size, relus=(False, False))


def dense_layer_second_relu_missing(in_channels, growth_rate, bn_size=4):
    # the ReLU after the second batch norm forgotten
    return DenseLayerKnobs(in_channels, growth_rate, bn_size, relus=(True, False))


def dense_layer_with_bias(in_channels, growth_rate, bn_size=4):
    # bias=True in the convolutions (the default of nn.Conv2d)
    return DenseLayerKnobs(in_channels, growth_rate, bn_size, bias=True)


def dense_layer_bottleneck_k(in_channels, growth_rate, bn_size=4):
    # the bottleneck to growth_rate channels instead of bn_size·growth_rate
    return DenseLayerKnobs(in_channels, growth_rate, bn_size, width=growth_rate)


def dense_layer_no_padding(in_channels, growth_rate, bn_size=4):
    # the 3×3 conv without padding
    return DenseLayerKnobs(in_channels, growth_rate, bn_size, padding=0)


def dense_layer_returns_concat(in_channels, growth_rate, bn_size=4):
    # returns torch.cat([x, new]) although the block concatenates
    return DenseLayerKnobs(in_channels, growth_rate, bn_size, concat=True)


def dense_layer_forgets_return(in_channels, growth_rate, bn_size=4):
    layer = DenseLayer(in_channels, growth_rate, bn_size)  # noqa: F841 - and then no return


# ==========================================================================
# make_dense_block(num_layers, in_channels, growth_rate, make_layer)
# ==========================================================================

# The notebook's own block (a ModuleList of layers; a list of features, concatenated before every layer).
DenseBlock = instructor_object("05_densenet_and_beyond", "DenseBlock")


def dense_block_list(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    return DenseBlock(num_layers, in_channels, growth_rate, make_layer)


class DenseBlockGrowing(nn.Module):
    """Keeps one growing tensor and a running channel count; layers in an nn.Sequential."""

    def __init__(self, num_layers, in_channels, growth_rate, make_layer):
        super().__init__()
        layers, channels = [], in_channels
        for _ in range(num_layers):
            layers.append(make_layer(channels, growth_rate))
            channels += growth_rate
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        for layer in self.layers:
            x = torch.cat((x, layer(x)), 1)
        return x


def dense_block_growing(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    return DenseBlockGrowing(num_layers, in_channels, growth_rate, make_layer)


class DenseBlockDict(nn.ModuleDict):
    """torchvision's style: a ModuleDict of named layers."""

    def __init__(self, num_layers, in_channels, growth_rate, make_layer):
        super().__init__({f"denselayer{i + 1}": make_layer(in_channels + i * growth_rate, growth_rate)
                          for i in range(num_layers)})

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


def dense_block_dict(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    return DenseBlockDict(num_layers, in_channels, growth_rate, make_layer)


class DenseBlockKnobs(nn.Module):
    """The learner's dense block with its knobs: each mistake below turns one of them."""

    def __init__(self, num_layers, in_channels, growth_rate, make_layer, *, inputs="dense", count=None,
                 register=True, output="all", order="forward"):
        super().__init__()
        count = num_layers if count is None else count
        widths = {"dense": [in_channels + i * growth_rate for i in range(count)],
                  "same": [in_channels] * count,
                  "chain": [in_channels] + [growth_rate] * (count - 1),
                  "geometric": [in_channels * 2 ** i for i in range(count)]}[inputs]
        layers = [make_layer(c, growth_rate) for c in widths]
        self.layers = nn.ModuleList(layers) if register else layers
        self.output, self.order, self.inputs = output, order, inputs

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            stacked = features[::-1] if self.order == "newest_first" else features
            if self.inputs == "same":
                new = layer(x)
            elif self.inputs == "chain":
                new = layer(features[-1])
            else:
                new = layer(torch.cat(stacked, 1))
            features.append(new)
        if self.output == "last":
            return features[-1]
        if self.output == "new_only":
            return torch.cat(features[1:], 1)
        if self.output == "reversed":
            return torch.cat(features[::-1], 1)
        return torch.cat(features, 1)


def dense_block_same_input(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    # every layer reads the block's input only
    return DenseBlockKnobs(num_layers, in_channels, growth_rate, make_layer, inputs="same")


def dense_block_chain(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    # each layer reads only the previous layer's output
    return DenseBlockKnobs(num_layers, in_channels, growth_rate, make_layer, inputs="chain")


def dense_block_geometric(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    # the notes' "geometric" growth: the in_channels double from layer to layer
    return DenseBlockKnobs(num_layers, in_channels, growth_rate, make_layer, inputs="geometric")


def dense_block_one_layer_short(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    # range(num_layers - 1)
    return DenseBlockKnobs(num_layers, in_channels, growth_rate, make_layer, count=num_layers - 1)


def dense_block_python_list(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    # the layers in a plain Python list: invisible to .parameters()
    return DenseBlockKnobs(num_layers, in_channels, growth_rate, make_layer, register=False)


def dense_block_last_only(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    # returns the last layer's maps only
    return DenseBlockKnobs(num_layers, in_channels, growth_rate, make_layer, output="last")


def dense_block_without_input(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    # concatenates the new maps but drops the block's input
    return DenseBlockKnobs(num_layers, in_channels, growth_rate, make_layer, output="new_only")


def dense_block_reversed_output(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    # the final concatenation newest first
    return DenseBlockKnobs(num_layers, in_channels, growth_rate, make_layer, output="reversed")


def dense_block_newest_first_inputs(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    # each layer reads the maps newest first
    return DenseBlockKnobs(num_layers, in_channels, growth_rate, make_layer, order="newest_first")


def dense_block_passes_a_list(num_layers, in_channels, growth_rate, make_layer=dense_layer_class):
    # hands each layer the list of maps (torchvision's internal convention), not one tensor
    class PassesList(DenseBlock):
        def forward(self, x):
            features = [x]
            for layer in self.layers:
                features.append(layer(features))
            return torch.cat(features, 1)
    return PassesList(num_layers, in_channels, growth_rate, make_layer)


# ==========================================================================
# make_transition(in_channels, out_channels)
# ==========================================================================

def transition_sequential(in_channels, out_channels):
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
                         nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
                         nn.AvgPool2d(kernel_size=2, stride=2))


class TransitionPoolFirst(nn.Module):
    """Pools before the 1×1 convolution: both are linear, so they commute (and pooling first is 4× cheaper)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        return self.conv(F.avg_pool2d(F.relu(self.norm(x)), 2))


def transition_pool_first(in_channels, out_channels):
    return TransitionPoolFirst(in_channels, out_channels)


def transition_ordered_dict(in_channels, out_channels):
    return nn.Sequential(OrderedDict(norm=nn.BatchNorm2d(in_channels), relu=nn.ReLU(),
                                     conv=nn.Conv2d(in_channels, out_channels, (1, 1), bias=False),
                                     pool=nn.AvgPool2d(2)))


def _transition(in_channels, out_channels, *, pool=None, relu=True, norm=True, kernel=1, bias=False,
                relu_after_conv=False, stride=1):
    layers = [nn.BatchNorm2d(in_channels)] if norm else []
    if relu and not relu_after_conv:
        layers.append(nn.ReLU())
    layers.append(nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=bias))
    if relu_after_conv:
        layers.append(nn.ReLU())
    if pool is not None:
        layers.append(pool)
    return nn.Sequential(*layers)


def transition_max_pool(in_channels, out_channels):
    # 2×2 max pooling instead of average pooling
    return _transition(in_channels, out_channels, pool=nn.MaxPool2d(2, 2))


def transition_no_relu(in_channels, out_channels):
    # the notes' BN → 1×1 conv → pool, without the ReLU
    return _transition(in_channels, out_channels, pool=nn.AvgPool2d(2, 2), relu=False)


def transition_relu_after_conv(in_channels, out_channels):
    # BN → conv → ReLU → pool
    return _transition(in_channels, out_channels, pool=nn.AvgPool2d(2, 2), relu_after_conv=True)


def transition_no_norm(in_channels, out_channels):
    # ReLU → 1×1 conv → pool, no batch norm
    return _transition(in_channels, out_channels, pool=nn.AvgPool2d(2, 2), norm=False)


def transition_3x3(in_channels, out_channels):
    # a 3×3 conv (padding 1) instead of the 1×1
    return _transition(in_channels, out_channels, pool=nn.AvgPool2d(2, 2), kernel=3)


def transition_with_bias(in_channels, out_channels):
    # nn.Conv2d's default bias=True
    return _transition(in_channels, out_channels, pool=nn.AvgPool2d(2, 2), bias=True)


def transition_no_pool(in_channels, out_channels):
    # forgets the pooling
    return _transition(in_channels, out_channels)


def transition_ceil_mode(in_channels, out_channels):
    # ceil_mode=True keeps an odd last row/column
    return _transition(in_channels, out_channels, pool=nn.AvgPool2d(2, 2, ceil_mode=True))


def transition_adaptive_pool(in_channels, out_channels):
    # an adaptive average pool to half the size
    class Half(nn.Module):
        def forward(self, x):
            return F.adaptive_avg_pool2d(x, (x.shape[2] // 2, x.shape[3] // 2))
    return _transition(in_channels, out_channels, pool=Half())


def transition_strided_conv(in_channels, out_channels):
    # a 1×1 conv with stride 2 instead of pooling (wrong on odd sizes: one pixel too many)
    return _transition(in_channels, out_channels, stride=2)


# ==========================================================================
# densenet_channels(in_channels, num_layers, growth_rate)
# ==========================================================================

def densenet_channels_formula(in_channels, num_layers, growth_rate):
    """c0 + L·k."""
    return in_channels + num_layers * growth_rate


def densenet_channels_loop(in_channels, num_layers, growth_rate):
    """Count layer by layer."""
    channels = in_channels
    for _ in range(num_layers):
        channels += growth_rate
    return channels


def densenet_channels_list(in_channels, num_layers, growth_rate):
    """The widths of the concatenated pieces, summed."""
    return sum([in_channels] + [growth_rate] * num_layers)


def densenet_channels_geometric(in_channels, num_layers, growth_rate):
    # the notes' "geometric" growth: doubling per layer
    return in_channels * 2 ** num_layers


def densenet_channels_no_input(in_channels, num_layers, growth_rate):
    # forgets the block's input
    return num_layers * growth_rate


def densenet_channels_one_layer(in_channels, num_layers, growth_rate):
    # one layer's growth only
    return in_channels + growth_rate


def densenet_channels_off_by_one(in_channels, num_layers, growth_rate):
    # L − 1 layers
    return in_channels + (num_layers - 1) * growth_rate


def densenet_channels_product(in_channels, num_layers, growth_rate):
    # a product instead of a sum
    return in_channels * num_layers * growth_rate


def densenet_channels_float(in_channels, num_layers, growth_rate):
    # a float (e.g. from math.fsum)
    return math.fsum([in_channels, num_layers * growth_rate])


# ==========================================================================
# make_densenet(growth_rate, block_config, num_init_features, num_classes, make_block, make_transition)
# ==========================================================================

def _course_block(num_layers, in_channels, growth_rate):
    return DenseBlock(num_layers, in_channels, growth_rate, dense_layer_class)


# The notebook's own network (torchvision's layout: features with stem, blocks, transitions and norm5, then the
# classifier).  Without factories it builds with the notebook's own make_dense_block and make_transition.
DenseNet = instructor_object("05_densenet_and_beyond", "DenseNet")


def densenet_class(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, num_classes=1000,
                   make_block=_course_block, make_transition=transition_sequential):
    return DenseNet(growth_rate, block_config, num_init_features, num_classes, make_block, make_transition)


def densenet_sequential(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, num_classes=1000,
                        make_block=_course_block, make_transition=transition_sequential):
    """One flat nn.Sequential, a channel list computed first."""
    ins = [num_init_features]
    for n in block_config[:-1]:
        ins.append((ins[-1] + n * growth_rate) // 2)
    out = ins[-1] + block_config[-1] * growth_rate
    body = []
    for i, (n, c) in enumerate(zip(block_config, ins)):
        body.append(make_block(n, c, growth_rate))
        if i + 1 < len(block_config):
            body.append(make_transition(c + n * growth_rate, ins[i + 1]))
    return nn.Sequential(nn.Conv2d(3, num_init_features, (7, 7), (2, 2), (3, 3), bias=False),
                         nn.BatchNorm2d(num_init_features), nn.ReLU(), nn.MaxPool2d(3, 2, 1), *body,
                         nn.BatchNorm2d(out), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(out, num_classes))


class DenseNetKnobs(nn.Module):
    """The learner's DenseNet with its knobs: each mistake below turns one of them."""

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, num_classes=1000,
                 make_block=_course_block, make_transition=transition_sequential, *, compression=True,
                 last_transition=False, final_norm=True, final_relu=True, stem_pool=True, stem_bias=False,
                 stem_pool_kind="max", head_classes=None):
        super().__init__()
        stem = [nn.Conv2d(3, num_init_features, 7, 2, 3, bias=stem_bias), nn.BatchNorm2d(num_init_features),
                nn.ReLU(inplace=True)]
        if stem_pool:
            stem.append(nn.MaxPool2d(3, 2, 1) if stem_pool_kind == "max" else nn.AvgPool2d(3, 2, 1))
        blocks, c = [], num_init_features
        for i, n in enumerate(block_config):
            blocks.append(make_block(n, c, growth_rate))
            c += n * growth_rate
            if i < len(block_config) - 1 or last_transition:
                out = c // 2 if compression else c
                blocks.append(make_transition(c, out))
                c = out
        self.features = nn.Sequential(*stem, *blocks, *([nn.BatchNorm2d(c)] if final_norm else []))
        self.final_relu = final_relu
        self.classifier = nn.Linear(c, num_classes if head_classes is None else head_classes)

    def forward(self, x):
        x = self.features(x)
        x = F.relu(x) if self.final_relu else x
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


def _knobs(**knobs):
    def make(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, num_classes=1000,
             make_block=_course_block, make_transition=transition_sequential):
        return DenseNetKnobs(growth_rate, block_config, num_init_features, num_classes, make_block,
                             make_transition, **knobs)
    return make


densenet_no_compression = _knobs(compression=False)      # transitions keep the channel count
densenet_no_compression.__doc__ = "transitions keep the channel count"
densenet_last_transition = _knobs(last_transition=True)  # a transition after the last block too
densenet_no_final_norm = _knobs(final_norm=False)        # no BatchNorm2d after the last block
densenet_no_final_relu = _knobs(final_relu=False)        # no ReLU before the global pool
densenet_no_stem_pool = _knobs(stem_pool=False)          # the stem's max pool forgotten
densenet_stem_bias = _knobs(stem_bias=True)              # nn.Conv2d's default bias=True in the stem
densenet_stem_avg_pool = _knobs(stem_pool_kind="avg")    # an average pool in the stem
densenet_ignores_num_classes = _knobs(head_classes=1000)  # the classifier always has 1000 outputs


def densenet_ignores_factories(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
                               num_classes=1000, make_block=_course_block, make_transition=transition_sequential):
    # builds its blocks with its own functions, ignoring the arguments
    return DenseNet(growth_rate, block_config, num_init_features, num_classes)


def densenet_stale_channels(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, num_classes=1000,
                            make_block=_course_block, make_transition=transition_sequential):
    # every block built for num_init_features channels: the running count never updated
    blocks = []
    for i, n in enumerate(block_config):
        blocks.append(make_block(n, num_init_features, growth_rate))
        if i < len(block_config) - 1:
            c = num_init_features + n * growth_rate
            blocks.append(make_transition(c, c // 2))
    return nn.Sequential(*blocks)


def densenet_forgets_return(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, num_classes=1000,
                            make_block=_course_block, make_transition=transition_sequential):
    model = DenseNet(growth_rate, block_config, num_init_features, num_classes)  # noqa: F841


# ==========================================================================
# make_se_block(channels, reduction=16)
# ==========================================================================

# The notebook's own SE block (nn.Linear layers, as in the paper's figure).
SEBlock = instructor_object("05_densenet_and_beyond", "SEBlock")


def se_block_linear(channels, reduction=16):
    return SEBlock(channels, reduction)


class SEBlockConv(nn.Module):
    """1×1 convolutions on the pooled map, modules for every step."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.excite = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels // reduction, 1),
                                    nn.ReLU(inplace=True), nn.Conv2d(channels // reduction, channels, 1),
                                    nn.Sigmoid())

    def forward(self, x):
        return x * self.excite(x)


def se_block_conv(channels, reduction=16):
    return SEBlockConv(channels, reduction)


class SEBlockNoBias(nn.Module):
    """Bias-free dense layers (the paper's W1, W2) and einsum."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.w1 = nn.Linear(channels, channels // reduction, bias=False)
        self.w2 = nn.Linear(channels // reduction, channels, bias=False)

    def forward(self, x):
        s = self.w2(self.w1(F.adaptive_avg_pool2d(x, 1).flatten(1)).relu()).sigmoid()
        return torch.einsum("nchw,nc->nchw", x, s)


def se_block_no_bias(channels, reduction=16):
    return SEBlockNoBias(channels, reduction)


class SEBlockKnobs(nn.Module):
    """The learner's SE block with its knobs: each mistake below turns one of them."""

    def __init__(self, channels, reduction=16, *, squeeze=None, gate="sigmoid", pool="mean", relu=True,
                 output="mul", in_place=False, one_layer=False):
        super().__init__()
        mid = channels // reduction if squeeze is None else squeeze
        self.fc1 = nn.Linear(channels, channels if one_layer else mid)
        self.fc2 = None if one_layer else nn.Linear(mid, channels)
        self.gate, self.pool, self.relu, self.output, self.in_place = gate, pool, relu, output, in_place

    def forward(self, x):
        z = {"mean": x.mean(dim=(2, 3)), "max": x.amax(dim=(2, 3))}[self.pool]
        a = self.fc1(z)
        if self.fc2 is not None:
            a = self.fc2(F.relu(a) if self.relu else a)
        s = {"sigmoid": torch.sigmoid, "softmax": lambda t: torch.softmax(t, 1), "none": lambda t: t}[self.gate](a)
        s = s[:, :, None, None]
        if self.output == "scale":
            return s
        if self.output == "add":
            return x + s
        if self.in_place:
            x *= s
            return x
        return x * s


def _se(**knobs):
    def make(channels, reduction=16):
        return SEBlockKnobs(channels, reduction, **knobs)
    return make


se_block_no_sigmoid = _se(gate="none")        # the excitation's sigmoid forgotten
se_block_softmax = _se(gate="softmax")        # softmax over channels instead of sigmoid
se_block_max_squeeze = _se(pool="max")        # global max pooling as the squeeze
se_block_no_inner_relu = _se(relu=False)      # no ReLU between the two dense layers
se_block_returns_scale = _se(output="scale")  # returns the weights s, not x·s
se_block_adds = _se(output="add")             # x + s instead of x·s
se_block_in_place = _se(in_place=True)        # x *= s: rescales the caller's tensor
se_block_no_reduction = _se(squeeze=None, one_layer=True)  # one dense layer C → C


def se_block_reduction_times(channels, reduction=16):
    # squeezes to C·r... capped: C // r mistaken for C (no bottleneck)
    return SEBlockKnobs(channels, reduction, squeeze=channels)


# ==========================================================================
# compound_scaling(phi, alpha=1.2, beta=1.1, gamma=1.15)
# ==========================================================================

def compound_scaling_formula(phi, alpha=1.2, beta=1.1, gamma=1.15):
    """α^φ, β^φ, γ^φ and (α·β²·γ²)^φ."""
    return alpha ** phi, beta ** phi, gamma ** phi, (alpha * beta ** 2 * gamma ** 2) ** phi


def compound_scaling_exp_log(phi, alpha=1.2, beta=1.1, gamma=1.15):
    """Through logarithms, the FLOPs as the product of the parts."""
    depth, width, resolution = (math.exp(phi * math.log(c)) for c in (alpha, beta, gamma))
    return depth, width, resolution, depth * width ** 2 * resolution ** 2


def compound_scaling_torch(phi, alpha=1.2, beta=1.1, gamma=1.15):
    """With a float64 tensor, returned as Python floats."""
    base = torch.tensor([alpha, beta, gamma], dtype=torch.float64)
    d, w, r = (base ** phi).tolist()
    return d, w, r, d * w * w * r * r


def compound_scaling_multiplies(phi, alpha=1.2, beta=1.1, gamma=1.15):
    # φ as a factor instead of an exponent
    return alpha * phi, beta * phi, gamma * phi, alpha * beta ** 2 * gamma ** 2 * phi


def compound_scaling_linear_flops(phi, alpha=1.2, beta=1.1, gamma=1.15):
    # FLOPs as depth · width · resolution, forgetting the squares
    d, w, r = alpha ** phi, beta ** phi, gamma ** phi
    return d, w, r, d * w * r


def compound_scaling_two_to_phi(phi, alpha=1.2, beta=1.1, gamma=1.15):
    # FLOPs as 2^φ, from "α·β²·γ² ≈ 2"
    return alpha ** phi, beta ** phi, gamma ** phi, 2.0 ** phi


def compound_scaling_swapped(phi, alpha=1.2, beta=1.1, gamma=1.15):
    # width and resolution swapped
    return alpha ** phi, gamma ** phi, beta ** phi, (alpha * beta ** 2 * gamma ** 2) ** phi


def compound_scaling_three_numbers(phi, alpha=1.2, beta=1.1, gamma=1.15):
    # forgets the FLOP factor
    return alpha ** phi, beta ** phi, gamma ** phi


def compound_scaling_ignores_arguments(phi, alpha=1.2, beta=1.1, gamma=1.15):
    # uses the paper's constants whatever the arguments say
    return compound_scaling_formula(phi)


# ==========================================================================
# deform_conv_zero_offset(x, weight, bias=None, stride=1, padding=0, dilation=1)
# ==========================================================================

def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _out_size(x, weight, stride, padding, dilation):
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    kh, kw = weight.shape[2:]
    return (x.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (x.shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1


def deform_zero_formula(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """The output size by the formula; offsets of zeros like x."""
    h_out, w_out = _out_size(x, weight, stride, padding, dilation)
    kh, kw = weight.shape[2:]
    offset = torch.zeros(x.shape[0], 2 * kh * kw, h_out, w_out, dtype=x.dtype, device=x.device)
    return torchvision.ops.deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation)


def deform_zero_layer(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """torchvision.ops.DeformConv2d with the weights copied in; the output size with math.floor."""
    from torchvision.ops import DeformConv2d
    kh, kw = weight.shape[2:]
    layer = DeformConv2d(weight.shape[1], weight.shape[0], (kh, kw), stride=stride, padding=padding,
                         dilation=dilation, bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    sizes = [math.floor((n + 2 * p - d * (k - 1) - 1) / s + 1)
             for n, p, d, k, s in zip(x.shape[2:], _pair(padding), _pair(dilation), (kh, kw), _pair(stride))]
    offset = x.new_zeros(x.shape[0], 2 * kh * kw, *sizes)
    with torch.no_grad():
        return layer(x, offset)


def _deform(x, weight, bias=None, stride=1, padding=0, dilation=1, *, offset_value=0.0, size="output",
            taps="kh_kw", mask=None, pass_bias=True, pass_settings=True):
    kh, kw = weight.shape[2:]
    h_out, w_out = {"output": _out_size(x, weight, stride, padding, dilation),
                    "input": tuple(x.shape[2:]),
                    "no_dilation": _out_size(x, weight, stride, padding, 1),
                    "swapped": _out_size(x, weight, stride, padding, dilation)[::-1]}[size]
    channels = {"kh_kw": 2 * kh * kw, "k_k": 2 * kw * kw, "no_two": kh * kw}[taps]
    offset = torch.full((x.shape[0], channels, h_out, w_out), offset_value, dtype=x.dtype)
    m = None if mask is None else torch.full((x.shape[0], kh * kw, h_out, w_out), mask, dtype=x.dtype)
    settings = dict(stride=stride, padding=padding, dilation=dilation) if pass_settings else {}
    return torchvision.ops.deform_conv2d(x, offset, weight, bias if pass_bias else None, mask=m, **settings)


def deform_ones(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # offsets of ones: every tap shifted by one pixel
    return _deform(x, weight, bias, stride, padding, dilation, offset_value=1.0)


def deform_zero_mask(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # a mask of zeros (DCNv2's modulation) switches every tap off
    return _deform(x, weight, bias, stride, padding, dilation, mask=0.0)


def deform_no_bias(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # the bias not passed on
    return _deform(x, weight, bias, stride, padding, dilation, pass_bias=False)


def deform_input_sized_offsets(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # offsets as large as the input, not the output
    return _deform(x, weight, bias, stride, padding, dilation, size="input")


def deform_without_dilation(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # the output size computed without the dilation
    return _deform(x, weight, bias, stride, padding, dilation, size="no_dilation")


def deform_swapped_sizes(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # (W_out, H_out) instead of (H_out, W_out)
    return _deform(x, weight, bias, stride, padding, dilation, size="swapped")


def deform_square_kernel(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # 2·k·k offset channels with k = kernel width (wrong for a non-square kernel)
    return _deform(x, weight, bias, stride, padding, dilation, taps="k_k")


def deform_one_offset_per_tap(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # kh·kw offset channels: forgets that each offset has a y and an x part
    return _deform(x, weight, bias, stride, padding, dilation, taps="no_two")


def deform_settings_not_passed(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # the offset sized right, but deform_conv2d(x, offset, weight, bias) called without stride/padding/dilation
    return _deform(x, weight, bias, stride, padding, dilation, pass_settings=False)


def deform_calls_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # "zero offsets equal a convolution": calls F.conv2d directly
    return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
