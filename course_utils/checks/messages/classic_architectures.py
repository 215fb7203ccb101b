"""Notebook 03's verdict texts and hints, by key (``engine.messages``)."""

from ..engine.messages import Messages

M = Messages("03_classic_architectures", {
    # make_alexnet: torchvision's single-GPU AlexNet, compared by value with the same weights
    "make_alexnet.layout": "torchvision follows the single-GPU AlexNet: convs 64 (11×11/4, pad 2), 192 (5×5, pad 2), "
                           "384, 256, 256 (3×3, pad 1); 3×3/2 max pools after convs 1, 2 and 5; adaptive average "
                           "pool to 6×6; dense 9216 → 4096 → 4096 → classes.",
    "make_alexnet.raised": "The check runs images of other sizes than 224×224 ({size}): an adaptive average pool to 6×6 "
                           "before the dense layers makes their input 256·6·6 = 9216 whatever the image size.",
    "make_alexnet.no_relu": "The ReLUs are missing: every convolution and the first two dense layers are followed "
                            "by nn.ReLU; without them the network is one linear map between max pools.",
    "make_alexnet.missing_pool": "The parameters match but the feature maps have the wrong size: check every "
                                 "stride, padding and pooling layer (the adaptive pool hides a missing one from "
                                 "the output shape).",
    "make_alexnet.passed": "The outputs equal torchvision's alexnet ({total:,} parameters for 1000 classes) with the "
                           "same weights, in eval and in training mode.",

    # make_vgg
    "make_vgg.layout": "Each number in cfg is a 3×3 conv (padding 1) from the previous channel count, followed by "
                       "ReLU (with batch_norm: conv, BatchNorm2d, ReLU); 'M' is a 2×2/2 max pool. Then adaptive "
                       "average pool to 7×7 and dense 512·7·7 → 4096 → 4096 → classes.",
    "make_vgg.raised": "The check runs images smaller than 224×224 ({size}): every 3×3 convolution keeps H and W "
                       "(padding 1), every 'M' halves them (a 2×2 max pool with stride 2, no more), and an adaptive "
                       "average pool to 7×7 before the dense layers makes their input 512·7·7 whatever the image "
                       "size.",
    "make_vgg.passed": "The outputs equal torchvision's {names} with the same weights (in eval and in training "
                       "mode; the second configuration in eval mode).",

    # vgg_stack_params
    "vgg_stack_params.general": "A k×k conv from C to C channels has k·k·C·C weights, plus C biases with bias=True.",
    "vgg_stack_params.one_layer": "Three layers, each 3·3·C·C weights (+ C biases): multiply one layer by 3.",
    "vgg_stack_params.no_input_channels": "A k×k kernel from C to C channels has k·k·C·C weights: the input "
                                          "channels count too.",

    # bottleneck_params
    "bottleneck_params.general": "direct = k·k·C_in·C_out; reduced = C_in·C_mid + k·k·C_mid·C_out.",
    "bottleneck_params.no_reduction": "The reduced path has two convolutions: 1×1 from C_in to C_mid, then k×k from "
                                      "C_mid to C_out.",
    "bottleneck_params.c_mid_only": "The 1×1 convolution still has C_in·C_mid weights (one per input-output pair).",

    # make_inception: the paper's module, compared by value with the same weights
    "make_inception.structure": "Six convolutions, all with bias: 1×1 (c1); 1×1 (c3_reduce) → 3×3 (c3); 1×1 "
                                "(c5_reduce) → 5×5 (c5); max pool → 1×1 (pool_proj).",
    "make_inception.raised": "Every branch must keep H and W: padding 1 for 3×3, 2 for 5×5, and the max pool is 3×3 "
                             "with stride 1 and padding 1. torch.cat joins the branches along channels (dim=1), so "
                             "only their channel counts may differ.",
    "make_inception.branch_order": "Concatenate in the paper's order: [1×1, 3×3, 5×5, pool projection].",
    "make_inception.missing_branch": "Concatenate the four branches along the channel dimension (dim=1).",
    "make_inception.missing_relu": "Each branch ends with a ReLU (after its last convolution).",
    "make_inception.inner_relu": "A ReLU follows each 1×1 reduction too, before the 3×3 and the 5×5 convolution.",
    "make_inception.passed": "The outputs equal those of the paper's inception module with the same weights.",

    # make_mini_googlenet: auxiliary heads in training only (probes; values: the statement's forward)
    "make_mini_googlenet.three_outputs": "In forward: `if self.training: return logits, aux1, aux2`.",
    "make_mini_googlenet.no_gradient": "Each auxiliary head must be computed from an intermediate feature map of "
                                       "the same network (not a detached copy, not under torch.no_grad()).",
    "make_mini_googlenet.logits_alone": "Auxiliary classifiers only help training; at test time return `logits`.",
    "make_mini_googlenet.output_order": "Return `(logits, aux1, aux2)`: the main logits first.",
    "make_mini_googlenet.heads_in_eval": "Compute aux1 and aux2 only `if self.training:`; in eval they waste time.",
    "make_mini_googlenet.layers": "Keep the notebook's layers (stem, block1, block2, block3, aux1, aux2, head) and "
                                  "write forward only.",
    "make_mini_googlenet.values": "logits = head(block3(block2(block1(stem(x))))); in training also aux1 applied to "
                                  "block1's output and aux2 to block2's, returned as (logits, aux1, aux2).",
    "make_mini_googlenet.passed": "Three outputs in training, logits alone in eval, the auxiliary heads feed the "
                                  "first layer; the outputs equal those of the statement's forward on the model's own "
                                  "layers, in eval and in training mode.",
})
