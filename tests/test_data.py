import gzip
import hashlib
import shutil
import time

import numpy as np
import pytest

from dllab import data
from dllab.data.cifar10 import CHUNKS, PICKLES, pickle_bytes
from dllab.data.idx import PARTS, parse_idx
from dllab.errors import DataError


def test_mnist_matches_published_statistics(shared_data):
    ds = data.load("mnist")
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert ds.x_train.dtype == np.uint8 and not ds.partial
    x = ds.x_train.astype(np.float64) / 255
    assert abs(x.mean() - 0.13066) < 1e-4 and abs(x.std() - 0.30811) < 1e-4
    assert np.bincount(ds.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_cifar10_matches_published_statistics(shared_data):
    ds = data.load("cifar10")
    assert ds.x_train.shape == (50000, 32, 32, 3) and ds.x_test.shape == (10000, 32, 32, 3)
    assert not ds.partial and ds.counts == {"train": 50000, "test": 10000}
    mean = ds.x_train.reshape(-1, 3).astype(np.float64).mean(0) / 255
    assert np.allclose(mean, [0.49140, 0.48216, 0.44653], atol=1e-5)
    assert ds.y_train[0] == 6 and ds.y_test[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert np.bincount(ds.y_test).tolist() == [1000] * 10


@pytest.mark.serial
def test_cached_load_is_fast(shared_data):
    data.load("mnist"), data.load("cifar10")  # decoded once
    t = time.perf_counter()
    m, c = data.load("mnist"), data.load("cifar10")
    _ = int(m.x_train[-1].sum()) + int(c.x_train[-1].sum())
    assert time.perf_counter() - t < 2.0


def test_raw_idx_files_load_the_same(shared_data, tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    for part in PARTS:
        (tmp_path / "mnist" / part).write_bytes(gzip.decompress((shared_data / "mnist" / f"{part}.gz").read_bytes()))
    monkeypatch.setenv("DLLAB_DATA", str(tmp_path))
    raw = data.load("mnist")
    assert "raw" in raw.source
    assert np.array_equal(raw.x_test, data.load("mnist", data_dir=shared_data).x_test)


def test_idx_header_is_checked():
    with pytest.raises(DataError, match="magic"):
        parse_idx(b"\x01\x02\x03\x04", "x")
    with pytest.raises(DataError, match="truncated"):
        parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), "x")


@pytest.fixture(scope="module")
def cifar_pickles(tmp_path_factory, shared_data):
    """The canonical python pickles, written from the verified mosaics."""
    ds = data.load("cifar10", data_dir=shared_data)
    folder = tmp_path_factory.mktemp("pickles") / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, chunk in enumerate(CHUNKS):
        x, y = (ds.x_test, ds.y_test) if chunk == "test" else (ds.x_train[i * 10000:(i + 1) * 10000],
                                                                ds.y_train[i * 10000:(i + 1) * 10000])
        (folder / PICKLES[chunk]).write_bytes(pickle_bytes(np.asarray(x), np.asarray(y)))
    return folder


def test_cifar10_pickles_load_identically(cifar_pickles, monkeypatch, shared_data):
    root = cifar_pickles.parent.parent
    ds = data.load("cifar10", data_dir=root)
    assert "pickles" in ds.source and not ds.partial
    assert np.array_equal(ds.x_train, data.load("cifar10", data_dir=shared_data).x_train)
    source, checks = data.verify("cifar10", data_dir=root)
    assert all(c.ok for c in checks) and len(checks) == 6


def test_partial_cifar10_is_reported_partial(cifar_pickles, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ("data_batch_1", "test_batch"):
        shutil.copy(cifar_pickles / name, folder / name)
    ds = data.load("cifar10", data_dir=tmp_path)
    assert ds.partial and ds.counts == {"train": 10000, "test": 10000} and "train1" in ds.notes


def test_corrupt_cifar_pickle_fails_its_content_check(cifar_pickles, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    shutil.copytree(cifar_pickles, folder)
    blob = bytearray((folder / "data_batch_3").read_bytes())
    blob[50_000] ^= 0xFF  # one pixel byte: still unpickles, but the content differs
    (folder / "data_batch_3").write_bytes(bytes(blob))
    with pytest.raises(DataError, match="train2 content.*corrupt"):
        data.load("cifar10", data_dir=tmp_path)


def _flip_byte(path, offset):
    blob = bytearray(path.read_bytes())
    blob[offset] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(blob))


def test_corrupt_mnist_file_gives_clear_error(shared_data, tmp_path):
    shutil.copytree(shared_data / "mnist", tmp_path / "mnist")
    _flip_byte(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", 2000)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz.*corrupt"):
        data.load("mnist", data_dir=tmp_path)
    source, checks = data.verify("mnist", data_dir=tmp_path)
    assert [c.ok for c in checks] == [True, True, True, False]


def test_corrupt_cifar_mosaic_gives_clear_error(shared_data, tmp_path):
    shutil.copytree(shared_data / "cifar10", tmp_path / "cifar10")
    _flip_byte(tmp_path / "cifar10" / "test_00000-09999.webp", 5_000_000)
    with pytest.raises(DataError, match=r"corrupt"):
        data.load("cifar10", data_dir=tmp_path)


def test_missing_dataset_names_where_it_looked(isolated_env):
    with pytest.raises(DataError) as err:
        data.load("mnist")
    msg = str(err.value)
    assert str(isolated_env / "mnist") in msg and "DLLAB_DATA" in msg and "\n" not in msg


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset"):
        data.load("imagenet-1k")


def test_tiny_imagenet_tiers_are_partial_with_counts(shared_data):
    ds = data.load("tiny-imagenet-200")
    assert ds.partial and ds.counts["train"] == 40000 and ds.counts["test"] == 10000
    assert ds.x_train.shape[1:] == (64, 64, 3) and ds.counts["train_per_class_max"] == 200
    assert np.bincount(ds.y_test).tolist() == [50] * 200
    # val_1801 is byte-identical to n03976657_498 in the original set: both must decode to the same pixels
    assert len(ds.classes) == 200


def test_sha256_of_shared_checksums_match(shared_data):
    got = hashlib.sha256((shared_data / "cifar10" / "labels.npz").read_bytes()).hexdigest()
    assert got == "2adcb621b226054b45ea498e5151b50747ee667e75829c059844e7b78f6b5196"
