"""Notebook 07's verdict texts and hints, by key (``engine.messages``)."""

from ..engine.messages import Messages

M = Messages("07_unet", {
    # match_size
    "match_size.general": "For each side, d = target − current; ⌊d/2⌋ before, d − ⌊d/2⌋ after; zeros where rows are "
                          "added, rows removed where d < 0: `F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])`.",
    "match_size.truncate": "`int(d / 2)` rounds toward zero, so a negative odd difference (a crop) comes out one off: "
                           "use floor division `d // 2`.",
    "match_size.top_left": "Centre-align the map: pad (or crop) on both sides, ⌊d/2⌋ before and d − ⌊d/2⌋ after, not "
                           "only at the bottom and right.",
    "match_size.ceil": "Centre-align: put ⌊d/2⌋ rows before (top/left) and the rest, d − ⌊d/2⌋, after (bottom/right): "
                       "`d // 2`, not rounded up.",
    "match_size.resized": "Pad or crop; do not resize: interpolation moves every pixel, while padding and cropping "
                          "keep each pixel where it was relative to the centre.",
    "match_size.pad_order": "`F.pad`'s list starts with the last dimension: (left, right, top, bottom) — the width's "
                            "pair first, then the height's.",
    "match_size.never_crops": "When the map is larger than the target (d < 0), crop it: negative padding in `F.pad` "
                              "removes rows.",
    "match_size.pads_by_abs": "A negative difference means the map is too large: crop it (negative padding in `F.pad` "
                              "removes rows), do not pad by |d|.",
    "match_size.replicate": "Pad with zeros (`F.pad`'s default, mode='constant'), not by repeating the border.",

    # make_unet: the parameter count (each key below is also a `variant` of unet_parameter_count)
    "make_unet.params_differ": "the parameter count differs from the architecture's.",
    "make_unet.params_general": "Count layer by layer: two 3 × 3 convolutions per level (encoder, bottom, decoder), "
                                "a 2 × 2 up-convolution w_{i+1} → w_i before each decoder level, whose first "
                                "convolution reads 2·w_i channels, and a 1 × 1 head.",
    "make_unet.no_skip": "The decoder's first convolution reads 2·w_i channels: the upsampled map (w_i) concatenated "
                         "with the encoder's map of the same level (w_i), `torch.cat([skip, up], dim=1)`.",
    "make_unet.up_keeps_channels": "The 2 × 2 up-convolution halves the channels: nn.ConvTranspose2d(w_{i+1}, w_i, "
                                   "kernel_size=2, stride=2).",
    "make_unet.interpolate_up": "Upsample with the paper's 2 × 2 up-convolution (nn.ConvTranspose2d(w_{i+1}, w_i, 2, "
                                "stride=2)), which also halves the channels, not with interpolation.",
    "make_unet.up_conv_3x3": "The up-convolution is 2 × 2 with stride 2 (`kernel_size=2`).",
    "make_unet.bias_with_bn": "A convolution followed by batch norm needs no bias (`bias=False`, as in "
                              "`segmentation.conv_bn_relu`): batch norm subtracts the mean anyway.",
    "make_unet.ignores_batch_norm": "Follow the `batch_norm` argument: True → conv (no bias) + BatchNorm2d + ReLU; "
                                    "False → conv with bias + ReLU, as in the paper.",
    "make_unet.one_conv_per_level": "Every level has two 3 × 3 convolutions (conv → ReLU → conv → ReLU), in the "
                                    "encoder, at the bottom and in the decoder.",
    "make_unet.head_3x3": "The head is a 1 × 1 convolution from base_channels to num_classes.",
    "make_unet.wrong_depth": "Build `depth` levels (here {depth}); your network has the parameters of depth {wrong}.",

    # make_unet: a forward pass on an odd, non-square input
    "make_unet.odd_sizes": "This is the 7 → 3 → 6 problem: max pooling floors an odd size (7 → 3), the up-convolution "
                           "doubles it (3 → 6), and the skip still has 7 rows. Bring the upsampled map to the skip's "
                           "size before concatenating: `up = match(up, skip.shape[-2:])`.",
    "make_unet.shrinks_to_nothing": "The map shrank to nothing: pad the 3 × 3 convolutions (`padding=1`) so that each "
                                    "keeps the size, as the course's U-Net does.",
    "make_unet.channels_mismatch": "A convolution got a different number of channels than it was built for: the "
                                   "decoder's first convolution reads the concatenation, 2·w_i channels.",
    "make_unet.not_a_tensor": "the forward returned {type}; expected a tensor.",
    "make_unet.forgot_return": "Did you forget a `return` in forward? Return the head's output, (N, num_classes, H, W).",
    "make_unet.wrong_shape": "the output has the wrong shape.",
    "make_unet.lost_rows": "The output lost rows or columns. Pad the 3 × 3 convolutions (`padding=1`), and bring the "
                           "upsampled map to the skip's size (`match(up, skip.shape[-2:])`), not the skip to the "
                           "upsampled map's: cropping the skip drops the row that pooling floored away.",
    "make_unet.input_size": "The output must have the input's height and width.",

    # make_unet: the concatenations torch.cat saw
    "make_unet.no_concat": "decoder level {level} does not concatenate the skip.",
    "make_unet.no_concat_evidence": "expected a torch.cat along dim=1 of two maps of {channels} channels and "
                                    "size {height} × {width}; saw {seen}",
    "make_unet.no_concat_hint": "At each level, concatenate the encoder's map (before pooling) with the upsampled "
                                "map along the channels: `torch.cat([skip, up], dim=1)` — that is the skip "
                                "connection.",
    "make_unet.cat_with_itself": "decoder level {level} concatenates a map with itself.",
    "make_unet.cat_with_itself_hint": "Concatenate two different maps: the encoder's output of that level (saved "
                                      "before pooling) and the upsampled map. A map joined with itself carries no "
                                      "fine detail.",

    # make_unet: the outputs, compared by value with the reference's (same weights)
    "make_unet.general": "Follow the exercise's list layer by layer: encoder levels (double_conv, keep the skip, "
                         "max-pool), the bottom, decoder levels (up-convolution, match, `torch.cat([skip, up], "
                         "dim=1)`, double_conv), and the 1 × 1 head.",
    "make_unet.softmax": "Return the head's output as it is: class scores (logits), no softmax — "
                         "`nn.CrossEntropyLoss` applies log-softmax itself.",
    "make_unet.passed": "Parameter counts ({total:,} for the paper's configuration), output sizes on odd and "
                        "non-square inputs and the skip concatenations match the architecture. The outputs equal the "
                        "reference U-Net's, with the same weights, in eval and in training mode.",

    # unet_output_size (each mistake key is also a `variant` of the size formula)
    "unet_output_size.general": "Follow one side through the U: each level −4 (two valid 3 × 3 convolutions), then "
                                "`// 2`; the bottom −4; then per level ×2 and −4.",
    "unet_output_size.one_conv": "Each 3 × 3 convolution without padding removes 2 pixels (1 on each side), so each "
                                 "level's pair removes 4.",
    "unet_output_size.padded": "The classic U-Net uses unpadded (valid) 3 × 3 convolutions: each removes 2 pixels, "
                               "so the output is smaller than the input.",
    "unet_output_size.ceil": "Max pooling floors odd sizes: `n // 2`, not rounded up.",
    "unet_output_size.true_division": "Sizes are whole numbers: pool with floor division `n // 2`.",
    "unet_output_size.no_bottom": "The bottom of the U (after the last pooling) has its two convolutions too: "
                                  "subtract 4 there.",
    "unet_output_size.no_decoder_convs": "After each up-convolution (×2) the decoder level applies two convolutions: "
                                         "subtract 4 after doubling.",
    "unet_output_size.extra_level": "`depth` counts the poolings (the paper's U-Net has depth 4: 572 → 388).",
})
