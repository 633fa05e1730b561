"""R2R: function-preserving widening and deepening of residual networks, and neuroevolution with shared parameters.

Painter (2018), *Deep Neuroevolution with Shared Parameters: Ensembling a Better
Solution*. :mod:`~weightspace.r2r.networks` holds the residual networks and FLOP
counting, :mod:`~weightspace.r2r.transforms` the transforms (R2WiderR, R2DeeperR,
random padding, Net2WiderNet, Net2DeeperNet, the learning-rate rescaling of
App. C.3), :mod:`~weightspace.r2r.growing` growing a network during training (Section 5.2:
a teacher trained, transformed on every stage and trained on),
:mod:`~weightspace.r2r.evolution` Algorithms 1-4 and the hierarchical
ensemble, :mod:`~weightspace.r2r.presets` the settings of App. D, Table 2, and
:mod:`~weightspace.r2r.reference` the report's printed numbers.
"""

from weightspace.r2r.evolution import (HierarchicalEnsemble, Member, Mutation, NEConfig, NEOutcome, correctness,
                                       joint_train, mutate, neuroevolution, random_mutation, select_best,
                                       select_coevolution)
from weightspace.r2r.networks import (BlockSpec, Branch, ConvUnit, NetSpec, ResidualBlock, ResNet, Stage, StageSpec,
                                      architecture, base_spec, build, parameter_count, section52_spec,
                                      training_flops)
from weightspace.r2r.transforms import (INITS, degrees_of_freedom, net2_deeper_net, net2_wider_net, new_weight_std,
                                        r2_deeper_r, r2_wider_r, rescaled, zero_branch, zero_initialize)

__all__ = [
    "INITS", "BlockSpec", "Branch", "ConvUnit", "HierarchicalEnsemble", "Member", "Mutation", "NEConfig", "NEOutcome",
    "NetSpec", "ResNet", "ResidualBlock", "Stage", "StageSpec", "architecture", "base_spec", "build", "correctness",
    "degrees_of_freedom", "joint_train", "mutate", "net2_deeper_net", "net2_wider_net", "neuroevolution", "new_weight_std",
    "parameter_count", "r2_deeper_r", "r2_wider_r", "random_mutation", "rescaled", "section52_spec",
    "select_best", "select_coevolution", "training_flops", "zero_branch", "zero_initialize",
]
