"""Notebook 05's verdict texts and hints, by key (``engine.messages``)."""

from ..engine.messages import Messages

M = Messages("05_densenet_and_beyond", {
    # make_dense_layer
    "make_dense_layer.general": "A dense layer is BatchNorm2d → ReLU → 1×1 conv to bn_size·growth_rate channels → "
                                "BatchNorm2d → ReLU → 3×3 conv (padding 1) to growth_rate channels, convolutions "
                                "without bias; it returns only the growth_rate new maps.",
    "make_dense_layer.one_conv": "A dense layer has two convolutions: a 1×1 bottleneck to bn_size·growth_rate "
                                 "channels, then the 3×3 to growth_rate channels.",
    "make_dense_layer.post_activation": "DenseNet uses pre-activation: each conv is preceded by BatchNorm2d and ReLU, "
                                        "so the layer starts with BatchNorm2d(in_channels).",
    "make_dense_layer.conv_bias": "The convolutions have no bias (bias=False): the batch norm after them has its own "
                                  "shift.",
    "make_dense_layer.bottleneck_width": "The 1×1 bottleneck outputs bn_size·growth_rate channels (4·k by default).",
    "make_dense_layer.returns_concat": "Return only the growth_rate new maps; the dense block does the concatenation.",
    "make_dense_layer.no_padding": "The 3×3 convolution needs padding=1 to keep H and W.",
    "make_dense_layer.no_3x3": "The layer ends with the 3×3 conv to growth_rate channels.",
    "make_dense_layer.relu_first": "ReLU comes after the batch norm: BatchNorm2d → ReLU → conv (the pre-activation "
                                   "order of DenseNet).",
    "make_dense_layer.no_relus": "The ReLUs are missing: BatchNorm2d → ReLU → conv, twice.",
    "make_dense_layer.relu_missing": "A ReLU is missing: each conv is preceded by BatchNorm2d and ReLU.",
    "make_dense_layer.passed": "Shapes, layers and outputs (eval and training mode) match torchvision's _DenseLayer.",

    # make_dense_block
    "make_dense_block.general": "Layer i (from 0) reads the concatenation [input, output of layer 0, …, layer i−1]: "
                                "in_channels + i·growth_rate channels; the block returns the concatenation of the "
                                "input and every layer's output, in that order.",
    "make_dense_block.same_input": "Every layer read the block's input only: in a dense block layer i reads the input "
                                   "and all earlier outputs, in_channels + i·growth_rate.",
    "make_dense_block.chain": "Each layer read only the previous layer's output (a chain): in a dense block layer i "
                             "reads the input and all earlier outputs.",
    "make_dense_block.geometric": "The channels grow linearly, by growth_rate per layer (in_channels + "
                                  "i·growth_rate), not geometrically.",
    "make_dense_block.layer_count": "Make exactly num_layers = {layers} layers, each with its own make_layer(...) "
                                    "call.",
    "make_dense_block.growth_rate": "Pass growth_rate to every make_layer call: each layer adds growth_rate maps.",
    "make_dense_block.last_only": "Return the concatenation of the input and every layer's output, not the last "
                                  "layer's output alone.",
    "make_dense_block.without_input": "Keep the block's input in the concatenation: it has in_channels + "
                                      "num_layers·growth_rate channels.",
    "make_dense_block.no_make_layer": "Build the layers with the `make_layer` argument: "
                                      "`make_layer(in_channels + i * growth_rate, growth_rate)`.",
    "make_dense_block.unregistered": "Keep the layers in an nn.ModuleList (a plain Python list hides them from "
                                     ".parameters(), .to(device) and the optimiser).",
    "make_dense_block.output_order": "Concatenate in order: [input, layer 1, …, layer L] (torch.cat(features, "
                                     "dim=1) with the input first).",
    "make_dense_block.newest_first": "Each layer reads the maps in the order [input, layer 1, …]: keep one list, "
                                     "append, torch.cat it.",
    "make_dense_block.passed": "Channel counts, output shapes and values match torchvision's _DenseBlock.",

    # make_transition
    "make_transition.general": "A transition is BatchNorm2d → ReLU → 1×1 conv (no bias) → 2×2 average pool with "
                               "stride 2 (nn.AvgPool2d(2, stride=2)).",
    "make_transition.no_norm": "The transition starts with BatchNorm2d(in_channels), then ReLU, before its 1×1 "
                               "convolution.",
    "make_transition.conv_bias": "The 1×1 convolution has no bias (bias=False).",
    "make_transition.conv_3x3": "The transition's convolution is 1×1: it only changes the number of channels.",
    "make_transition.conv_stride": "The 1×1 conv has stride 1; the 2×2 average pool does the downsampling, averaging "
                                   "each window instead of keeping one pixel in four.",
    "make_transition.no_pool": "The 2×2 average pool with stride 2 halves H and W.",
    "make_transition.ceil_mode": "2×2 pooling with stride 2 drops an odd last row or column: H // 2 (no ceil_mode, "
                                 "no padding).",
    "make_transition.channels": "The 1×1 convolution maps in_channels to out_channels.",
    "make_transition.max_pool": "DenseNet's transition uses 2×2 average pooling, not max pooling.",
    "make_transition.no_relu": "The ReLU is missing: BatchNorm2d → ReLU → 1×1 conv → average pool.",
    "make_transition.relu_after_conv": "The ReLU comes before the convolution: BatchNorm2d → ReLU → 1×1 conv → "
                                       "average pool.",
    "make_transition.adaptive_pool": "An adaptive pool to (H // 2, W // 2) uses overlapping windows on odd sizes: "
                                     "use nn.AvgPool2d(2, stride=2).",
    "make_transition.strided_conv": "A stride-2 1×1 conv keeps one pixel in four; the transition averages each 2×2 "
                                    "window (1×1 conv, then nn.AvgPool2d(2, stride=2)).",
    "make_transition.passed": "Shapes, layers and outputs (eval and training mode) match torchvision's _Transition.",

    # densenet_channels
    "densenet_channels.general": "A dense block returns its input and every layer's growth_rate new maps, "
                                 "concatenated.",
    "densenet_channels.geometric": "The channels grow linearly: each layer adds growth_rate maps, c0 + L·k — not "
                                   "geometrically (the lecture notes' claim).",
    "densenet_channels.no_input": "The block's input is part of its output: c0 + L·k, not L·k.",
    "densenet_channels.one_layer": "Every one of the L layers adds growth_rate maps: c0 + L·k.",
    "densenet_channels.empty_block": "A block of no layer adds nothing: its output is its input, c0 + L·k with "
                                     "L = 0 (a count that adds the first layer before looking at L adds one too many).",
    "densenet_channels.off_by_one": "Every one of the L layers adds growth_rate maps: c0 + L·k (not L − 1).",
    "densenet_channels.product": "Each layer adds growth_rate maps to the concatenation: c0 + L·k, a sum, not a "
                                 "product.",

    # make_densenet
    "make_densenet.general": "Stem: 7×7 conv (stride 2, padding 3, no bias) to num_init_features, BatchNorm2d, ReLU, "
                             "3×3 max pool (stride 2, padding 1); then the dense blocks with a transition (halving "
                             "the channels) between two blocks; then BatchNorm2d, ReLU, global average pool, "
                             "Linear(channels, num_classes).",
    "make_densenet.no_compression": "A transition halves the channels: make_transition(c, c // 2) (compression 0.5).",
    "make_densenet.last_transition": "No transition after the last block: it is followed by BatchNorm2d, ReLU and the "
                                     "classifier.",
    "make_densenet.stale_channels": "Keep track of the channels: after a block of n layers they are c + "
                                    "n·growth_rate, after a transition half that.",
    "make_densenet.block_config": "Make one block per entry of block_config, with that many layers, in order.",
    "make_densenet.channels": "After a block of n layers the channels are c + n·growth_rate; a transition halves them "
                              "(c // 2); the first block reads num_init_features channels.",
    "make_densenet.head": "The network ends with a global average pool, flatten and Linear(channels, num_classes).",
    "make_densenet.no_factories": "Build every dense block with the `make_block` argument and every transition with "
                                  "`make_transition`.",
    "make_densenet.no_final_norm": "The final BatchNorm2d (after the last block, before ReLU and pooling) is missing.",
    "make_densenet.stem_bias": "The stem's 7×7 convolution has no bias (bias=False): a batch norm follows it.",
    "make_densenet.no_stem_norm": "The stem has a BatchNorm2d after its 7×7 convolution.",
    "make_densenet.flops": "The parameters match but the maps have the wrong size: the stem's conv has stride 2 and "
                           "padding 3, then a 3×3 max pool with stride 2 and padding 1.",
    "make_densenet.no_final_relu": "A ReLU follows the final BatchNorm2d, before the global average pool.",
    "make_densenet.stem_avg_pool": "The stem ends with a 3×3 max pool (stride 2, padding 1), not an average pool.",
    "make_densenet.values": "Check the stem's ReLU and max pool, and the ReLU and global *average* pool before the "
                            "classifier.",
    "make_densenet.passed": "Channel counts, output shapes, computation and parameters ({total:,} for DenseNet-121) "
                            "match torchvision's.",

    # make_se_block
    "make_se_block.general": "s = sigmoid(W2 · ReLU(W1 · z + b1) + b2) with z the per-channel mean over H and W; W1: "
                             "C → C // reduction, W2: back to C; return x · s (each channel scaled by its weight).",
    "make_se_block.returns_scale": "Return the input scaled by the weights, x · s, not the weights s.",
    "make_se_block.returns_scale_2d": "Return the input scaled by the weights, x · s[:, :, None, None], not the "
                                      "weights s.",
    "make_se_block.one_dense": "The excitation has two dense layers: C → C // reduction, ReLU, C // reduction → C.",
    "make_se_block.no_bottleneck": "The first dense layer squeezes to C // reduction channels (a bottleneck), the "
                                   "second restores C.",
    "make_se_block.dense_only": "The excitation uses dense layers only (nn.Linear, or 1×1 convolutions).",
    "make_se_block.no_sigmoid": "The excitation ends with a sigmoid: each channel's weight lies in (0, 1).",
    "make_se_block.softmax": "The gate is a sigmoid, not a softmax: channels are weighted independently, not made to "
                             "compete.",
    "make_se_block.relu_gate": "The gate is a sigmoid (weights in (0, 1)), not a ReLU.",
    "make_se_block.tanh_gate": "The gate is a sigmoid (weights in (0, 1)), not a tanh.",
    "make_se_block.max_squeeze": "The squeeze is global *average* pooling (the mean over H and W), not max pooling.",
    "make_se_block.sum_squeeze": "The squeeze is the mean over H and W, not the sum.",
    "make_se_block.no_inner_relu": "A ReLU sits between the two dense layers.",
    "make_se_block.adds": "Scale the input by the weights, x · s; do not add them.",
    "make_se_block.passed": "Shapes, layers and outputs match torchvision.ops.SqueezeExcitation.",

    # compound_scaling
    "compound_scaling.general": "depth = α^φ, width = β^φ, resolution = γ^φ; FLOPs scale with depth · width² · "
                                "resolution².",
    "compound_scaling.linear_phi": "φ is an exponent: depth α^φ, width β^φ, resolution γ^φ (not α·φ).",
    "compound_scaling.flops_no_squares": "FLOPs grow with depth, width squared and resolution squared: (α·β²·γ²)^φ.",
    "compound_scaling.flops_two": "α·β²·γ² is only about 2: compute (α·β²·γ²)^φ with the given coefficients, not 2^φ.",
    "compound_scaling.swapped": "α scales depth, β width and γ resolution.",
    "compound_scaling.default_coefficients": "Use the alpha, beta and gamma arguments: the paper's 1.2, 1.1, 1.15 are "
                                             "only their defaults.",
    "compound_scaling.no_return": "Did you forget a `return`?",
    "compound_scaling.return_four": "Return all four: `return depth, width, resolution, flops`.",

    # deform_conv_zero_offset
    "deform_conv_zero_offset.general": "With zero offsets a deformable convolution samples the regular grid: it "
                                       "equals F.conv2d with the same weight, bias, stride, padding and dilation.",
    "deform_conv_zero_offset.ones": "Offsets of zero keep every tap on its regular grid position; these were shifted "
                                    "(ones?).",
    "deform_conv_zero_offset.zero_mask": "A mask of zeros switches every tap off: leave mask=None (or pass ones).",
    "deform_conv_zero_offset.no_bias": "Pass the bias on to deform_conv2d (bias=bias).",
    "deform_conv_zero_offset.settings_ignored": "Pass stride, padding and dilation on to deform_conv2d.",
    "deform_conv_zero_offset.offset_shape": "The offset has shape (N, 2·kh·kw, H_out, W_out): two numbers (dy, dx) per "
                                            "kernel tap, at every *output* position — H_out = (H + 2·pad_h − "
                                            "dil_h·(kh − 1) − 1) // stride_h + 1, and likewise W_out with the width "
                                            "values.",
    "deform_conv_zero_offset.settings_not_passed": "Pass stride, padding and dilation on to deform_conv2d "
                                                   "(`deform_conv2d(x, offset, weight, bias, stride=stride, "
                                                   "padding=padding, dilation=dilation)`): your offset has the right "
                                                   "H_out × W_out, but deform_conv2d computes the output size from "
                                                   "the settings it is given, and its defaults are stride 1, padding "
                                                   "0, dilation 1.",
    "deform_conv_zero_offset.conv2d_called": "Compute it with `torchvision.ops.deform_conv2d(x, offset, weight, bias, "
                                             "...)` and zero offsets: `{called}` is what the check compares against.",
    "deform_conv_zero_offset.refused_conv2d": "the reference the check compares against: this exercise is about "
                                              "deform_conv2d",
})
