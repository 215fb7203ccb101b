"""The check's own U-Net (Ronneberger, Fischer & Brox, 2015), written from notebook 07's description.

One class serves both checks: padded with batch norm or not (``make_unet``'s
reference, the course's U-Net) and unpadded without batch norm, skips
centre-cropped (the paper's "valid" U-Net, for ``unet_output_size``).
Attributes switch the forward pass to an equally correct form (the other
concatenation order) or to a known mistake, so that a check can compute what
that network would answer with the same weights.
"""

from __future__ import annotations

from .match_size import reference_match

_UNET = None


def reference_unet_class():
    """``ReferenceUNet(in_channels, num_classes, depth, base_channels, batch_norm, padding)``, built on first use."""
    global _UNET
    if _UNET is None:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        def conv3(a, b, batch_norm, padding):
            if batch_norm:   # course_utils.segmentation.conv_bn_relu: no bias before batch norm
                return [nn.Conv2d(a, b, 3, padding=padding, bias=False), nn.BatchNorm2d(b), nn.ReLU()]
            return [nn.Conv2d(a, b, 3, padding=padding), nn.ReLU()]

        def double(a, b, batch_norm, padding):
            return nn.Sequential(*conv3(a, b, batch_norm, padding), *conv3(b, b, batch_norm, padding))

        class ReferenceUNet(nn.Module):
            def __init__(self, in_channels=1, num_classes=2, depth=4, base_channels=64, batch_norm=True, padding=1):
                super().__init__()
                w = [base_channels * 2 ** i for i in range(depth + 1)]
                self.down = nn.ModuleList(double(in_channels if i == 0 else w[i - 1], w[i], batch_norm, padding)
                                          for i in range(depth))
                self.bottom = double(w[depth - 1], w[depth], batch_norm, padding)
                self.up = nn.ModuleList(nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2) for i in range(depth))
                self.dec = nn.ModuleList(double(2 * w[i], w[i], batch_norm, padding) for i in range(depth))
                self.head = nn.Conv2d(w[0], num_classes, 1)
                self.crop_skip = padding == 0   # the paper crops the skip to the upsampled map
                self.skip_first = True          # torch.cat([skip, up]); False: [up, skip], equally correct
                self.joins_itself = False       # a known mistake: torch.cat([up, up])

            def forward(self, x):
                skips = []
                for block in self.down:
                    x = block(x)                                  # (N, w_i, H_i, W_i)
                    skips.append(x)
                    x = F.max_pool2d(x, kernel_size=2)            # floors odd sizes
                x = self.bottom(x)
                for i in reversed(range(len(skips))):
                    up, skip = self.up[i](x), skips[i]
                    if self.crop_skip:
                        skip = reference_match(skip, up.shape[-2:])
                    else:
                        up = reference_match(up, skip.shape[-2:])  # (N, w_i, H_i, W_i)
                    if self.joins_itself:
                        skip = up
                    x = self.dec[i](torch.cat([skip, up] if self.skip_first else [up, skip], dim=1))
                return self.head(x)                               # (N, num_classes, H, W)

        _UNET = ReferenceUNet
    return _UNET


def make_valid_unet(depth, base_channels=1, in_channels=1, num_classes=2):
    """The paper's unpadded U-Net: valid 3 × 3 convolutions with biases, no batch norm, skips centre-cropped."""
    return reference_unet_class()(in_channels, num_classes, depth, base_channels, batch_norm=False, padding=0)
