"""Datasets: one home for every image dataset the experiments use.

Data lives under ``$WEIGHTSPACE_DATA`` (else ``./data``) in torchvision's
layout (``<root>/MNIST/raw/*-idx?-ubyte.gz``, ``<root>/cifar-10-batches-py``).
Missing data is downloaded with torchvision when ``download`` is true and the
machine is online; otherwise one :class:`DatasetNotFoundError` names the
dataset, the files looked for and the variable to set.

Splits, named in every experiment's config (``"split"``): ``"standard"`` is a
dataset's own train/test split; ``"test-8k/2k"`` (MNIST only, the quick
profile's) is the MNIST *test* split (10,000 images) cut 8,000 train / 2,000
eval with a fixed seed, small enough for a 2-core CPU in seconds.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

ENV_VAR = "WEIGHTSPACE_DATA"
QUICK_SPLIT_SEED = 0
QUICK_TRAIN_SIZE = 8000
STANDARD, MNIST_TEST_CUT = "standard", "test-8k/2k"
SPLITS = {"mnist": (STANDARD, MNIST_TEST_CUT), "fashion_mnist": (STANDARD,), "cifar10": (STANDARD,),
          "cifar100": (STANDARD,)}
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
CIFAR_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not on disk and could not be downloaded."""


class DataFileError(ValueError):
    """A dataset file is on disk but unreadable (truncated, not gzip, wrong format); the message names it."""


@dataclass(frozen=True)
class Split:
    """Images ``x`` (N, C, H, W), float32 and normalised, with labels ``y`` (N,)."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"{len(self.x)} images but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: str | torch.device) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class ImageData:
    """A train and an evaluation split with a description recorded in every result."""

    name: str
    train: Split
    eval: Split
    num_classes: int
    description: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for part, split in (("train", self.train), ("eval", self.eval)):
            if len(split) == 0:
                raise ValueError(f"{self.name}: the {part} split is empty")
            if split.y.is_floating_point():  # regression targets, not class labels
                continue
            low, high = int(split.y.min()), int(split.y.max())
            if low < 0 or high >= self.num_classes:
                raise ValueError(f"{self.name}: {part} labels span {low}..{high}, outside 0..{self.num_classes - 1}")

    def to(self, device: str | torch.device) -> ImageData:
        return ImageData(self.name, self.train.to(device), self.eval.to(device), self.num_classes, self.description)


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$WEIGHTSPACE_DATA``, else ``./data``."""
    return Path(root if root is not None else os.environ.get(ENV_VAR, "data")).expanduser()


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (gzipped or not): the MNIST image and label format."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    fix = "delete it and run once with internet access, or replace it with torchvision's file"
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError; a cut-off gzip stream an EOFError
        raise DataFileError(f"{path} cannot be read ({type(err).__name__}: {err}): truncated or not a gzip file; "
                            f"{fix}") from err
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else 0
    if magic >> 8 != 0x08:
        raise DataFileError(f"{path} is not an unsigned-byte idx file (magic {magic:#x}); {fix}")
    ndim = magic & 0xFF
    if len(raw) < 4 + 4 * ndim:
        raise DataFileError(f"{path} ends inside its header; {fix}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataFileError(f"{path}: header says {shape} but holds {data.size} values (truncated?); {fix}")
    return data.reshape(shape)


def _find(raw: Path, stem: str) -> Path | None:
    for candidate in (raw / f"{stem}.gz", raw / stem):
        if candidate.exists():
            return candidate
    return None


def _mnist_split(root: Path, split: str, download: bool, folder: str = "MNIST") -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of an MNIST-format dataset (``folder``: torchvision's name, e.g. ``FashionMNIST``)."""
    raw = root / folder / "raw"
    stems = _MNIST_FILES[split]
    paths = [_find(raw, s) for s in stems]
    if None in paths and download:
        _torchvision_download(folder, root, train=split == "train")
        paths = [_find(raw, s) for s in stems]
    if None in paths:
        missing = [str(raw / f"{s}.gz") for s, p in zip(stems, paths) if p is None]
        raise DatasetNotFoundError(_missing_message(f"{folder} ({split} split)", missing, download))
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(images) != len(labels):
        raise DataFileError(f"{paths[0]} and {paths[1]} do not form an image split: images {images.shape}, "
                            f"labels {labels.shape} (expected N x 28 x 28 and N)")
    if labels.size and labels.max() > 9:
        raise DataFileError(f"{paths[1]} holds label {int(labels.max())}; {folder} labels are 0-9")
    return images, labels


def _missing_message(dataset: str, missing: list[str], download: bool) -> str:
    how = "the download failed (offline?)" if download else "downloading was switched off"
    return (
        f"{dataset} not found: missing {', '.join(missing)}; {how}. "
        f"Put the files there in torchvision's layout, or set {ENV_VAR} to the folder that holds them "
        f"(it is {os.environ.get(ENV_VAR, 'unset, so ./data is used')}), or run once with internet access."
    )


def _torchvision_download(name: str, root: Path, train: bool) -> None:
    from weightspace._compat import import_torchvision

    datasets = import_torchvision().datasets
    try:
        getattr(datasets, name)(str(root), train=train, download=True)
    except (OSError, RuntimeError):
        pass  # the caller reports the files that are still missing


def _mnist_tensors(images: np.ndarray, labels: np.ndarray, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> Split:
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return Split((x - mean) / std, torch.from_numpy(labels.astype(np.int64)))


def load_mnist(split: str = STANDARD, root: str | os.PathLike | None = None, download: bool = True) -> ImageData:
    """MNIST: ``"standard"`` = 60,000 train / 10,000 test; ``"test-8k/2k"`` = the test split cut 8,000 / 2,000."""
    check_split("mnist", split)
    root = data_root(root)
    if split == MNIST_TEST_CUT:
        images, labels = _mnist_split(root, "test", download)
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(QUICK_SPLIT_SEED))
        full = _mnist_tensors(images, labels)
        tr, ev = order[:QUICK_TRAIN_SIZE], order[QUICK_TRAIN_SIZE:]
        train, evaluation = Split(full.x[tr], full.y[tr]), Split(full.x[ev], full.y[ev])
        desc = (f"MNIST test split: {len(train):,} train / {len(evaluation):,} eval "
                f"(split seed {QUICK_SPLIT_SEED})")
    else:
        train = _mnist_tensors(*_mnist_split(root, "train", download))
        evaluation = _mnist_tensors(*_mnist_split(root, "test", download))
        desc = f"MNIST: {len(train):,} train / {len(evaluation):,} test"
    return ImageData("mnist", train, evaluation, 10, {"dataset": "MNIST", "split": desc,
                                                       "train": len(train), "eval": len(evaluation)})


def load_fashion_mnist(root: str | os.PathLike | None = None, download: bool = True) -> ImageData:
    """Fashion-MNIST (standard 60,000 / 10,000 split) from ``<root>/FashionMNIST/raw`` (one split for both profiles)."""
    root = data_root(root)
    tr, te = (_mnist_tensors(*_mnist_split(root, s, download, "FashionMNIST"), FASHION_MNIST_MEAN, FASHION_MNIST_STD)
              for s in ("train", "test"))
    return ImageData("fashion_mnist", tr, te, 10, {"dataset": "Fashion-MNIST",
                                                   "split": f"Fashion-MNIST: {len(tr):,} train / {len(te):,} test",
                                                   "train": len(tr), "eval": len(te)})


def _cifar_split(name: str, root: Path, train: bool, download: bool) -> Split:
    from weightspace._compat import import_torchvision

    datasets = import_torchvision().datasets
    cls = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    try:
        ds = cls(str(root), train=train, download=download)
    except (RuntimeError, OSError) as err:  # OSError: the download failed (offline)
        folder = root / cls.base_folder
        raise DatasetNotFoundError(_missing_message(f"{name.upper()} ({'train' if train else 'test'} split)",
                                                    [str(folder)], download)) from err
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in CIFAR_STATS[name])
    x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).float().div(255.0)
    return Split((x - mean) / std, torch.tensor(ds.targets, dtype=torch.int64))


