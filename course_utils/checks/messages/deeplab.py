"""Notebook 08's verdict texts and hints, by key (``engine.messages``).

A key ``<exercise>.<mistake>`` is also the ``variant`` with which the module's reference functions
compute that mistake's answer (``_space_to_batch``, ``separable_param_count``, ``mean_field_reference``),
and the key of the ``M.model_mistake`` whose mutation of the reference model makes it.
"""

from ..engine.messages import Messages

M = Messages("08_deeplab", {
    # atrous_conv2d
    "atrous_conv2d.general": "out[b, o, r, c] = bias[o] + Σ over c', m, n of x_padded[b, c', r + m·d, c + n·d] · "
                             "weight[o, c', m, n]; output (r, c) comes from sub-image (r mod d, c mod d), at (r // "
                             "d, c // d).",
    "atrous_conv2d.swapped_phases": "The phases are interleaved in the wrong order (i and j transposed): output (a, "
                                    "b) of sub-image (i, j) = x_p[..., i::d, j::d] goes to row a·d + i, column b·d +"
                                    " j.",
    "atrous_conv2d.pad_after_split": "Pad first, then split: the padding belongs to the image (p pixels around it), "
                                     "so take the sub-images of the padded input; padding each sub-image by p shifts"
                                     " the phases.",
    "atrous_conv2d.no_bias": "The bias is missing: add bias[o] to every position of output channel o (passing it to "
                             "F.conv2d on the sub-images does it once).",
    "atrous_conv2d.bias_twice": "The bias is added twice: F.conv2d on the sub-images already adds it, do not add it "
                                "again (nor once per phase).",
    "atrous_conv2d.uncropped": "Crop the interleaved output to H_out = H + 2p − d(k − 1) rows (and W_out columns): "
                               "the sub-images were padded up to a multiple of d, so the interleaved map is a little"
                               " larger.",
    "atrous_conv2d.crop_without_dilation": "Crop with the dilated kernel's span: H_out = H + 2p − d(k − 1), not "
                                           "H + 2p − (k − 1). With holes, the k taps span d(k − 1) + 1 pixels.",
    "atrous_conv2d.truncated": "Pad the input up to a multiple of d (zeros at the bottom and right) instead of "
                               "cutting the last rows off: the outputs near the far edge need them. Then crop to H +"
                               " 2p − d(k − 1).",
    "atrous_conv2d.holes_too_wide": "Your taps are d + 1 pixels apart; with dilation d they are d apart (one pixel "
                                    "skipped at rate 2): take every d-th pixel, x[..., i::d, j::d], d × d "
                                    "sub-images.",
    "atrous_conv2d.ignores_dilation": "Dilation is ignored: a dense k × k convolution of the whole image reads "
                                      "neighbouring pixels; run it on the d × d sub-images, where neighbours are d "
                                      "pixels apart in the image. H_out = H + 2p − d(k − 1).",

    # atrous_conv2d: refused while the learner's code runs
    "atrous_conv2d.dilated": "Use dilation=1 inside: the point is to get atrous convolution from an ordinary one. "
                             "Split the padded input into d × d sub-images x[..., i::d, j::d], stack them into the "
                             "batch, run a dense convolution with the k × k kernel, and interleave the outputs back.",
    "atrous_conv2d.dilated_on_subimages": "On the sub-images the kernel is compact: pixels d apart in the image are "
                                          "neighbours in a sub-image, so the holes are already there; use "
                                          "dilation=1.",
    "atrous_conv2d.big_kernel": "Keep the compact k × k kernel: a kernel with zeros inserted between its taps (a "
                                "'dilated kernel') costs k_eff² instead of k² multiply-adds per output, and on the "
                                "sub-images it is wrong, since their neighbouring pixels are already d apart in the "
                                "image.",
    "atrous_conv2d.uninspectable": "Use F.conv2d (dilation=1) for the ordinary convolution.",
    "atrous_conv2d.no_dense": "This exercise builds atrous convolution from an ordinary one: split the padded input "
                              "into d × d sub-images x[..., i::d, j::d] (space to batch), call F.conv2d on them with"
                              " the k × k kernel and dilation=1, and interleave the outputs (batch to space).",
    "atrous_conv2d.per_phase": "Space to batch runs one convolution for all d × d phases: stack the sub-images "
                               "into the batch dimension (pad the input to a multiple of d first, so that they all "
                               "have the same size), call F.conv2d once, and split its output back into the phases. "
                               "One call over a batch of d² sub-images is what lets the fast dense code do the work.",

    # make_separable_conv
    "make_separable_conv.general": "forward = pointwise(depthwise(x)), nothing else in between.",
    "make_separable_conv.layers": "Depthwise: kernel_size, stride, dilation, padding = dilation·(kernel_size − "
                                  "1)//2, groups=in_channels; pointwise: 1 × 1.",
    "make_separable_conv.names": "Store the two layers as `self.depthwise = nn.Conv2d(...)` and `self.pointwise = "
                                 "nn.Conv2d(...)`: the check reads their weights.",
    "make_separable_conv.out_channels": "The pointwise 1 × 1 convolution maps C_in to C_out channels.",
    "make_separable_conv.count": "Count: depthwise k²·C_in weights (groups=C_in), pointwise C_in·C_out, no biases.",
    "make_separable_conv.no_groups": "The depthwise convolution needs `groups=in_channels`: each input channel gets "
                                     "its own k × k filter (k²·C_in weights). Without groups every filter spans all "
                                     "channels (k²·C_in² weights).",
    "make_separable_conv.pointwise_first": "Depthwise first, then pointwise: the k × k depthwise convolution works "
                                           "on the C_in input channels, and the 1 × 1 pointwise convolution maps "
                                           "C_in to C_out.",
    "make_separable_conv.biases": "Neither convolution has a bias here (`bias=False`): in DeepLab v3+ batch norm "
                                  "follows, and the formula k²·C_in + C_in·C_out counts weights only.",
    "make_separable_conv.batch_norm": "This exercise's block is the two convolutions only: batch norm and ReLU come "
                                      "after it, in the network (k²·C_in + C_in·C_out weights, no BatchNorm2d "
                                      "inside).",
    "make_separable_conv.batch_norm_both": "This exercise's block is the two convolutions only: batch norm and ReLU "
                                           "come after it, in the network (k²·C_in + C_in·C_out weights, no "
                                           "BatchNorm2d inside).",
    "make_separable_conv.standard": "This is a standard convolution (k²·C_in·C_out weights): split it into a "
                                    "depthwise k × k convolution (groups=C_in) and a 1 × 1 pointwise one.",
    "make_separable_conv.stride_ignored": "Pass `stride` to the depthwise convolution.",
    "make_separable_conv.padding_not_scaled": "Scale the padding with the dilation, padding = d·(k − 1)/2, so that a"
                                              " stride-1 layer keeps the size: the effective kernel is k + (k − 1)(d"
                                              " − 1).",
    "make_separable_conv.ignores_dilation": "Pass `dilation` to the depthwise convolution (and padding = d·(k − "
                                            "1)/2).",
    "make_separable_conv.relu_between": "A ReLU (or another non-linearity) sits between the two convolutions; this "
                                        "exercise's layer has none (Xception's separable convolution, Chollet 2017).",
    "make_separable_conv.stride_on_pointwise": "Pass `stride` to the depthwise convolution: striding after it wastes"
                                               " s² times the depthwise work (the pointwise 1 × 1 convolution keeps "
                                               "stride 1).",

    # make_aspp
    "make_aspp.general": "Run every branch on x, upsample the pooled one back to H × W (bilinear), concatenate along"
                         " the channels, project.",
    "make_aspp.no_pooling": "ASPP has five branches: a 1 × 1 convolution, three 3 × 3 atrous convolutions and image "
                            "pooling (nn.AdaptiveAvgPool2d(1) → 1 × 1 conv → BN → ReLU, upsampled back to H × W), "
                            "which gives every pixel the image's global context.",
    "make_aspp.conv_bias": "The convolutions have no bias (`bias=False`): batch norm follows each of them.",
    "make_aspp.no_projection": "Project the concatenation back to out_channels with a 1 × 1 convolution "
                               "(5·out_channels → out_channels).",
    "make_aspp.projection_input": "The projection reads the concatenation of all five branches: nn.Conv2d(5 * "
                                  "out_channels, out_channels, 1, bias=False).",
    "make_aspp.layout": "Use torchvision's layout: `self.convs = nn.ModuleList([...five branches...])`, each an "
                        "nn.Sequential (conv, BatchNorm2d, ReLU; the pooling branch starts with "
                        "nn.AdaptiveAvgPool2d(1)), and `self.project = nn.Sequential(conv 1 × 1, BatchNorm2d, ReLU, "
                        "Dropout(0.5))`.",
    "make_aspp.max_pooling": "The image-pooling branch averages the whole map (`nn.AdaptiveAvgPool2d(1)`), it does "
                             "not take the maximum.",
    "make_aspp.project_no_relu": "The projection is conv 1 × 1 → BatchNorm2d → ReLU (then dropout): the ReLU is "
                                 "missing.",
    "make_aspp.branch_order": "Concatenate the branches in torchvision's order: 1 × 1, the three atrous rates (in "
                              "the order given), image pooling.",
    "make_aspp.rates_as_padding": "Each rate is the *dilation* of a 3 × 3 convolution (`dilation=rate, "
                                  "padding=rate`), not its padding alone.",
    "make_aspp.fixed_rates": "Use the `rates` argument, one 3 × 3 branch per rate, as `dilation=rate` (with "
                             "`padding=rate`), not fixed numbers such as DeepLab's (6, 12, 18).",
    "make_aspp.sizes_differ": "The branches' maps have different sizes: give each 3 × 3 atrous convolution "
                              "`padding=rate` (its effective kernel is 2·rate + 1), and upsample the pooled branch "
                              "back to H × W.",

    # mean_field_step
    "mean_field_step.general": "E_i(l) = unary_i(l) + Σ_l' [l ≠ l'] m_i(l'), with m_i(l) = Σ_{j ≠ i} (w_a·K_a[i, j] "
                               "+ w_s·K_s[i, j]) q_j(l); return softmax(−E) over the labels.",
    "mean_field_step.self": "Leave out the self-connection j = i: subtract each kernel's diagonal contribution (k(i,"
                            " i) = 1, times Q_i) from the message, or zero the diagonal of a copy (`k - "
                            "torch.diag(k.diagonal())`, never in place: the same kernels serve every iteration). A "
                            "pixel must not vote for itself.",
    "mean_field_step.plus": "The sign is flipped: Q ∝ exp(−E) with E = unary + pairwise, so take softmax of the "
                            "*negative* energy.",
    "mean_field_step.no_unary": "The unary term is missing: E_i(l) = ψu_i(l) + pairwise_i(l); without ψu the "
                                "network's scores are forgotten.",
    "mean_field_step.no_potts": "Apply the Potts compatibility μ(l, l') = [l ≠ l']: label l is penalised by the "
                                "messages of the *other* labels (message.sum(over labels) − message), not by its "
                                "own.",
    "mean_field_step.sign_potts": "The Potts term penalises disagreement: add (Σ_l' m(l') − m(l)) to the energy, do "
                                  "not subtract it.",
    "mean_field_step.normalised": "Do not normalise the message over the labels before the compatibility transform: "
                                  "the kernel sums carry how many similar pixels vote, and dividing removes it.",
    "mean_field_step.swapped_weights": "The weights are swapped: w_appearance multiplies the appearance (bilateral) "
                                       "kernel, w_smooth the smoothness kernel.",
    "mean_field_step.ignores_q": "The message is computed from the current marginals `q`, not from softmax(−unary): "
                                 "each step starts from the previous step's Q.",
    "mean_field_step.no_softmax": "Normalise over the labels: Q_i(l) = exp(−E_i(l)) / Σ_l' exp(−E_i(l')), i.e. a "
                                  "softmax over dim 0.",
    "mean_field_step.column_major": "The kernels number the pixels row by row (i = row · W + column), as "
                                    "`q.reshape(L, -1)` does; flatten q that way (no transpose) and reshape the "
                                    "result back the same way.",
    "mean_field_step.softmax_pixels": "The softmax runs over the labels (dim 0), not over the pixels: each pixel's "
                                      "marginals sum to 1.",
    "mean_field_step.zero_weights": "With zero weights only the unary is left: Q = softmax(−unary) over the labels "
                                    "(dim 0); the sign or the axis is wrong.",
    "mean_field_step.iterations": "Each step: message from q, Potts compatibility, add the unary, softmax of the "
                                  "negative energy over the labels.",
})
