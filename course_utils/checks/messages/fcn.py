"""Notebook 06's verdict texts and hints, by key (``engine.messages``)."""

from ..engine.messages import Messages

M = Messages("06_fcn", {
    # convolutionalize
    "convolutionalize.general": "conv.weight = linear.weight.view(out_features, C, H, W); conv.bias = linear.bias.",
    "convolutionalize.returned_none": "`convolutionalize` returned None.",
    "convolutionalize.forgot_return": "Did you forget a `return`? Return the nn.Conv2d.",
    "convolutionalize.not_a_conv": "`convolutionalize` returned {type}; expected an nn.Conv2d.",
    "convolutionalize.linear_changed": "the dense layer's weights changed.",
    "convolutionalize.writes_into_linear": "Copy the weights into the convolution; do not write into the dense layer.",
    "convolutionalize.weight_shape": "the convolution's weight has the wrong shape.",
    "convolutionalize.kernel_size": "The kernel covers the whole (H, W) input: nn.Conv2d(C, out_features, "
                                    "kernel_size=(H, W)).",
    "convolutionalize.out_channels": "One output channel per output feature of the dense layer: out_channels = "
                                     "out_features.",
    "convolutionalize.bias_differs": "the bias does not match the dense layer's.",
    "convolutionalize.bias_presence": "Give the convolution a bias exactly when the dense layer has one, and copy it.",
    "convolutionalize.hwc_order": "The weights are laid out in the wrong order: `linear.weight` flattens (C, H, W) "
                                  "channel first, so reshape it to (out_features, C, H, W) — not (…, H, W, C).",
    "convolutionalize.bias_not_copied": "Copy the bias too: `conv.bias.copy_(linear.bias)` (a new layer's bias holds "
                                        "random initial values).",
    "convolutionalize.passed": "The convolutions compute the dense layers exactly, at the training size and on larger "
                               "inputs.",

    # conv_transpose2d
    "conv_transpose2d.general": "Each input pixel x[n, :, a, b] stamps the kernel into the output at (a·s, b·s) "
                                "(weighted sum over C_in), windows add up, then padding crops p from each border and "
                                "output_padding extends the bottom/right.",
    "conv_transpose2d.loops": "Loop over the kernel's kH × kW taps, not over pixels: tap (i, j) adds "
                              "`torch.einsum(\"nchw,cd->ndhw\", x, weight[:, :, i, j])` into the strided slice "
                              "out[:, :, i : i + s·H : s, j : j + s·W : s] — all input pixels at once.",
    "conv_transpose2d.assigns": "Where kernel windows overlap, their contributions add up (overlap-add): use `+=`, "
                                "not `=`, when writing into the output.",
    "conv_transpose2d.flipped": "The kernel is used as it is in a transposed convolution (each input pixel stamps "
                                "weight[:, :, i, j] at offset (i, j)); do not flip it.",
    "conv_transpose2d.weight_out_in": "The weight of a transposed convolution is (C_in, C_out, kH, kW), input "
                                      "channels first (the reverse of nn.Conv2d's): weight[:, :, i, j] maps C_in to "
                                      "C_out.",
    "conv_transpose2d.no_bias": "The bias is missing: add bias[d] to every output pixel of channel d, once, after "
                                "cropping.",
    "conv_transpose2d.bias_per_stamp": "Add the bias once per output pixel (after the overlap-add), not to every "
                                       "stamp: where stamps overlap it is counted several times.",
    "conv_transpose2d.padding_ignored": "In a transposed convolution `padding` crops p rows and columns from each "
                                        "border of the full overlap-add output.",
    "conv_transpose2d.crops_one_side": "padding p crops p rows and columns from *each* side of the full output, so the "
                                       "size shrinks by 2p.",
    "conv_transpose2d.output_padding_ignored": "output_padding adds rows/columns at the bottom/right end of the "
                                               "output: the size is (H − 1)·s − 2p + k + output_padding.",
    "conv_transpose2d.first_axis_only": "stride, padding and output_padding may be (height, width) pairs that differ: "
                                        "use the second value for the width.",

    # conv_transpose_output_size
    "conv_transpose_output_size.general": "out = (n − 1)·stride − 2·padding + dilation·(kernel_size − 1) + "
                                          "output_padding + 1.",
    "conv_transpose_output_size.no_output_padding": "Forgot output_padding: it adds to the size.",
    "conv_transpose_output_size.pads_once": "padding crops from both sides: subtract 2·p, not p.",
    "conv_transpose_output_size.stretch": "The input grid is stretched to (n − 1)·s + 1 positions, not n·s.",
    "conv_transpose_output_size.n_times_s": "The last input pixel's stamp starts at (n − 1)·s, not n·s.",
    "conv_transpose_output_size.no_dilation": "A dilated kernel spans d·(k − 1) + 1 pixels.",
    "conv_transpose_output_size.span": "A kernel of k taps d pixels apart spans d·(k − 1) + 1 pixels, not d·k: out = "
                                       "(n − 1)·s − 2p + d·(k − 1) + output_padding + 1.",
    "conv_transpose_output_size.no_plus_one": "Missing the + 1: the last stamp starts at (n − 1)·s and covers "
                                              "d·(k − 1) + 1 pixels, its first one included.",
    "conv_transpose_output_size.output_padding_twice": "output_padding is added once, at one side (the bottom or "
                                                       "the right), not twice.",
    "conv_transpose_output_size.conv_formula": "That inverts the convolution formula the wrong way round: the "
                                               "transposed size is (n − 1)·s − 2p + d·(k − 1) + output_padding + 1.",

    # overlap_counts
    "overlap_counts.general": "Input pixel a with tap i lands on output a·s + i − p: allocate the full (H − 1)·s + k "
                              "by (W − 1)·s + k map, add 1 for every (input pixel, tap) pair in both directions, "
                              "then crop p from each border.",
    "overlap_counts.refused_fold": "the overlap-add itself (it sums overlapping patches), which this exercise asks "
                                   "you to count",
    "overlap_counts.refused_fold_hint": "Count the stamps yourself: input pixel a with tap i lands on output "
                                        "a·s + i − p; add 1 there for every pair, then crop the padding.",
    "overlap_counts.no_overlap": "Where two stamps overlap, their taps add up: count with `+= 1`, not `= 1` (a pixel "
                                 "covered by two stamps receives two taps).",
    "overlap_counts.added": "The counts along the rows and along the columns multiply, not add: output pixel (o, o') "
                            "receives one tap for every pair (row tap, column tap), rows[o]·cols[o'].",
    "overlap_counts.swapped": "Kernel size and stride are exchanged: each stamp is kernel_size wide and consecutive "
                              "stamps start stride apart.",
    "overlap_counts.n_times_s": "The last input pixel's stamp starts at (H − 1)·s and is k wide: the full map has "
                                "(H − 1)·s + k rows, not H·s (then p is cropped from each border).",
    "overlap_counts.padding_ignored": "`padding` p crops p rows and columns from each border of the full map, as in "
                                      "a transposed convolution: (H − 1)·s + k − 2p rows.",
    "overlap_counts.wrong_dtype": "the output has the wrong dtype.",
    "overlap_counts.float_counts": "Counts are whole numbers: return an integer tensor (`torch.zeros(..., "
                                   "dtype=torch.int64)`, or `.long()` at the end).",

    # bilinear_kernel
    "bilinear_kernel.general": "t[i] = 1 − |i − centre| / factor for i = 0 … k − 1 (centre = factor − 1 if k is odd, "
                               "else factor − 0.5); weight[c, c] = outer(t, t); zeros elsewhere.",
    "bilinear_kernel.size": "The kernel size is 2·factor − factor % 2.",
    "bilinear_kernel.mixes_channels": "Each channel is upsampled on its own: weight[c, c] holds the kernel and "
                                      "weight[c, d] = 0 for d ≠ c.",
    "bilinear_kernel.centre": "The tent is centred at factor − 1 when the kernel size is odd and at factor − 0.5 "
                              "when it is even.",
    "bilinear_kernel.not_divided": "Divide by the factor: t[i] = 1 − |i − centre| / factor, so that the tent is 1 at "
                                   "its centre.",
    "bilinear_kernel.sums_to_one": "Do not normalise the kernel to sum 1: each output pixel receives several stamps, "
                                   "and the tents (1 at the centre) already make their weights add up to 1.",
    "bilinear_kernel.wrong_dtype": "the output has the wrong dtype.",
    "bilinear_kernel.dtype": "A layer's weight is float32: build the tent with `torch.arange(k, dtype=torch.float32)`, "
                             "or convert with `.float()` (numpy gives float64).",

    # confusion_matrix
    "confusion_matrix.general": "keep = target != ignore_index; index = target[keep] * K + pred[keep]; "
                                "torch.bincount(index, minlength=K * K).reshape(K, K).",
    "confusion_matrix.transposed": "Rows are the true classes and columns the predictions: matrix[t, p] counts pixels "
                                   "of true class t predicted as p.",
    "confusion_matrix.ignore_is_class": "Drop the pixels whose *target* is ignore_index (even when it is also a class "
                                        "id).",
    "confusion_matrix.unmasked": "Drop the pixels whose target equals ignore_index before counting (`keep = target != "
                                 "ignore_index`): an ignore label of 255 or −1 is not a class, so it cannot index the "
                                 "matrix.",
    "confusion_matrix.sized_by_pixels": "A class may be on no pixel at all: size the counts by num_classes, not by "
                                        "the largest label present — `torch.bincount(index, minlength=K * K)`, "
                                        "`F.one_hot(labels, num_classes=K)`.",
    "confusion_matrix.wrong_dtype": "the output has the wrong dtype.",
    "confusion_matrix.loops": "No Python loop over pixels (nor over their .tolist() or NumPy copy): "
                              "`torch.bincount(target[keep] * K + pred[keep], minlength=K * K)` counts every "
                              "(true, predicted) pair at once; reshape it to (K, K).",
    "confusion_matrix.float_counts": "Counts are whole numbers: return an integer tensor (`torch.bincount` gives "
                                     "int64; convert a float product with `.long()`).",

    # segmentation_scores
    "segmentation_scores.return_none": "Did you forget a `return`? Return `pixel_accuracy, mean_iou, iou`.",
    "segmentation_scores.not_a_triple": "`{name}` returned {what}; expected (pixel_accuracy, mean_iou, iou).",
    "segmentation_scores.return_tuple": "Return a tuple: two floats and a tensor of one IoU per class.",
    "segmentation_scores.not_a_float": "{part} is {type}; expected a float.",
    "segmentation_scores.return_floats": "Return Python floats (`.item()` on a 0-d tensor).",
    "segmentation_scores.iou_shape": "iou must be a tensor with one value per class.",
    "segmentation_scores.iou_definition": "iou[c] = TP_c / (TP_c + FP_c + FN_c) for every class c.",
    "segmentation_scores.pixel_accuracy_wrong": "the pixel accuracy is wrong.",
    "segmentation_scores.pixel_accuracy": "Pixel accuracy = correctly classified pixels / all counted pixels = "
                                          "trace / sum.",
    "segmentation_scores.iou_wrong": "the per-class IoU is wrong.",
    "segmentation_scores.iou_general": "iou[c] = TP / (TP + FP + FN): TP = m[c, c], FP = column sum − TP, FN = row "
                                       "sum − TP.",
    "segmentation_scores.absent_nan": "A class absent from both truth and prediction has union 0: its IoU is "
                                      "undefined — return NaN for it (0/0 in floating point gives NaN), never 0 or 1.",
    "segmentation_scores.mean_iou_wrong": "the mean IoU is wrong.",
    "segmentation_scores.mean_iou_general": "mean IoU = the mean of iou over the classes whose IoU is defined "
                                            "(`torch.nanmean(iou)`).",
    "segmentation_scores.dice": "That is the Dice coefficient 2·TP / (2·TP + FP + FN); IoU is TP / (TP + FP + FN).",
    "segmentation_scores.recall": "That is the per-class accuracy (recall, TP / (TP + FN)); IoU also counts false "
                                  "positives: TP / (TP + FP + FN).",
    "segmentation_scores.integer_division": "Integer division rounds every IoU below 1 down to 0: convert the counts "
                                            "to float first (`matrix.double()`).",
    "segmentation_scores.mean_recall": "That is the mean of per-class accuracies (recall, TP / (TP + FN)); IoU also "
                                       "counts false positives: TP / (TP + FP + FN).",
    "segmentation_scores.mean_over_true_classes": "A class that no pixel truly has but the model predicts has IoU "
                                                  "0 / FP = 0, and it counts in the mean: only a class absent from "
                                                  "both truth and prediction (0 / 0) is left out.",
    "segmentation_scores.mean_absent_as_zero": "A class absent from both truth and prediction has no IoU (0/0): leave "
                                               "it out of the mean (NaN, then `torch.nanmean`), do not count it as 0.",
})
