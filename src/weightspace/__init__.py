"""weightspace: neural networks as data.

A reference implementation of four papers: neuron embeddings
(:mod:`weightspace.neuron_embedding`), NeRN, DWSNets and R2R, with the
experiments that reproduce their tables and figures
(:mod:`weightspace.experiments`).
"""

__version__ = "0.1.0"
