"""Run profiles: how large a run of an experiment is.

* ``quick``: a faithful small version of every experiment, minutes on a 2-core
  CPU; what the book executes and nbval checks digit for digit.
* ``cpu``: the paper's regime at CPU scale (about 30 minutes per experiment on
  one core), for the claims the quick profile cannot resolve where the full
  recipe cannot run on a CPU; committed, shown in its own column, never called
  full. Only experiments whose module lists it in ``PROFILES`` run at it.
* ``full``: the paper's exact recipe on the paper's data (a GPU for most).

The :data:`PINNED_PROFILES` compute on one thread with the AVX2 kernels pinned
(:mod:`weightspace.isa`), so their numbers are the same on every x86-64 machine
with AVX2; the full profile uses every core and the machine's native kernels.
"""

from __future__ import annotations

from typing import Literal

Profile = Literal["quick", "cpu", "full"]
PROFILES: tuple[str, ...] = ("quick", "cpu", "full")
DEFAULT_PROFILES: tuple[str, ...] = ("quick", "full")
PINNED_PROFILES: tuple[str, ...] = ("quick", "cpu")


def check_profile(profile: str) -> Profile:
    """Return ``profile`` if it is known, else raise a ``ValueError`` naming the choices."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    return profile  # type: ignore[return-value]
