"""CPU kernels pinned to one instruction set, so the quick profile's numbers are the same on every x86-64 machine.

torch's own kernels (ATen), MKL and oneDNN each pick the widest vector
instructions the CPU has. A CPU with AVX-512 therefore rounds some float sums
differently from one with AVX2 only, and training amplifies that last digit into
different accuracies. The quick profile pins all three to AVX2, which every
x86-64 machine of the last decade has; the full profile keeps the machine's
native kernels for speed.

The pins are environment variables that each backend reads once, when it first
runs a kernel. ``import weightspace`` sets them (no torch import needed), so every
entry point that imports the library before computing is pinned: the CLI, the
notebooks, papermill's kernels and pytest (whose child processes, nbval's
kernels among them, inherit the environment). :func:`configure` switches to the
native kernels for the full profile while no kernel has run yet.

Set ``WEIGHTSPACE_NATIVE_KERNELS=1`` to keep the native kernels in every profile
(results then carry the native instruction set in their cache key and provenance,
so they are never mistaken for pinned ones).

Example::

    >>> import weightspace                 # pins, on an x86-64 CPU with AVX2
    >>> from weightspace import isa
    >>> isa.native()                       # what the CPU has
    'avx512'
    >>> isa.kernels()                      # what computes (after torch has loaded)
    'avx2'
"""

from __future__ import annotations

import os
import platform
import sys
import warnings
from functools import lru_cache
from pathlib import Path

from weightspace.profiles import PINNED_PROFILES

OPT_OUT = "WEIGHTSPACE_NATIVE_KERNELS"
PINNED = "avx2"
# Each backend's variable and the value that caps it at AVX2.
PIN_ENV: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}
# The CPU flags torch requires for its AVX-512 and AVX2 kernels.
_AVX512_FLAGS = {"avx512f", "avx512bw", "avx512vl", "avx512dq"}
_AVX2_FLAGS = {"avx2", "fma"}

_before_pin: dict[str, str | None] = {}


@lru_cache(maxsize=None)
def native() -> str:
    """The widest instruction set torch's CPU kernels can use here: ``avx512``, ``avx2``, or the machine name.

    Read from ``/proc/cpuinfo`` (Linux); elsewhere the machine name (``x86_64``,
    ``arm64``), which counts as "cannot pin".
    """
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return machine or "unknown"
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return machine
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    if _AVX512_FLAGS <= flags:
        return "avx512"
    if _AVX2_FLAGS <= flags:
        return "avx2"
    return "x86_64-no-avx2"


def pinnable() -> bool:
    """Whether the AVX2 pin can apply: an x86-64 CPU that has AVX2."""
    return native() in ("avx512", "avx2")


def opted_out() -> bool:
    """``WEIGHTSPACE_NATIVE_KERNELS=1``: never pin."""
    return os.environ.get(OPT_OUT, "") not in ("", "0")


def _kernels_started() -> bool:
    """Whether torch may already have chosen its kernels (it has been imported)."""
    return "torch" in sys.modules


def pin() -> None:
    """Set the AVX2 pins in the environment (unless opted out or the CPU cannot take them)."""
    if opted_out() or not pinnable():
        return
    for var, value in PIN_ENV.items():
        if os.environ.get(var) != value:
            _before_pin.setdefault(var, os.environ.get(var))
            os.environ[var] = value


def unpin() -> None:
    """Restore the environment the pins replaced (the machine's native kernels)."""
    for var, value in list(_before_pin.items()):
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
        del _before_pin[var]


def wanted(profile: str) -> str:
    """The kernels a run at ``profile`` should compute with: ``avx2`` (pinned) for quick and cpu, else native."""
    return PINNED if profile in PINNED_PROFILES and pinnable() and not opted_out() else native()


def configure(profile: str) -> str:
    """Choose the kernels for a run at ``profile`` and return the ones in effect.

    Before torch has run a kernel this sets or clears the pins. Afterwards the
    choice is fixed for the process: a quick run that cannot be pinned any more
    warns (its result is keyed by the kernels it really used, so it never passes
    for a pinned one); a full run keeps the pinned kernels, slower but correct.
    """
    if wanted(profile) == PINNED:
        pin()
    elif not _kernels_started():
        unpin()
    in_effect = kernels()
    if wanted(profile) == PINNED and in_effect != PINNED:
        warnings.warn(f"the quick profile pins CPU kernels to {PINNED}, but this process already computes with "
                      f"{in_effect}: torch ran before `import weightspace` in a process started with other "
                      f"kernel settings. Its numbers may differ from the committed ones; restart the kernel or "
                      f"process and import weightspace first.", RuntimeWarning, stacklevel=2)
    return in_effect


def _backend(var: str) -> str:
    value = os.environ.get(var, "").lower()
    if value.startswith("avx2"):
        return "avx2"
    if value.startswith("avx512"):
        return "avx512"
    return native()


def kernels() -> str:
    """The instruction set this process's CPU kernels use: ``avx2``, ``avx512``, ... (imports torch).

    ATen reports its own choice; MKL and oneDNN follow their variables (or the
    CPU). When the three differ, each is named: ``aten=avx2,mkl=avx512,onednn=avx512``.
    """
    import torch

    aten = torch.backends.cpu.get_cpu_capability().lower()
    aten = "none" if aten == "default" else aten
    if not pinnable():
        return native()
    used = {"aten": aten, "mkl": _backend("MKL_ENABLE_INSTRUCTIONS"), "onednn": _backend("ONEDNN_MAX_CPU_ISA")}
    if len(set(used.values())) == 1:
        return aten
    return ",".join(f"{k}={v}" for k, v in used.items())


def describe() -> str:
    """One line for people: what the CPU has and what the quick profile computes with."""
    if opted_out():
        return f"CPU kernels: native {native()} ({OPT_OUT} is set: nothing is pinned)"
    if not pinnable():
        return (f"CPU kernels: {native()}: the quick profile's {PINNED} pin cannot apply on this CPU, so its "
                f"numbers are not expected to match the committed ones digit for digit")
    return f"CPU kernels: native {native()}; quick and cpu runs pinned to {PINNED}, full runs native"
