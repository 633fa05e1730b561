"""Weight matching (Ainsworth et al., Git Re-Basin): the "MLP + alignment" baseline.

Align MLP ``B`` to MLP ``A`` by permuting ``B``'s hidden neurons to maximise
``sum_m <W^A_m, P_m W^B_m P_{m-1}^T> + <b^A_m, P_m b^B_m>``. Coordinate descent
over hidden layers: with the other permutations fixed, the best ``P_m`` solves a
linear assignment on ``S = W^A_m (W^B_m P_{m-1}^T)^T + b^A_m b^B_m^T
+ W^A_{m+1}^T (P_{m+1} W^B_{m+1})``. The descent starts from a forward pass that
matches each layer on its incoming weights and bias alone (input neurons are
never permuted, so layer 1 is anchored), which recovers an exact permutation.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor
from tqdm.auto import tqdm

from weightspace.dws.space import WeightSpace


def weight_matching(reference: WeightSpace, other: WeightSpace, max_iters: int = 100,
                    seed: int = 0) -> list[Tensor]:
    """Hidden-layer permutations ``p`` with ``other.permute(p)`` aligned to ``reference`` (one MLP each, channel 0)."""
    if reference.widths != other.widths or reference.batch_size != 1 or other.batch_size != 1:
        raise ValueError(f"weight matching aligns one MLP to one MLP of the same widths; got {reference.widths} "
                         f"x{reference.batch_size} and {other.widths} x{other.batch_size}")
    wa = [w[0, 0].double() for w in reference.weights]
    ba = [b[0, 0].double() for b in reference.biases]
    wb = [w[0, 0].double() for w in other.weights]
    bb = [b[0, 0].double() for b in other.biases]
    hidden = reference.widths[1:-1]
    perms = [torch.arange(n) for n in hidden]
    for m in range(1, len(hidden) + 1):  # start: match each layer on its incoming weights and biases, in order
        w_in = wb[m - 1] if m == 1 else wb[m - 1][:, perms[m - 2]]
        score = wa[m - 1] @ w_in.T + torch.outer(ba[m - 1], bb[m - 1])
        perms[m - 1] = torch.as_tensor(linear_sum_assignment(score.numpy(), maximize=True)[1], dtype=torch.long)
    rng = np.random.default_rng(seed)
    for _ in range(max_iters):
        changed = False
        for m in rng.permutation(len(hidden)) + 1:  # hidden layer m (1-based): rows of W_m, columns of W_{m+1}
            w_in = wb[m - 1] if m == 1 else wb[m - 1][:, perms[m - 2]]
            w_out = wb[m] if m == len(hidden) else wb[m][perms[m], :]
            score = wa[m - 1] @ w_in.T + torch.outer(ba[m - 1], bb[m - 1]) + wa[m].T @ w_out
            _, cols = linear_sum_assignment(score.numpy(), maximize=True)
            new = torch.as_tensor(cols, dtype=torch.long)
            old_value = score[torch.arange(len(new)), perms[m - 1]].sum()
            new_value = score[torch.arange(len(new)), new].sum()
            if new_value > old_value + 1e-12:
                perms[m - 1], changed = new, True
        if not changed:
            break
    return perms


def align_to(reference: WeightSpace, zoo: WeightSpace, max_iters: int = 100) -> WeightSpace:
    """Every MLP of ``zoo`` permuted to match ``reference`` (one MLP) by :func:`weight_matching`."""
    aligned = []
    for i in tqdm(range(zoo.batch_size), desc="weight matching", leave=False):
        one = zoo[i : i + 1]
        aligned.append(one.permute(weight_matching(reference, one, max_iters, seed=i)))
    return WeightSpace.cat(aligned)
