"""DWSNets (Navon et al., 2023): equivariant architectures for learning in deep weight spaces.

The weight-space batch type (:class:`WeightSpace`), the equivariant and invariant
DWS layers (Theorem 5.1, Prop. 5.3), DWSNet models and every baseline of the
paper, weight matching, weight augmentations, and batched INR zoos. The cached
zoos every method trains on, their splits and the training of a method on them
are in :mod:`weightspace.dws.zoos` (not imported here: it needs the data and
training modules).
"""

from weightspace.dws.align import align_to, weight_matching
from weightspace.dws.augment import Augmentation, Normalized, orbit_statistics
from weightspace.dws.inr import INRRecipe, INRZoo, fit_inrs, grid, init_inrs, inr_forward, psnr, sine_waves
from weightspace.dws.layers import (
    BLOCKS, DWSLayer, InvariantLayer, WSBatchNorm, WSDropout, WSReLU, invariant_features, parameters_per_channel_pair,
)
from weightspace.dws.models import (
    BASELINES, METHODS, DWSEquivariant, DWSNet, FlatMLP, INR2VecEncoder, NeuronDeepSets, WeightTransformer, build,
)
from weightspace.dws.space import WeightSpace, Zoo, make_mlp, mlp_forward, num_parameters

__all__ = [
    "align_to", "weight_matching", "Augmentation", "Normalized", "orbit_statistics", "INRRecipe", "INRZoo", "fit_inrs",
    "grid", "init_inrs", "inr_forward", "psnr", "sine_waves", "BLOCKS", "DWSLayer", "InvariantLayer", "WSBatchNorm",
    "WSDropout", "WSReLU", "invariant_features", "parameters_per_channel_pair", "BASELINES", "METHODS",
    "DWSEquivariant", "DWSNet", "FlatMLP", "INR2VecEncoder", "NeuronDeepSets", "WeightTransformer", "build",
    "WeightSpace", "Zoo", "make_mlp", "mlp_forward", "num_parameters",
]
