"""pytest configuration shared by the unit tests and the nbval run over notebooks/."""

# Importing the library first pins the CPU kernels to AVX2 (weightspace.isa) in this process and, through the
# environment, in every process it starts: xdist workers and nbval's notebook kernels.
import weightspace  # noqa: F401

# nbval waits at most 5 s (hard-coded) for a kernel's remaining output messages
# after a cell's reply. With two notebooks computing at once on a 2-core machine
# the kernel that has just finished a long cell can take longer than that to
# publish its final "idle" status, and nbval then fails a cell that succeeded.
NBVAL_OUTPUT_TIMEOUT_S = 60


def pytest_collection_modifyitems(items):
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT_S
