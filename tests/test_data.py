"""The data module: idx reading, the quick split, and clear errors when data is missing."""

import gzip
import os

import numpy as np
import pytest
import torch

from weightspace import data


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trips(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "x.gz", array)
    assert np.array_equal(data.read_idx(tmp_path / "x.gz"), array)


def test_offline_error_names_the_variable_and_the_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load_mnist("standard", download=False)
    message = str(err.value)
    assert data.ENV_VAR in message
    assert str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz") in message
    assert "train-labels-idx1-ubyte.gz" in message


def test_quick_split_from_generated_files_is_fixed_and_normalised(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    _write_idx(raw / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (10000, 28, 28)))
    _write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.arange(10000) % 10)
    a, b = data.load_mnist("test-8k/2k", root=tmp_path), data.load_mnist("test-8k/2k", root=tmp_path, download=False)
    assert (len(a.train), len(a.eval)) == (8000, 2000)
    assert a.train.x.shape == (8000, 1, 28, 28) and a.train.x.dtype == torch.float32
    assert torch.equal(a.train.y, b.train.y)
    assert set(a.train.y.tolist()).isdisjoint(set()) and len(set(a.eval.y.tolist())) == 10


@pytest.mark.skipif(not os.environ.get(data.ENV_VAR), reason=f"{data.ENV_VAR} not set")
def test_real_quick_split_is_the_mnist_test_split():
    d = data.load_mnist("test-8k/2k", download=False)
    assert (len(d.train), len(d.eval)) == (8000, 2000)
    assert abs(d.train.x.mean().item()) < 0.05 and abs(d.train.x.std().item() - 1) < 0.05
    assert torch.bincount(d.train.y, minlength=10).min() > 600


def test_bad_names_fail_clearly():
    with pytest.raises(ValueError, match="mnist has no split 'quick': choose one of 'standard', 'test-8k/2k'"):
        data.load_mnist("quick")
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        data.load("svhn")
    with pytest.raises(ValueError, match="unknown CIFAR"):
        data.load_cifar("cifar1000")


def test_missing_cifar_fails_clearly_offline(tmp_path):
    with pytest.raises(data.DatasetNotFoundError, match="CIFAR10.*WEIGHTSPACE_DATA"):
        data.load_cifar("cifar10", root=tmp_path, download=False)


def test_torchvision_imports_with_the_compat_step():
    from weightspace._compat import import_torchvision

    tv = import_torchvision()
    assert hasattr(tv.datasets, "CIFAR10")


def test_fashion_mnist_reads_both_splits_with_its_own_statistics(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for stem, n in (("train", 60), ("t10k", 10)):
        _write_idx(raw / f"{stem}-images-idx3-ubyte.gz", np.full((n, 28, 28), 255, dtype=np.uint8))
        _write_idx(raw / f"{stem}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    fashion = data.load("fashion_mnist", "standard", root=tmp_path, download=False)
    assert (len(fashion.train), len(fashion.eval)) == (60, 10) and fashion.train.x.shape[1:] == (1, 28, 28)
    expected = (1.0 - data.FASHION_MNIST_MEAN) / data.FASHION_MNIST_STD
    assert torch.allclose(fashion.eval.x, torch.full_like(fashion.eval.x, expected))


def test_a_truncated_or_foreign_data_file_is_named(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    _write_idx(tmp_path / "x.gz", array)
    whole = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "plain.gz").write_bytes(b"not gzip at all")
    for name in ("cut.gz", "plain.gz"):
        with pytest.raises(data.DataFileError, match=rf"{tmp_path / name} cannot be read.*truncated or not a gzip"):
            data.read_idx(tmp_path / name)
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(data.DataFileError, match="ends inside its header"):
        data.read_idx(tmp_path / "short")


def test_labels_out_of_range_and_empty_splits_are_refused_when_loaded(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw / "t10k-images-idx3-ubyte.gz", np.zeros((10000, 28, 28)))
    _write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.full(10000, 12))
    with pytest.raises(data.DataFileError, match="holds label 12; MNIST labels are 0-9"):
        data.load_mnist("test-8k/2k", root=tmp_path, download=False)
    split = data.Split(torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="the eval split is empty"):
        data.ImageData("toy", split, data.Split(torch.zeros(0, 1, 2, 2), torch.zeros(0, dtype=torch.long)), 3)
    with pytest.raises(ValueError, match=r"train labels span 0..2, outside 0..1"):
        data.ImageData("toy", split, split, 2)
