"""Run profiles: ``quick`` (2-core CPU, minutes) and ``full`` (the paper's recipe, GPU)."""

from __future__ import annotations

from typing import Literal

Profile = Literal["quick", "full"]
PROFILES: tuple[str, ...] = ("quick", "full")


def check_profile(profile: str) -> Profile:
    """Return ``profile`` if it is known, else raise a ``ValueError`` naming the choices."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    return profile  # type: ignore[return-value]
