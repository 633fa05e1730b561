"""The quick profile's CPU kernels are pinned to AVX2, so a second machine computes the same numbers.

Each check trains a small network in a fresh interpreter (the kernels are chosen
once per process) under an environment that asks the backends for AVX-512 or for
AVX2 only, and compares the trained weights bit for bit.
"""

import hashlib
import os
import subprocess
import sys

import pytest

from weightspace import isa

# A small experiment that trains: a conv net (oneDNN), linear layers (MKL), elementwise ops and reductions (ATen),
# Adam for 30 steps on a fixed synthetic batch; prints the kernels used and a digest of the trained weights.
TRAIN = """
import hashlib
import weightspace
import torch
from torch import nn
from weightspace import isa
torch.set_num_threads(1)
torch.manual_seed(0)
x, y = torch.randn(64, 1, 12, 12), torch.randint(0, 10, (64,))
net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(800, 64), nn.Tanh(), nn.Linear(64, 10))
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for _ in range(30):
    opt.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    opt.step()
digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in net.parameters())).hexdigest()
print(isa.kernels(), digest)
"""
ASK_AVX512 = {"ATEN_CPU_CAPABILITY": "avx512", "MKL_ENABLE_INSTRUCTIONS": "AVX512", "ONEDNN_MAX_CPU_ISA": "ALL"}
ASK_AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}

pytestmark = pytest.mark.skipif(not isa.pinnable(), reason=f"the AVX2 pin cannot apply on a {isa.native()} CPU")


def _train(env: dict[str, str], native: bool) -> tuple[str, str]:
    full = {k: v for k, v in os.environ.items() if k not in (*ASK_AVX2, isa.OPT_OUT)}
    full.update(env)
    if native:
        full[isa.OPT_OUT] = "1"
    out = subprocess.run([sys.executable, "-c", TRAIN], env=full, capture_output=True, text=True, check=True)
    kernels, digest = out.stdout.split()
    return kernels, digest


def test_pinned_training_is_bit_identical_whatever_the_environment_asks_for():
    asked_avx512 = _train(ASK_AVX512, native=False)
    asked_avx2 = _train(ASK_AVX2, native=False)
    assert asked_avx512 == asked_avx2
    assert asked_avx512[0] == "avx2"


@pytest.mark.skipif(isa.native() != "avx512", reason="only a CPU with AVX-512 computes differently without the pin")
def test_without_the_pin_an_avx512_cpu_trains_to_different_weights():
    kernels_512, digest_512 = _train(ASK_AVX512, native=True)
    kernels_2, digest_2 = _train(ASK_AVX2, native=True)
    assert (kernels_512, kernels_2) == ("avx512", "avx2")
    assert digest_512 != digest_2  # so the test above can fail: the pin is what makes them equal


def test_the_kernels_enter_the_cache_key_and_the_provenance(monkeypatch):
    from weightspace import results

    pinned = results.config_hash({"a": 1})
    monkeypatch.setattr(isa, "kernels", lambda: "avx512")
    assert results.config_hash({"a": 1}) != pinned
    record = results.provenance("cpu", 0.0)
    assert record["cpu_isa"] == {"native": isa.native(), "kernels": "avx512"}
    assert "avx512 kernels" in results.device_name("cpu")


def test_the_full_profile_keeps_the_native_kernels_when_chosen_before_torch_runs():
    code = "import weightspace; from weightspace import isa; isa.configure('full'); print(isa.kernels())"
    env = {k: v for k, v in os.environ.items() if k not in (*ASK_AVX2, isa.OPT_OUT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == isa.native()
    quick = subprocess.run([sys.executable, "-c", code.replace("'full'", "'quick'")], env=env, capture_output=True,
                           text=True, check=True)
    assert quick.stdout.strip() == "avx2"


def test_a_machine_without_avx2_is_named_and_never_pinned(monkeypatch):
    monkeypatch.setattr(isa, "native", lambda: "aarch64")
    for var in ASK_AVX2:
        monkeypatch.delenv(var, raising=False)
    isa.pin()
    assert not any(var in os.environ for var in ASK_AVX2)
    assert "cannot apply" in isa.describe() and isa.wanted("quick") == "aarch64"


def test_the_committed_digits_are_compared_only_on_the_cpu_model_that_made_them(monkeypatch, capsys):
    from weightspace import cli, results

    made = cli._cpu_models()[1]
    assert made, "the committed quick results name the CPU they were made on"
    monkeypatch.setattr(results, "device_name", lambda device: f"{made[0]}, 1 of 2 cores, avx2 kernels (native avx2)")
    assert cli.main(["kernels", "--digits"]) == 0
    monkeypatch.setattr(results, "device_name", lambda device: "Another CPU, 1 of 2 cores, avx2 kernels (native avx2)")
    assert cli.main(["kernels", "--digits"]) == 3
    assert "Another CPU" in capsys.readouterr().out
    assert cli.main(["kernels", "--pinnable"]) == 0  # the pin itself still applies there
