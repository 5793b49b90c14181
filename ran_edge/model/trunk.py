"""The shared ResNet-18 trunk (docs/model.md §2): torchvision's ResNet-18 up to global average pooling.

A width multiplier builds narrow trunks for tests and the CPU demo with torchvision's own
``BasicBlock``/``_make_layer``; the parameter names stay those of torchvision (and therefore of the
official checkpoint after removing ``module.``): ``conv1, bn1, layer1..4.{0,1}.*, downsample.{0,1}``.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet18
from torchvision.models.resnet import BasicBlock, ResNet


def build_trunk(width: int = 64) -> ResNet:
    """ResNet-18 with base width ``width`` (64 = the real ResNet-18), no classifier.

    ``forward`` returns the ``[B, 8*width]`` feature after global average pooling (512-d at width 64).
    """
    if width < 4:
        raise ValueError(f"trunk width must be >= 4, got {width}")
    net = resnet18(weights=None)
    if width != 64:
        net.inplanes = width
        net.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        net.bn1 = nn.BatchNorm2d(width)
        net.layer1 = net._make_layer(BasicBlock, width, 2)
        net.layer2 = net._make_layer(BasicBlock, width * 2, 2, stride=2)
        net.layer3 = net._make_layer(BasicBlock, width * 4, 2, stride=2)
        net.layer4 = net._make_layer(BasicBlock, width * 8, 2, stride=2)
        for m in net.modules():  # same init as torchvision (and as the official code: N(0, sqrt(2/n)))
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
    net.fc = nn.Identity()
    return net


def trunk_feature_dim(width: int) -> int:
    """Dimension of the pooled trunk feature (512 for the real ResNet-18)."""
    return 8 * width