def load_cifar(name: str = "cifar10", root: str | os.PathLike | None = None, download: bool = True) -> ImageData:
    """CIFAR-10 or CIFAR-100 (standard 50,000 / 10,000 split) through torchvision's layout."""
    if name not in CIFAR_STATS:
        raise ValueError(f"unknown CIFAR dataset {name!r}: choose one of {', '.join(CIFAR_STATS)}")
    root = data_root(root)
    train, test = (_cifar_split(name, root, t, download) for t in (True, False))
    classes = 10 if name == "cifar10" else 100
    return ImageData(name, train, test, classes, {"dataset": name.upper(),
                                                  "split": f"{name.upper()}: {len(train):,} train / {len(test):,} test",
                                                  "train": len(train), "eval": len(test)})


def imagenet_folders(root: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """ImageNet's (ILSVRC 2012) train and val folders in ImageFolder layout: ``<root>/imagenet/{train,val}/<wnid>/``.

    ImageNet cannot be downloaded automatically; a missing folder raises
    :class:`DatasetNotFoundError` naming it.
    """
    base = data_root(root) / "imagenet"
    missing = [str(base / s) for s in ("train", "val") if not (base / s).is_dir()]
    if missing:
        raise DatasetNotFoundError(_missing_message("ImageNet (ILSVRC 2012)", missing, False)
                                   + " ImageNet is never downloaded automatically (its licence needs a sign-up).")
    return base / "train", base / "val"


def check_split(name: str, split: str) -> str:
    """``split`` if dataset ``name`` has it (:data:`SPLITS`), else a ``ValueError`` naming the ones it has."""
    if name not in SPLITS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(SPLITS)}")
    if split not in SPLITS[name]:
        raise ValueError(f"{name} has no split {split!r}: choose one of {', '.join(map(repr, SPLITS[name]))}")
    return split


def load(name: str, split: str = STANDARD, root: str | os.PathLike | None = None, download: bool = True) -> ImageData:
    """Load a dataset by name and split (:data:`SPLITS`: ``"standard"``, or MNIST's ``"test-8k/2k"``)."""
    check_split(name, split)
    if name == "mnist":
        return load_mnist(split, root, download)
    if name in CIFAR_STATS:
        return load_cifar(name, root, download)
    return load_fashion_mnist(root, download)

