import os

import pytest
import torch

os.environ.setdefault("TQDM_DISABLE", "1")
# pytest-xdist runs two test processes on two cores: one thread each, no oversubscription.
torch.set_num_threads(1)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Results, checkpoints and cached artifacts go to a temporary folder, not the project."""
    for var, sub in (("WEIGHTSPACE_RESULTS", "results"), ("WEIGHTSPACE_CHECKPOINTS", "checkpoints"),
                     ("WEIGHTSPACE_CACHE", "cache")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.delenv("WEIGHTSPACE_VERIFY", raising=False)
    return tmp_path
