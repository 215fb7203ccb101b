"""Checks for the course's exercises.

Each ``check_<exercise>(learner_function, *, strict=False, seed=0, extended=False)``
returns a :class:`CheckResult` that renders itself and is truthy only when the
check passed.  ``strict=True`` raises :class:`CheckFailed` (an
``AssertionError``) instead, which is how the nbgrader cells use them;
``extended=True`` adds the harder cases the hidden tests use.
"""

from ._engine import (INCORRECT, NOT_ATTEMPTED, OUTCOMES, PASSED, RAISED, UNCHECKABLE, CheckFailed,
                      CheckResult)
from .architectures import (check_bottleneck_params, check_make_alexnet, check_make_inception,
                            check_make_mini_googlenet, check_make_vgg, check_vgg_stack_params)
from .densenet import (check_compound_scaling, check_deform_conv_zero_offset, check_densenet_channels,
                       check_make_dense_block, check_make_dense_layer, check_make_densenet, check_make_se_block,
                       check_make_transition)
from .blocks import (check_avg_pool2d, check_batch_norm, check_make_digits_cnn, check_max_pool2d,
                     check_receptive_field, check_softmax)
from .resnet import (check_first_layer_grad_norm, check_make_basic_block, check_make_resnet18,
                     check_resnet18_shapes)
from .fcn import (check_bilinear_kernel, check_confusion_matrix, check_conv_transpose2d,
                  check_conv_transpose_output_size, check_convolutionalize, check_segmentation_scores)
from .unet import check_make_unet, check_match_size, check_unet_output_size
from .deeplab import check_atrous_conv2d, check_make_aspp, check_make_separable_conv, check_mean_field_step
from .detection import (check_box_iou, check_decode_boxes, check_encode_boxes, check_make_anchors, check_nms,
                        check_roi_pool, check_spatial_pyramid_pool)
from .conv import (check_conv1d_full, check_conv2d, check_conv2d_im2col, check_conv2d_true,
                   check_conv_output_size, check_conv_param_count)

__all__ = ["CheckResult", "CheckFailed", "OUTCOMES", "PASSED", "INCORRECT", "NOT_ATTEMPTED", "RAISED",
           "UNCHECKABLE", "check_conv1d_full", "check_conv2d_true", "check_conv2d", "check_conv_output_size",
           "check_conv_param_count", "check_conv2d_im2col", "check_max_pool2d", "check_avg_pool2d",
           "check_batch_norm", "check_softmax", "check_receptive_field", "check_make_digits_cnn",
           "check_make_alexnet", "check_make_vgg", "check_vgg_stack_params", "check_bottleneck_params",
           "check_make_inception", "check_make_mini_googlenet",
           "check_make_dense_layer", "check_make_dense_block", "check_make_transition", "check_densenet_channels",
           "check_make_densenet", "check_make_se_block", "check_compound_scaling", "check_deform_conv_zero_offset",
           "check_make_basic_block", "check_make_resnet18", "check_resnet18_shapes", "check_first_layer_grad_norm",
           "check_convolutionalize", "check_conv_transpose2d", "check_conv_transpose_output_size",
           "check_bilinear_kernel", "check_confusion_matrix", "check_segmentation_scores",
           "check_match_size", "check_make_unet", "check_unet_output_size",
           "check_atrous_conv2d", "check_make_separable_conv", "check_make_aspp", "check_mean_field_step",
           "check_box_iou", "check_nms", "check_spatial_pyramid_pool", "check_roi_pool", "check_make_anchors",
           "check_encode_boxes", "check_decode_boxes"]
