"""Notebook 01's verdict texts and hints, by key (``engine.messages``)."""

from ..engine.messages import Messages

M = Messages("01_convolution", {
    # conv1d_full
    "conv1d_full.general": "out[t] = sum over i of signal[i] * kernel[t - i], for every i where both indices are "
                           "inside their tensors.",
    "conv1d_full.no_flip": "Your output equals the cross-correlation: convolution flips the kernel (out[t] uses "
                           "kernel[t - i], not kernel[i - t]); reverse it with `kernel.flip(0)`.",
    "conv1d_full.valid_length": "That is only the 'valid' part, where the kernel fits entirely inside the signal. "
                                "'Full' keeps every shift with at least one sample of overlap: length L + K - 1.",
    "conv1d_full.same_length": "That is the 'same' length max(L, K). 'Full' keeps every shift with at least one "
                               "sample of overlap: length L + K - 1.",
    "conv1d_full.off_by_one": "Off by one: the full convolution of lengths L and K has L + K - 1 samples.",

    # conv2d_true
    "conv2d_true.general": "out[i, j] = sum over m, n of image[i + m, j + n] * kernel[kh - 1 - m, kw - 1 - n].",
    "conv2d_true.no_flip": "Your output equals the cross-correlation: true convolution flips the kernel (index "
                           "K[i - m, j - n]), e.g. `kernel.flip(0, 1)` before sliding it.",
    "conv2d_true.flip_lr_only": "The kernel was flipped left–right only (`flip(1)`); flip it up–down too: "
                                "`kernel.flip(0, 1)`.",
    "conv2d_true.flip_ud_only": "The kernel was flipped up–down only (`flip(0)`); flip it left–right too: "
                                "`kernel.flip(0, 1)`.",
    "conv2d_true.transposed": "The kernel was transposed, not flipped: flipping reverses both axes "
                              "(`kernel.flip(0, 1)`), it does not swap them.",
    "conv2d_true.full_size": "That is the 'full' size. This exercise keeps only positions where the kernel lies "
                             "entirely inside the image: (H - kh + 1, W - kw + 1).",
    "conv2d_true.same_size": "That is the 'same' size. This exercise keeps only positions where the kernel lies "
                             "entirely inside the image: (H - kh + 1, W - kw + 1).",
    "conv2d_true.off_by_one": "Off by one in the output size: it is (H - kh + 1, W - kw + 1).",
    "conv2d_true.swapped_hw": "Height and width are swapped: the output is (H - kh + 1, W - kw + 1), rows first.",

    # conv2d (and conv2d_im2col, which has the same contract)
    "conv2d.general": "out[b, o, i, j] = bias[o] + sum over c, m, n of x_padded[b, c, i*s + m*d, j*s + n*d] * "
                      "weight[o, c, m, n].",
    "conv2d.flipped": "Your output equals a *true* convolution (kernel flipped). Deep-learning conv layers, like "
                      "F.conv2d, compute cross-correlation: slide the kernel as it is, without flipping.",
    "conv2d.no_bias": "The bias is missing: add bias[c_out] to every output position of channel c_out.",
    "conv2d.first_channel_only": "Only the first input channel contributes: one kernel spans all C_in input "
                                 "channels, and the products are summed over channels too.",
    "conv2d.channels_last": "The output is channels-last (N, H_out, W_out, C_out); PyTorch uses "
                            "(N, C_out, H_out, W_out).",
    "conv2d.padding_ignored": "Padding is ignored: pad x with `padding` zeros on both sides of H and of W before "
                              "sliding the kernel.",
    "conv2d.stride_ignored": "Stride is ignored: move the window `stride` pixels at a time, so output position i "
                             "reads input row i * stride.",
    "conv2d.dilation_ignored": "Dilation is ignored: kernel tap m reads input row i * stride + m * dilation; the "
                               "kernel spans d·(k−1)+1 pixels.",
    "conv2d.hw_swapped": "Height and width settings are swapped: a tuple like stride=(2, 1) means "
                         "(along H, along W).",
    "conv2d.padding_one_side": "Pad both sides: p rows of zeros at the top and p at the bottom, p columns left and p "
                               "right (`F.pad(x, (pw, pw, ph, ph))`), not one side only.",
    "conv2d.pair_one_value": "One value of a pair is used along both axes: stride, padding and dilation may each "
                             "be a pair (along H, along W), e.g. dilation=(1, 2). Unpack each into its H and W "
                             "values (`dh, dw = pair(dilation)`) and use each along its own axis.",
    "conv2d.off_by_one": "Off by one in the output size: H_out = ⌊(H + 2p − d(k−1) − 1) / s⌋ + 1.",

    # conv2d_im2col: speed and vectorisation
    "conv2d_im2col.loops": "Build the patch matrix for all positions at once with `Tensor.unfold` (or indexing), "
                           "then do a single matrix product with the weights as (C_out, C_in·kh·kw).",
    "conv2d_im2col.refused_unfold": "the im2col step itself, which this exercise asks you to build",
    "conv2d_im2col.refused_unfold_hint": "Build the patch matrix yourself (`Tensor.unfold` along H and W, or "
                                         "indexing), then one matrix product; `{called}` does that step for you.",
    "conv2d_im2col.slow": "Avoid Python loops and per-element work: one `unfold`-style gather, one reshape, one "
                          "matmul.",

    # conv_output_size
    "conv_output_size.general": "size_out = ⌊(size + 2·padding − dilation·(kernel_size − 1) − 1) / stride⌋ + 1.",
    "conv_output_size.not_floored": "Round down: the window only counts when it fits entirely, so use floor "
                                    "division `(size + 2*padding - dilation*(kernel_size - 1) - 1) // stride + 1`.",
    "conv_output_size.no_plus_one": "Missing the +1: the first window position counts too.",
    "conv_output_size.dilation_ignored": "Dilation is ignored: a dilated kernel spans dilation·(k−1)+1 pixels.",
    "conv_output_size.span": "A kernel of k taps dilation pixels apart spans dilation·(k − 1) + 1 pixels, not "
                             "dilation·k.",
    "conv_output_size.padding_once": "Padding is added on both sides: use 2·padding.",
    "conv_output_size.rounded_up": "Rounded up: a window that sticks out past the (padded) edge does not count; "
                                   "use floor.",

    # conv_param_count
    "conv_param_count.general": "params = (kh · kw · C_in + 1) · C_out with a bias, without the +1 otherwise.",
    "conv_param_count.no_bias": "The bias is missing: with bias=True each output channel has one bias.",
    "conv_param_count.bias_when_false": "With bias=False there is no bias term at all.",
    "conv_param_count.no_input_channels": "The input channels are missing: each filter is kh × kw × C_in.",
    "conv_param_count.bias_per_pair": "There is one bias per output channel, not one per (input, output) pair.",
    "conv_param_count.one_side_only": "A kernel of size k has k × k weights per channel (or kh × kw for a tuple).",
    "conv_param_count.kh_squared": "For a tuple kernel_size=(kh, kw) use kh × kw, not kh × kh.",
})
