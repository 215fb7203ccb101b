"""Learner implementations for the tests of notebook 04's checks (ResNet).

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

from checks.helpers import solution
from checks.instructor import instructor_object

# ==========================================================================
# make_basic_block(in_channels, out_channels, stride=1)
# ==========================================================================


# The notebook's own block (explicit layers, functional ReLUs, the shortcut chosen in forward), taken from its
# source rather than copied here.
BasicBlockExplicit = instructor_object("04_resnet", "BasicBlock")


def conv3x3(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)


class BasicBlockTorchvisionStyle(nn.Module):
    """torchvision's style: conv3x3 / conv1x1 helpers, one inplace ReLU module, `out += identity`."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = (nn.Sequential(conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes))
                           if stride != 1 or inplanes != planes else None)

    def forward(self, x):
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu(out)
        return out


class BasicBlockIdentityModule(nn.Module):
    """The shortcut is always a module: nn.Identity() (no parameters) or the projection; the residual branch
    is its own method."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, (3, 3), (stride, stride), (1, 1), bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, (3, 3), padding="same", bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        needs_projection = stride > 1 or in_channels != out_channels
        self.downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels),
        ) if needs_projection else nn.Identity()

    def residual(self, x):
        return self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))

    def forward(self, x):
        return torch.relu(self.residual(x) + self.downsample(x))


def block_explicit(in_channels, out_channels, stride=1):
    return BasicBlockExplicit(in_channels, out_channels, stride)


def block_torchvision_style(in_channels, out_channels, stride=1):
    return BasicBlockTorchvisionStyle(in_channels, out_channels, stride)


def block_identity_module(in_channels, out_channels, stride=1):
    return BasicBlockIdentityModule(in_channels, out_channels, stride)


class BlockKnobs(nn.Module):
    """The learner's block with its knobs: each mistake below turns one of them."""

    def __init__(self, in_channels, out_channels, stride=1, *, relu_before_add=False, final_relu=True,
                 shortcut=True, stride_on_conv2=False, projection_kernel=1, projection_bn=True, bias=False,
                 always_project=False, project_on_channels_only=False, projection_stride=True,
                 relu_before_bn=False, inner_relu=True, bn1_channels=None, downsample_name="downsample"):
        super().__init__()
        s1, s2 = (1, stride) if stride_on_conv2 else (stride, 1)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=s1, padding=1, bias=bias)
        self.bn1 = nn.BatchNorm2d(out_channels if bn1_channels is None else bn1_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=s2, padding=1, bias=bias)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if project_on_channels_only:
            project = in_channels != out_channels
        else:
            project = always_project or stride != 1 or in_channels != out_channels
        projection = None
        if project:
            layers = [nn.Conv2d(in_channels, out_channels, projection_kernel, stride=stride if projection_stride else 1,
                                padding=projection_kernel // 2, bias=bias)]
            if projection_bn:
                layers.append(nn.BatchNorm2d(out_channels))
            projection = nn.Sequential(*layers)
        self.downsample_name = downsample_name
        setattr(self, downsample_name, projection)
        self.relu_before_add, self.final_relu, self.add_shortcut = relu_before_add, final_relu, shortcut
        self.relu_before_bn, self.inner_relu = relu_before_bn, inner_relu

    def forward(self, x):
        projection = getattr(self, self.downsample_name)
        identity = x if projection is None else projection(x)
        if self.relu_before_bn:
            out = self.bn1(F.relu(self.conv1(x)))
        else:
            out = self.bn1(self.conv1(x))
            out = F.relu(out) if self.inner_relu else out
        out = self.bn2(self.conv2(out))
        if self.relu_before_add:
            out = F.relu(out)
        if self.add_shortcut:
            out = out + identity
        return F.relu(out) if self.final_relu else out


def block_relu_before_add(in_channels, out_channels, stride=1):
    # relu(bn2(conv2(...))) + identity: the second ReLU before the addition
    return BlockKnobs(in_channels, out_channels, stride, relu_before_add=True, final_relu=False)


def block_no_final_relu(in_channels, out_channels, stride=1):
    # returns out + identity, without the ReLU after the addition
    return BlockKnobs(in_channels, out_channels, stride, final_relu=False)


def block_no_shortcut(in_channels, out_channels, stride=1):
    # builds the projection but never adds the shortcut: relu(bn2(conv2(...)))
    return BlockKnobs(in_channels, out_channels, stride, shortcut=False)


def block_stride_on_conv2(in_channels, out_channels, stride=1):
    # the stride on the second 3×3 convolution (the original Caffe ResNet puts it on the 1×1 of a bottleneck)
    return BlockKnobs(in_channels, out_channels, stride, stride_on_conv2=True)


def block_projection_3x3(in_channels, out_channels, stride=1):
    # the projection is a 3×3 convolution (padding 1) instead of a 1×1
    return BlockKnobs(in_channels, out_channels, stride, projection_kernel=3)


def block_projection_without_bn(in_channels, out_channels, stride=1):
    # the projection is the 1×1 convolution alone, without its batch norm
    return BlockKnobs(in_channels, out_channels, stride, projection_bn=False)


def block_conv_with_bias(in_channels, out_channels, stride=1):
    # nn.Conv2d's default bias=True kept in front of every batch norm
    return BlockKnobs(in_channels, out_channels, stride, bias=True)


def block_always_projects(in_channels, out_channels, stride=1):
    # a projection on every block, even when the stride is 1 and the channels stay
    return BlockKnobs(in_channels, out_channels, stride, always_project=True)


def block_projects_on_channels_only(in_channels, out_channels, stride=1):
    # `if in_channels != out_channels:` — forgets that a stride of 2 also needs a projection
    return BlockKnobs(in_channels, out_channels, stride, project_on_channels_only=True)


def block_projection_without_stride(in_channels, out_channels, stride=1):
    # the 1×1 projection without the block's stride: the shortcut keeps the input size
    return BlockKnobs(in_channels, out_channels, stride, projection_stride=False)


def block_relu_before_bn(in_channels, out_channels, stride=1):
    # conv1 → ReLU → bn1 instead of conv1 → bn1 → ReLU
    return BlockKnobs(in_channels, out_channels, stride, relu_before_bn=True)


def block_no_inner_relu(in_channels, out_channels, stride=1):
    # no ReLU between the two convolutions
    return BlockKnobs(in_channels, out_channels, stride, inner_relu=False)


def block_bn1_on_in_channels(in_channels, out_channels, stride=1):
    # nn.BatchNorm2d(in_channels) after conv1 (copied from the line above)
    return BlockKnobs(in_channels, out_channels, stride, bn1_channels=in_channels)


def block_shortcut_named_shortcut(in_channels, out_channels, stride=1):
    # the projection is called `self.shortcut` (as in many CIFAR ResNets) instead of `self.downsample`
    return BlockKnobs(in_channels, out_channels, stride, downsample_name="shortcut")


def block_is_torchvisions(in_channels, out_channels, stride=1):
    # torchvision's BasicBlock with a projection built for it
    from torchvision.models.resnet import BasicBlock
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
    return BasicBlock(in_channels, out_channels, stride, downsample)


class PreActBlock(nn.Module):
    """The pre-activation block of the notebook's last section, submitted for the original block."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + identity


def block_pre_activation(in_channels, out_channels, stride=1):
    # BN → ReLU before each convolution and nothing after the addition (the pre-activation ordering)
    return PreActBlock(in_channels, out_channels, stride)


def block_forgets_return(in_channels, out_channels, stride=1):
    block = BasicBlockExplicit(in_channels, out_channels, stride)  # noqa: F841 - and then no return


# ==========================================================================
# make_resnet18(num_classes=1000, block=BasicBlock)
# ==========================================================================


# The notebook's own network (every part written out, `_make_stage` for the four stages), taken from its source
# rather than copied here; the knobs below subclass it.
ResNet18Explicit = instructor_object("04_resnet", "ResNet18")


class ResNet18Loop(nn.Module):
    """The stages built in a loop with add_module; forward loops over them too; functional stem."""

    widths = (64, 128, 256, 512)

    def __init__(self, num_classes=1000, block=BasicBlockExplicit):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        channels = 64
        for index, width in enumerate(self.widths):
            stride = 1 if index == 0 else 2
            blocks = [block(channels, width, stride)] + [block(width, width) for _ in range(1)]
            self.add_module(f"layer{index + 1}", nn.Sequential(*blocks))
            channels = width
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), kernel_size=3, stride=2, padding=1)
        for index in range(len(self.widths)):
            x = getattr(self, f"layer{index + 1}")(x)
        return self.fc(x.mean(dim=(2, 3)))


def resnet18_explicit(num_classes=1000, block=BasicBlockExplicit):
    return ResNet18Explicit(num_classes, block)


def resnet18_loop(num_classes=1000, block=BasicBlockExplicit):
    return ResNet18Loop(num_classes, block)


def resnet18_sequential(num_classes=1000, block=BasicBlockExplicit):
    """One nn.Sequential with torchvision's names, so that its forward is the Sequential's own."""
    def stage(cin, cout, stride):
        return nn.Sequential(block(cin, cout, stride), block(cout, cout))
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)), ("bn1", nn.BatchNorm2d(64)),
        ("relu", nn.ReLU()), ("maxpool", nn.MaxPool2d(3, 2, 1)),
        ("layer1", stage(64, 64, 1)), ("layer2", stage(64, 128, 2)), ("layer3", stage(128, 256, 2)),
        ("layer4", stage(256, 512, 2)),
        ("avgpool", nn.AdaptiveAvgPool2d((1, 1))), ("flatten", nn.Flatten()), ("fc", nn.Linear(512, num_classes)),
    ]))


def resnet18_ignores_block_argument(num_classes=1000, block=BasicBlockExplicit):
    # uses its own (correct) block class whatever `block` is passed: arguably fine, and it passes
    return ResNet18Explicit(num_classes, BasicBlockTorchvisionStyle)


class ResNetKnobs(ResNet18Explicit):
    """The learner's ResNet-18 with its knobs: each mistake below turns one of them."""

    def __init__(self, num_classes=1000, block=BasicBlockExplicit, *, stem_padding=3, pool="max", stem_relu=True,
                 softmax=False, strides=(1, 2, 2, 2), layer2_in=64, head_classes=None, fc_in=512, pool_to=1,
                 flatten=True):
        super().__init__(num_classes, block)
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=stem_padding, bias=False)
        self.maxpool = {"max": nn.MaxPool2d(3, 2, 1), "max0": nn.MaxPool2d(3, 2), "avg": nn.AvgPool2d(3, 2, 1),
                        None: nn.Identity()}[pool]
        if not stem_relu:
            self.relu = nn.Identity()
        channels = (64, layer2_in, 128, 256)
        for index, (cin, width, stride) in enumerate(zip(channels, (64, 128, 256, 512), strides)):
            setattr(self, f"layer{index + 1}", self._make_stage(block, cin, width, stride))
        self.avgpool = nn.AdaptiveAvgPool2d(pool_to)
        self.fc = nn.Linear(fc_in, num_classes if head_classes is None else head_classes)
        self.softmax, self.flatten = softmax, flatten

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        x = self.fc(torch.flatten(x, 1) if self.flatten else x)
        return x.softmax(dim=1) if self.softmax else x


def resnet18_stem_padding_1(num_classes=1000, block=BasicBlockExplicit):
    # the lecture notes' stem: 7×7, stride 2, padding 1
    return ResNetKnobs(num_classes, block, stem_padding=1)


def resnet18_no_maxpool(num_classes=1000, block=BasicBlockExplicit):
    # the stem goes from ReLU straight to layer1
    return ResNetKnobs(num_classes, block, pool=None)


def resnet18_maxpool_padding_0(num_classes=1000, block=BasicBlockExplicit):
    # nn.MaxPool2d(3, 2) without padding=1
    return ResNetKnobs(num_classes, block, pool="max0")


def resnet18_softmax_at_end(num_classes=1000, block=BasicBlockExplicit):
    # returns probabilities: softmax after fc
    return ResNetKnobs(num_classes, block, softmax=True)


def resnet18_avgpool_in_stem(num_classes=1000, block=BasicBlockExplicit):
    # nn.AvgPool2d(3, 2, 1) in the stem instead of the max pool
    return ResNetKnobs(num_classes, block, pool="avg")


def resnet18_layer1_stride_2(num_classes=1000, block=BasicBlockExplicit):
    # every stage starts with stride 2, layer1 included
    return ResNetKnobs(num_classes, block, strides=(2, 2, 2, 2))


def resnet18_no_stem_relu(num_classes=1000, block=BasicBlockExplicit):
    # conv1 → bn1 → maxpool: the stem's ReLU is missing
    return ResNetKnobs(num_classes, block, stem_relu=False)


def resnet18_layer2_from_128(num_classes=1000, block=BasicBlockExplicit):
    # layer2's first block reads 128 channels (its own width) instead of layer1's 64
    return ResNetKnobs(num_classes, block, layer2_in=128)


def resnet18_ignores_num_classes(num_classes=1000, block=BasicBlockExplicit):
    # the classifier always has 1000 outputs
    return ResNetKnobs(num_classes, block, head_classes=1000)


def resnet18_no_global_pool(num_classes=1000, block=BasicBlockExplicit):
    # no global average pool: fc reads the 512 × 7 × 7 maps of a 224 × 224 image
    return ResNetKnobs(num_classes, block, pool_to=7, fc_in=512 * 7 * 7)


def resnet18_forgets_flatten(num_classes=1000, block=BasicBlockExplicit):
    # fc applied to the (N, 512, 1, 1) pooled maps
    return ResNetKnobs(num_classes, block, flatten=False)


def resnet18_without_block_parameter(num_classes=1000):
    # make_resnet18 has no `block` parameter (the learner's own block is wired in)
    return ResNet18Explicit(num_classes, BasicBlockExplicit)


def resnet18_ignores_block_with_wrong_own_block(num_classes=1000, block=BasicBlockExplicit):
    # ignores `block` and wires in its own block, which lacks the ReLU after the addition
    return ResNet18Explicit(num_classes, block_no_final_relu)


class ResNet18PassesDownsample(ResNet18Explicit):
    """torchvision's _make_layer copied: the stage builds the projection and passes it to the block."""

    @staticmethod
    def _make_stage(block, in_channels, out_channels, stride):
        downsample = None
        if stride != 1 or in_channels != out_channels:
            downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
        return nn.Sequential(block(in_channels, out_channels, stride, downsample), block(out_channels, out_channels))


def resnet18_passes_downsample_to_block(num_classes=1000, block=BasicBlockExplicit):
    # calls block(in, out, stride, downsample) as torchvision's _make_layer does: 4 arguments
    return ResNet18PassesDownsample(num_classes, block)


def resnet18_is_torchvisions(num_classes=1000, block=BasicBlockExplicit):
    # returns torchvision's model
    return torchvision.models.resnet18(num_classes=num_classes)


# ==========================================================================
# resnet18_shapes(height, width) -> {"conv1": (C, H, W), ..., "layer4": (C, H, W)}
# ==========================================================================

STAGE_NAMES = ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")


# The notebook's own solution, loaded from its source rather than copied here.
shapes_formula = solution("04_resnet", "resnet18_shapes")


def shapes_math_floor(height, width):
    """math.floor of a float division, one (kernel, stride, padding, channels) row per part."""
    table = [("conv1", 7, 2, 3, 64), ("maxpool", 3, 2, 1, 64), ("layer1", 3, 1, 1, 64), ("layer2", 3, 2, 1, 128),
             ("layer3", 3, 2, 1, 256), ("layer4", 3, 2, 1, 512)]
    shapes, h, w = {}, height, width
    for name, k, s, p, c in table:
        h = math.floor((h + 2 * p - k) / s) + 1
        w = math.floor((w + 2 * p - k) / s) + 1
        shapes[name] = (c, h, w)
    return shapes


def shapes_meta_model(height, width):
    """Run the layers that change the size on the meta device and read the shapes off."""
    with torch.device("meta"):
        parts = OrderedDict([
            ("conv1", nn.Conv2d(3, 64, 7, 2, 3)), ("maxpool", nn.MaxPool2d(3, 2, 1)),
            ("layer1", nn.Conv2d(64, 64, 3, 1, 1)), ("layer2", nn.Conv2d(64, 128, 3, 2, 1)),
            ("layer3", nn.Conv2d(128, 256, 3, 2, 1)), ("layer4", nn.Conv2d(256, 512, 3, 2, 1)),
        ])
        x = torch.empty(1, 3, height, width)
        shapes = {}
        for name, layer in parts.items():
            x = layer(x)
            shapes[name] = tuple(x.shape[1:])
    return shapes


def shapes_halving(height, width):
    """Every stride-2 step with kernel 3 and padding 1 (or 7 and 3) is (n - 1) // 2 + 1; lists, not tuples."""
    def half(n):
        return (n - 1) // 2 + 1

    h, w = half(height), half(width)
    out = {"conv1": [64, h, w]}
    h, w = half(h), half(w)
    out["maxpool"] = [64, h, w]
    out["layer1"] = [64, h, w]
    for index, channels in enumerate((128, 256, 512)):
        h, w = half(h), half(w)
        out[f"layer{index + 2}"] = [channels, h, w]
    return out


def _shapes(height, width, *, stem_padding=3, pool_padding=1, rounding=math.floor, divide=None, layer1_stride=1,
            swap=False, drop=None):
    """The learner's arithmetic with its knobs: each mistake below turns one of them."""
    def size(n, k, s, p):
        if divide is not None:
            return divide(n + 2 * p - k, s) + 1
        return rounding((n + 2 * p - k) / s) + 1

    rows = [("conv1", 7, 2, stem_padding, 64), ("maxpool", 3, 2, pool_padding, 64), ("layer1", 3, layer1_stride, 1, 64),
            ("layer2", 3, 2, 1, 128), ("layer3", 3, 2, 1, 256), ("layer4", 3, 2, 1, 512)]
    shapes, h, w = {}, height, width
    for name, k, s, p, c in rows:
        h, w = size(h, k, s, p), size(w, k, s, p)
        shapes[name] = (c, w, h) if swap else (c, h, w)
    if drop is not None:
        del shapes[drop]
    return shapes


def shapes_stem_padding_1(height, width):
    # the lecture notes' stem padding of 1
    return _shapes(height, width, stem_padding=1)


def shapes_maxpool_no_padding(height, width):
    # the max pool's padding forgotten (p = 0)
    return _shapes(height, width, pool_padding=0)


def shapes_ceil(height, width):
    # rounds up: math.ceil instead of math.floor
    return _shapes(height, width, rounding=math.ceil)


def shapes_float_division(height, width):
    # (n + 2p - k) / s + 1: true division, floats
    return _shapes(height, width, divide=lambda a, b: a / b)


def shapes_missing_layer1(height, width):
    # leaves out "layer1" ("it does not change the size anyway")
    return _shapes(height, width, drop="layer1")


def shapes_width_first(height, width):
    # (C, W, H): width before height
    return _shapes(height, width, swap=True)


def shapes_layer1_halves(height, width):
    # layer1 also halves the size (stride 2 in every stage)
    return _shapes(height, width, layer1_stride=2)


def shapes_with_batch_dimension(height, width):
    # (1, C, H, W): the batch dimension kept from a model's output shape
    return {name: (1, *shape) for name, shape in shapes_formula(height, width).items()}


# ==========================================================================
# first_layer_grad_norm(model, layer, images, labels) -> float
# ==========================================================================


# The notebook's own solution, loaded from its source rather than copied here.
grad_norm_backward = solution("04_resnet", "first_layer_grad_norm")


def grad_norm_autograd(model, layer, images, labels):
    """torch.autograd.grad: no .grad is written, so nothing needs resetting."""
    loss = nn.CrossEntropyLoss()(model(images), labels)
    (grad,) = torch.autograd.grad(loss, layer.weight)
    return float(torch.linalg.vector_norm(grad))


def grad_norm_optimizer_zero_grad(model, layer, images, labels):
    """An optimizer only for its zero_grad (set_to_none=False: zeros instead of None), never stepped."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.zero_grad(set_to_none=False)
    F.cross_entropy(model(images), labels).backward()
    return math.sqrt(layer.weight.grad.pow(2).sum().item())


def grad_norm_returns_tensor(model, layer, images, labels):
    """Returns the 0-d tensor itself (accepted: one number); gradients reset by setting them to None."""
    for p in model.parameters():
        p.grad = None
    F.cross_entropy(model(images), labels).backward()
    return layer.weight.grad.norm()


def grad_norm_sum_reduction(model, layer, images, labels):
    # the loss summed over the batch instead of averaged
    model.zero_grad()
    F.cross_entropy(model(images), labels, reduction="sum").backward()
    return layer.weight.grad.norm().item()


def grad_norm_squared(model, layer, images, labels):
    # the squared L2 norm: (grad ** 2).sum()
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    return (layer.weight.grad ** 2).sum().item()


def grad_norm_l1(model, layer, images, labels):
    # the L1 norm: grad.abs().sum()
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    return layer.weight.grad.abs().sum().item()


def grad_norm_no_zero_grad(model, layer, images, labels):
    # forgets model.zero_grad(): the second call adds to the first call's .grad
    F.cross_entropy(model(images), labels).backward()
    return layer.weight.grad.norm().item()


def grad_norm_all_parameters(model, layer, images, labels):
    # the norm of the gradient of every parameter, not only layer.weight
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()]).norm().item()


def grad_norm_of_weight(model, layer, images, labels):
    # the norm of the weight itself, not of its gradient
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    return layer.weight.norm().item()


def grad_norm_calls_eval(model, layer, images, labels):
    # model.eval() "to measure": changes the model's mode
    model.eval()
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    return layer.weight.grad.norm().item()


def grad_norm_calls_train(model, layer, images, labels):
    # model.train() "to get gradients": changes the mode of a model given in eval mode
    model.train()
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    return layer.weight.grad.norm().item()


def grad_norm_optimizer_step(model, layer, images, labels):
    # takes an optimizer step after measuring: the model's weights change
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    norm = layer.weight.grad.norm().item()
    optimizer.step()
    return norm


def grad_norm_last_layer(model, layer, images, labels):
    # measures the last layer (the classifier's weight) instead of `layer`
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    return last.weight.grad.norm().item()


def grad_norm_first_parameter(model, layer, images, labels):
    # measures the model's first parameter instead of `layer` (the same layer when `layer` is the stem)
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    return next(model.parameters()).grad.norm().item()


def grad_norm_returns_gradient(model, layer, images, labels):
    # returns the gradient tensor, not its norm
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    return layer.weight.grad


def resnet18_fixed_avgpool(num_classes=1000, block=BasicBlockExplicit):
    """A 7 × 7 average pool instead of the adaptive one: fine at 224 × 224, fails on other sizes."""
    model = resnet18_sequential(num_classes, block)
    model.avgpool = nn.AvgPool2d(7)
    return model


def shapes_channels_last(height, width):
    """(H, W, C) instead of (C, H, W)."""
    return {name: (h, w, c) for name, (c, h, w) in shapes_formula(height, width).items()}
