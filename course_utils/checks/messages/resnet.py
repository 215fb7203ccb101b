"""Notebook 04's verdict texts and hints, by key (``engine.messages``)."""

from ..engine.messages import Messages

M = Messages("04_resnet", {
    # make_basic_block: what it computes
    "make_basic_block.general": "conv3×3 (stride, padding 1) → BN → ReLU → conv3×3 (padding 1) → BN; add the shortcut "
                                "(x, or downsample(x)); then ReLU.",
    "make_basic_block.no_final_relu": "After adding the shortcut, apply the ReLU: `out = relu(out + identity)`.",
    "make_basic_block.relu_before_add": "The second ReLU comes after the addition, not before it: "
                                        "`relu(bn2(conv2(...)) + identity)`.",
    "make_basic_block.no_shortcut": "The shortcut is missing: add `identity` (x, or its projection) to the residual "
                                    "branch before the last ReLU.",
    "make_basic_block.stride_on_conv2": "Put the stride on the first 3×3 convolution (as torchvision does), not on "
                                        "the second.",
    "make_basic_block.relu_before_bn": "Each convolution is followed by batch norm, then ReLU: conv → BN → ReLU.",
    "make_basic_block.no_inner_relu": "Apply a ReLU between the two convolutions: conv1 → bn1 → ReLU → conv2 → bn2.",
    "make_basic_block.size_mismatch": "The residual branch and the shortcut must have the same shape to be added: "
                                      "both 3×3 convolutions need padding 1, and the 1×1 projection the block's "
                                      "stride.",
    "make_basic_block.refused": "Write the block yourself from nn.Conv2d, nn.BatchNorm2d and the shortcut.",
    "make_basic_block.passed": "Identity and projection shortcuts match torchvision's BasicBlock: same keys, same "
                               "outputs in eval and training mode.",
    # make_basic_block: its state dict's keys and shapes (torchvision's layout)
    "make_basic_block.rename": "Rename {pairs}, as torchvision names them, so that its weights load.",
    "make_basic_block.conv_bias": "A convolution followed by batch norm needs no bias (`bias=False`): batch norm "
                                  "subtracts the mean and adds its own shift anyway.",
    "make_basic_block.projection_layout": "The projection shortcut is a 1×1 convolution followed by batch norm: "
                                          "`self.downsample = nn.Sequential(nn.Conv2d(..., 1, stride=stride, "
                                          "bias=False), nn.BatchNorm2d(out_channels))`.",
    "make_basic_block.needs_projection": "When the stride is not 1 or the channels change{in_block}, the shortcut must "
                                         "project x: `self.downsample = nn.Sequential(1×1 conv with the stride, "
                                         "BatchNorm2d)`.",
    "make_basic_block.identity_shortcut": "When the stride is 1 and the channels stay the same, the shortcut is the "
                                          "identity: no parameters, `self.downsample = None`.",
    "make_basic_block.layer_names": "Name the layers as torchvision does — conv1, bn1, conv2, bn2 and `downsample` (an "
                                    "nn.Sequential of the 1×1 conv and its BatchNorm2d) — so that ResNet weights "
                                    "load into your block.",
    "make_basic_block.projection_shape": "The projection is a 1×1 convolution from in_channels to out_channels (with "
                                         "the block's stride).",
    "make_basic_block.bn_shape": "Batch norm has one weight per channel of the convolution it follows: "
                                 "`nn.BatchNorm2d(out_channels)`.",
    "make_basic_block.conv_shape": "Both convolutions of a block are 3×3: the first from in_channels to out_channels "
                                   "(with the stride), the second from out_channels to out_channels.",

    # make_resnet18
    "make_resnet18.general": "stem: conv1 → bn1 → ReLU → maxpool; then layer1 … layer4; then avgpool → flatten → fc. "
                             "Use every layer once, in that order.",
    "make_resnet18.refused": "Build the network yourself from the stem, four stages of `block` and the head.",
    "make_resnet18.block_call": "The check's block is called as `block(in_channels, out_channels, stride)` and builds "
                                "its own shortcut: pass those three arguments, no `downsample`.",
    "make_resnet18.block_argument": "`make_resnet18(num_classes=1000, block=BasicBlock)` must accept `block`: the "
                                    "check passes its own reference block there.",
    "make_resnet18.ignored_block": "Build the stages from the `block` argument: the check passes its reference block "
                                   "there, so that only the stem, the stages and the head are judged. {what}.",
    "make_resnet18.stages_hold": "Your stages hold {names} instead",
    "make_resnet18.no_stages": "Your network has no stages built from it",
    "make_resnet18.downsample_blocks": "Only the first block of layer2, layer3 and layer4 has stride 2 and changes the "
                                       "channels (64 → 128 → 256 → 512), so only those three blocks have a "
                                       "`downsample`; layer1 and every second block keep stride 1 and their "
                                       "channels.",
    "make_resnet18.layer_names": "Name the parts as torchvision does: conv1 and bn1 (the stem), layer1 … layer4 (an "
                                 "nn.Sequential of two blocks each) and fc, so that torchvision's weights load.",
    "make_resnet18.stage_channels": "Each stage's first block goes from the previous stage's channels to its own "
                                    "(64 → 64, 64 → 128, 128 → 256, 256 → 512); the second block keeps them.",
    "make_resnet18.fc_shape": "The classifier is nn.Linear(512, num_classes), after the global average pool "
                              "(nn.AdaptiveAvgPool2d(1)) and a flatten.",
    "make_resnet18.stem_shape": "The stem is a 7×7 convolution from 3 to 64 channels, stride 2, padding 3, no bias.",
    "make_resnet18.stem_padding": "The notes' stem uses padding 1; a 7×7 convolution with stride 2 needs padding 3 to "
                                  "turn 224 into 112.",
    "make_resnet18.no_maxpool": "The stem ends with a 3×3 max pool, stride 2, padding 1 (112 → 56) before layer1.",
    "make_resnet18.maxpool_padding": "The stem's max pool has padding 1: nn.MaxPool2d(3, stride=2, padding=1).",
    "make_resnet18.stage_sizes": "Stage k ≥ 2 starts with a stride-2 block; layer1 keeps 56 × 56.",
    "make_resnet18.head": "After layer4: adaptive average pool to 1 × 1, `torch.flatten(x, 1)`, then fc.",
    "make_resnet18.softmax": "torchvision's resnet18 returns logits; leave the softmax to the loss "
                             "(nn.CrossEntropyLoss applies log-softmax itself).",
    "make_resnet18.no_stem_relu": "The stem is conv → BN → ReLU → max pool: the ReLU is missing.",
    "make_resnet18.avgpool_in_stem": "The stem's pool is a max pool (3 × 3, stride 2, padding 1), not an average "
                                     "pool.",
    "make_resnet18.fixed_pool": "A fixed 7 × 7 pool works only for 224 × 224 images (the check also uses {h} × {w}): "
                                "nn.AdaptiveAvgPool2d(1) pools any size to 1 × 1.",
    "make_resnet18.passed": "Keys, shapes, per-stage sizes ({sizes}) and logits match torchvision's resnet18 with its "
                            "weights loaded strictly.",

    # resnet18_shapes
    "resnet18_shapes.general": "Each size follows floor((n + 2p − k) / s) + 1: stem 7×7/2 pad 3, max pool 3×3/2 pad "
                               "1, layer1 keeps the size, layer2–4 each halve it with a 3×3/2 pad 1 convolution.",
    "resnet18_shapes.stem_padding": "The notes' stem padding of 1 is wrong: a 7×7 convolution with stride 2 needs "
                                    "padding 3.",
    "resnet18_shapes.pool_padding": "The stem's max pool (3 × 3, stride 2) has padding 1.",
    "resnet18_shapes.rounded_up": "Sizes round down: floor((n + 2p − k) / s) + 1, i.e. `(n + 2 * p - k) // s + 1`.",
    "resnet18_shapes.layer1_stride": "layer1 keeps the size: its blocks have stride 1 (the max pool has just halved "
                                     "it).",
    "resnet18_shapes.width_first": "Each value is (channels, height, width): the height comes before the width.",
    "resnet18_shapes.channels_last": "PyTorch orders a feature map channels first: (channels, height, width), not "
                                     "(height, width, channels).",
    "resnet18_shapes.no_return": "Did you forget a `return`? Return the dict of shapes.",
    "resnet18_shapes.not_a_dict": "Return {{'conv1': (C, H, W), 'maxpool': …, 'layer1': …, …, 'layer4': …}} with the "
                                  "keys {stages}.",
    "resnet18_shapes.stage_keys": "Use exactly these keys: {stages}.",
    "resnet18_shapes.not_a_triple": "Each value is a tuple of three ints: (channels, height, width).",
    "resnet18_shapes.floats": "Use floor division: `(n + 2 * p - k) // s + 1`.",

    # first_layer_grad_norm
    "first_layer_grad_norm.general": "zero the gradients, loss = F.cross_entropy(model(images), labels), "
                                     "loss.backward(), then `layer.weight.grad.norm().item()`.",
    "first_layer_grad_norm.sum_reduction": "Average the loss over the batch (F.cross_entropy's default "
                                           "reduction='mean'), not the sum.",
    "first_layer_grad_norm.squared": "Return the L2 norm, `grad.norm()`, not its square.",
    "first_layer_grad_norm.l1": "Return the L2 norm (`grad.norm()`), not the sum of absolute values.",
    "first_layer_grad_norm.all_parameters": "Only the gradient of `layer.weight`, not of all the model's parameters.",
    "first_layer_grad_norm.weight_norm": "The norm of the weight's gradient (`layer.weight.grad`), not of the weight "
                                         "itself.",
    "first_layer_grad_norm.mode_changed": "Leave the model in the mode it is in: do not call model.train() or "
                                          "model.eval().",
    "first_layer_grad_norm.other_parameter": "That is the gradient of `{name}`; measure the layer passed in: "
                                             "`layer.weight.grad`.",
    "first_layer_grad_norm.no_zero_grad": "Reset the gradients before backward (`model.zero_grad()`): .grad "
                                          "accumulates, so a second call would add to the first.",
    "first_layer_grad_norm.no_return": "Did you forget a `return`? Return the norm as a float.",
    "first_layer_grad_norm.not_a_number": "Return one number: `layer.weight.grad.norm().item()`.",
    "first_layer_grad_norm.weights_changed": "Measure the gradient only: no optimizer step, no writes to the "
                                             "weights.",
})
