"""weightspace: neural networks as data.

A reference implementation of four papers: neuron embeddings
(:mod:`weightspace.neuron_embedding`), NeRN, DWSNets and R2R, with the
experiments that reproduce their tables and figures
(:mod:`weightspace.experiments`).

Importing the package pins torch's CPU kernels to AVX2 (:mod:`weightspace.isa`),
so the quick profile computes the same numbers on every x86-64 machine; import
it before running anything in torch.
"""

from weightspace import isa as _isa

_isa.pin()

__version__ = "0.1.0"
