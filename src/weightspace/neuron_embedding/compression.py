"""The best weight MSE a neuron embedding of dimension d can reach (Section 4.2, Table 2).

Eq. 2 generates each weight matrix as ``W_i = Z_{i-1} Z_i^T`` (sigma the identity),
a product of rank at most d. By Eckart-Young no rank-d matrix comes closer to
``W_i`` in Frobenius norm than its truncated SVD, so the truncated SVD of every
layer bounds from below what eq. 4's fit can reach. It is a bound, not always
reached: the embeddings of a hidden layer are shared by the two matrices it
touches, and eq. 4 weighs each layer by its own size.
"""

from __future__ import annotations

import torch

from weightspace.neuron_embedding.models import FCNet


@torch.no_grad()
def low_rank_bound(reference: FCNet, dim: int) -> float:
    """The weight MSE (Table 2's, over all weights) below which no ``emb`` network of dimension ``dim`` can fit ``reference``.

    Per layer, the energy of the singular values of ``W_i`` beyond the ``dim``-th
    (the residual of the rank-``dim`` truncated SVD); summed over layers and divided
    by the number of weights, as :func:`~weightspace.neuron_embedding.transfer.weight_mse`.
    Zero when ``dim`` reaches every layer's rank.
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"an embedding dimension must be a positive whole number, got {dim!r}")
    weights = [w.detach().double() for w in reference.weights()]
    residual = sum((torch.linalg.svdvals(w)[dim:] ** 2).sum().item() for w in weights)
    return residual / sum(w.numel() for w in weights)
