"""Ranger (Wright, 2019): RAdam inside Lookahead, with the per-iteration cosine decay NeRN uses.

Both run multi-tensor (``foreach``): RAdam updates all of the predictor's tensors
with one call per operation, and Lookahead moves all slow weights with one
``_foreach_lerp_`` and one ``_foreach_copy_``. ``foreach=False`` is the
one-tensor-at-a-time loop (the same arithmetic, element by element).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch


class Lookahead(torch.optim.Optimizer):
    """Lookahead (Zhang et al., 2019): every ``k`` inner steps, slow weights move ``alpha`` toward the fast ones
    and the fast weights restart from them."""

    def __init__(self, inner: torch.optim.Optimizer, alpha: float = 0.5, k: int = 6, foreach: bool = True) -> None:
        if not 0.0 < alpha <= 1.0 or k < 1:
            raise ValueError(f"Lookahead needs 0 < alpha <= 1 and k >= 1, got alpha={alpha}, k={k}")
        self.inner, self.alpha, self.k, self.foreach = inner, alpha, k, foreach
        self.param_groups = inner.param_groups
        self.defaults = inner.defaults
        self.state = inner.state
        self._steps = 0
        self._slow = [[p.detach().clone() for p in g["params"]] for g in self.param_groups]

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = self.inner.step(closure)
        self._steps += 1
        if self._steps % self.k == 0:
            for group, slow in zip(self.param_groups, self._slow):
                if self.foreach:
                    torch._foreach_lerp_(slow, group["params"], self.alpha)
                    torch._foreach_copy_(group["params"], slow)
                    continue
                for p, s in zip(group["params"], slow):
                    s.lerp_(p, self.alpha)
                    p.copy_(s)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "slow": self._slow, "steps": self._steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        self._slow, self._steps = state["slow"], state["steps"]


def ranger(params: Iterable[torch.Tensor], lr: float = 5e-3, betas: tuple[float, float] = (0.5, 0.999),
           weight_decay: float = 1e-3, alpha: float = 0.5, k: int = 6, foreach: bool = True) -> Lookahead:
    """RAdam (decoupled weight decay) wrapped in Lookahead: the authors' settings by default."""
    inner = torch.optim.RAdam(params, lr=lr, betas=betas, weight_decay=weight_decay, decoupled_weight_decay=True,
                              foreach=foreach)
    return Lookahead(inner, alpha, k, foreach)


def cosine_decay(opt: Lookahead, steps: int, min_lr: float = 1e-6) -> torch.optim.lr_scheduler.LRScheduler:
    """Cosine decay of the learning rate to ``min_lr`` over ``steps`` iterations."""
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt.inner, T_max=steps, eta_min=min_lr)
