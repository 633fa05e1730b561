"""Experiments of NeRN (Ashkenazi et al., 2023), one module per section of the paper.

``quick``: CIFAR is not available offline, so the originals are CIFAR-style
ResNet8s (option-B shortcuts, 4 channels in stage 1, a 1-channel stem; each
config names it) trained briefly on the offline MNIST split padded from 28x28 to
32x32, and the NeRNs train for a few hundred iterations. ``full``: the paper's
CIFAR-10/100 ResNets and recipes. The method (original networks, NeRN recipes
and fitting) lives in :mod:`weightspace.nern`.
"""
