"""Notebook 02's verdict texts and hints, by key (``engine.messages``)."""

from ..engine.messages import Messages

M = Messages("02_building_blocks", {
    # max_pool2d and avg_pool2d (one contract, one set of cases)
    "max_pool2d.general": "out[n, c, i, j] = max over the window x_padded[n, c, i*s : i*s + k, j*s : j*s + k].",
    "avg_pool2d.general": "out[n, c, i, j] = sum of the window of x_padded, divided by kh·kw.",
    "pool2d.other_kind": "This is the other pooling: max pooling keeps the largest value of each window, average "
                         "pooling its mean.",
    "pool2d.stride_default": "stride=None means stride = kernel_size (non-overlapping windows), not 1.",
    "pool2d.stride_default_side": "stride=None means stride = kernel_size along each axis: a (kh, kw) kernel "
                                  "strides kh along H and kw along W, not one of its sides along both.",
    "pool2d.padding_ignored": "Padding is ignored: pad both sides of H and W before pooling.",
    "pool2d.ceil_mode": "Windows that stick out past the edge are dropped (floor, as in a convolution): "
                        "H_out = ⌊(H + 2p − k)/s⌋ + 1.",
    "pool2d.off_by_one": "Off by one in the output size: H_out = ⌊(H + 2p − k)/s⌋ + 1.",
    "pool2d.channels_dropped": "Pooling works on each channel separately; the channel dimension must stay.",
    # refused while the learner's code runs: the library's other poolings (the exercise's own is the reference)
    "pool2d.refused_other_pooling": "another of the library's pooling functions, which would slide the window for you",
    "pool2d.refused_other_pooling_hint": "Take each window yourself by indexing the padded input, and reduce it; "
                                         "`{called}` pools for you.",
    "max_pool2d.zero_padding": "The padding was filled with zeros, which can win the max: max pooling pads with "
                               "-inf, so padding never changes a result.",
    "avg_pool2d.padding_not_counted": "The padded zeros must count in the divisor (PyTorch's default "
                                      "count_include_pad=True): divide every window by kh·kw.",
    "avg_pool2d.window_sum": "That is the window *sum*; average pooling divides it by kh·kw.",

    # batch_norm: the key of each mistake is also the switch that computes its answer (_bn_mistake)
    "batch_norm.general": "x̂ = (x − mean) / sqrt(var + eps) per channel over (N, H, W); y = γ·x̂ + β.",
    "batch_norm.refused_other_norm": "another of the library's normalisations, which would compute the statistics "
                                     "for you",
    "batch_norm.refused_other_norm_hint": "Compute each channel's mean and variance over (N, H, W) yourself with "
                                          "`mean` and arithmetic; `{called}` normalises for you.",
    "batch_norm.biased_running_var": "The running variance is updated with the *unbiased* batch variance (divide "
                                     "by m − 1, m = N·H·W), while the normalisation uses the biased one (divide "
                                     "by m).",
    "batch_norm.unbiased_normalisation": "Normalise with the *biased* batch variance (divide by m = N·H·W); only "
                                         "the running variance uses the unbiased one.",
    "batch_norm.swapped_momentum": "Momentum is the weight of the *new* statistic: running = (1 − momentum)·running "
                                   "+ momentum·batch.",
    "batch_norm.running_in_training": "In training mode, normalise with the statistics of this batch, not the "
                                      "running ones.",
    "batch_norm.per_sample": "The statistics are per channel, over (N, H, W): mean over dims (0, 2, 3).",
    "batch_norm.no_update": "The running statistics were not updated in training mode.",
    "batch_norm.batch_in_eval": "In eval mode, normalise with the running statistics, not the batch's.",
    "batch_norm.update_in_eval": "In eval mode the running statistics stay as they are.",
    "batch_norm.swapped_affine": "γ (weight) scales and β (bias) shifts: y = γ·x̂ + β; they look swapped.",
    "batch_norm.eps_outside_sqrt": "eps goes inside the square root: x̂ = (x − mean) / sqrt(var + eps), not "
                                   "(x − mean) / (sqrt(var) + eps); they differ where a channel's variance is small.",
    "batch_norm.no_eps": "eps is missing: x̂ = (x − mean) / sqrt(var + eps). It keeps a channel of tiny variance "
                         "from being blown up (or divided by zero).",
    "batch_norm.fixed_eps": "Use the `eps` that was passed, not the default 1e-5: x̂ = (x − mean) / sqrt(var + eps).",

    # softmax
    "softmax.general": "softmax(z)_i = exp(z_i − m) / Σ_j exp(z_j − m), m = max of z along dim.",
    "softmax.unstable": "Unstable: exp of large logits overflows to inf (or underflows to 0 for all). Subtract the "
                        "max along `dim` first: softmax(z) = softmax(z − max z), mathematically identical.",
    "softmax.wrong_dim": "Softmax normalises along `dim` only; this looks normalised along another dimension.",
    "softmax.whole_tensor": "The whole tensor was normalised at once; normalise along `dim` so each slice sums to 1.",
    "softmax.log_softmax": "That is log-softmax; softmax is its exponential.",
    "softmax.global_max": "Subtract the max of each slice along `dim` (keepdim=True), not one global max: slices "
                          "far below the global max underflow to 0/0.",

    # receptive_field
    "receptive_field.general": "Start with r = 1, j = 1; for each layer: r += d·(k − 1)·j, then j *= s.",
    "receptive_field.no_stride": "Strides are ignored: after a stride-s layer, one step in its output is s steps in "
                                 "its input, so later kernels reach further: r += (k − 1)·j, with j the product of "
                                 "the earlier strides.",
    "receptive_field.own_stride": "The jump j multiplies the strides of the layers *before* this one: add "
                                  "(k − 1)·j, then update j ← j·s.",
    "receptive_field.no_dilation": "Dilation is ignored: a dilated kernel spans d·(k − 1) + 1 pixels.",
    "receptive_field.sum_kernels": "Kernel sizes do not simply add up: each layer adds k − 1 steps of size j (the "
                                   "jump).",
    "receptive_field.product": "Receptive fields grow by adding, not multiplying: r += (k − 1)·j.",

    # make_digits_cnn: no canonical reference (the learner designs it): probes
    "make_digits_cnn.not_a_module": "Return the model, e.g. `return nn.Sequential(...)`.",
    "make_digits_cnn.no_conv": "This exercise builds a CNN: start with nn.Conv2d layers, then pool, then a small "
                               "dense head.",
    "make_digits_cnn.too_big": "Use fewer channels or a smaller dense layer (pooling shrinks what the dense layer "
                               "sees).",
    "make_digits_cnn.head": "End with nn.Flatten() and nn.Linear(features, 10): one score per digit.",
    "make_digits_cnn.lost_batch": "A batch of one image lost its batch dimension: `squeeze()` (or a reshape to "
                                  "(-1,)) drops every size-1 dimension. Keep it with nn.Flatten() or x.flatten(1), "
                                  "so that the scores are (N, 10) for any N, 1 included.",
    "make_digits_cnn.softmax": "Return logits, not probabilities: leave out the final softmax (F.cross_entropy "
                               "applies log-softmax itself).",
    "make_digits_cnn.trained_argument": "Pass the model you trained (e.g. `trained=digits_model`), not the history "
                                        "that `fit` returns or the function that builds it.",
    "make_digits_cnn.not_accurate": "Train longer or with a learning-rate schedule; batch norm after each "
                                    "convolution and a little dropout before the dense layer help.",
})
