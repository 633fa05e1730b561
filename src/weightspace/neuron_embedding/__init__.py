"""Neuron embeddings: a permutation-invariant representation of neural networks.

Layers (eq. 1-3, Fig. 2), the Table 1 models in three encodings, fitting
embeddings to a reference network (eq. 4), interpolation and neuron transplant,
and training the paper's networks (Table 1's protocol, the reference of 4.2-4.3).
"""

from weightspace.neuron_embedding.layers import BlueprintConv2d, NeuronEmbeddingLinear, NeuronSet, embedding_weight
from weightspace.neuron_embedding.models import (
    ENCODINGS, FC2_SIZES, FC5_SIZES, TABLE1_MODELS, ConvNet, Encoder, FCNet, ResNet9, build, paper_parameter_count,
)
from weightspace.neuron_embedding.training import cross_entropy, flip_horizontally, selection_split, trained_reference
from weightspace.neuron_embedding.transfer import (
    accuracy_of_states, crossover_states, fit_embeddings, interpolate, stack_states, transplant, weight_loss,
    weight_mse,
)

__all__ = [
    "BlueprintConv2d", "NeuronEmbeddingLinear", "NeuronSet", "embedding_weight", "ENCODINGS", "FC2_SIZES",
    "FC5_SIZES", "TABLE1_MODELS", "ConvNet", "Encoder", "FCNet", "ResNet9", "build", "paper_parameter_count",
    "accuracy_of_states", "crossover_states", "fit_embeddings", "interpolate", "stack_states", "transplant",
    "weight_loss", "weight_mse", "cross_entropy", "flip_horizontally", "selection_split", "trained_reference",
]
