"""NeRN: neural representations of the convolution weights of a trained CNN.

Ashkenazi et al. (ICLR 2023), *NeRN: Learning Neural Representations for Neural
Networks*. :mod:`~weightspace.nern.models` holds the original networks (CIFAR
ResNet20/56 with option-B shortcuts, ImageNet ResNet18) and the smoothness term
of eq. 6; :mod:`~weightspace.nern.predictor` the coordinates, the positional
embedding of eq. 1, the predictor and :class:`~weightspace.nern.predictor.NeRN`;
:mod:`~weightspace.nern.permutation` the greedy orderings of Section 3.3;
:mod:`~weightspace.nern.losses` eqs. 2-5; :mod:`~weightspace.nern.optim` Ranger;
:mod:`~weightspace.nern.train` weight sampling and the predictor's training
loop; :mod:`~weightspace.nern.originals` the originals' architectures, recipes and
cached training; :mod:`~weightspace.nern.fitting` the NeRN recipes and fitting one
NeRN to an original; :mod:`~weightspace.nern.applications` Section 5;
:mod:`~weightspace.nern.sizes` Appendices C-D; :mod:`~weightspace.nern.reference`
the paper's printed numbers.
"""

from weightspace.nern.models import build, conv_names, resnet18, smoothness
from weightspace.nern.permutation import order
from weightspace.nern.predictor import NeRN, KernelLayout, Predictor, positional_embedding
from weightspace.nern.train import NeRNConfig, NeRNOutcome, reconstructed, train_nern

__all__ = ["KernelLayout", "NeRN", "NeRNConfig", "NeRNOutcome", "Predictor", "build", "conv_names", "order",
           "positional_embedding", "reconstructed", "resnet18", "smoothness", "train_nern"]
