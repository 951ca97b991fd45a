"""dlbook.data: the data folder, SHA-256 checks and the Fashion-MNIST loader (chapter 7).

Most tests write small IDX files into a temporary data folder; one loads the real data set
(filled by `python tools/fetch_data.py fashion-mnist`, run by tools/setup.sh)."""
import gzip
import hashlib
import struct

import numpy as np
import pytest

import dlbook.data as data
from dlbook.data import FASHION_MNIST_CLASSES, data_file, load_fashion_mnist, read_idx


def idx_bytes(array):
    """IDX encoding of a uint8 array: 0, 0, type 0x08, ndim, big-endian sizes, raw bytes."""
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_gz(path, payload, mtime=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=mtime) as g:
        g.write(payload)
    return path


def sha(b):
    return hashlib.sha256(b).hexdigest()


@pytest.fixture
def small_set(tmp_path, monkeypatch):
    """A 5-image 'train' and 3-image 'test' Fashion-MNIST in a temporary data folder."""
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    rng = np.random.default_rng(0)
    files, arrays = {}, {}
    for split, n in (("train", 5), ("test", 3)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255          # the extremes map to 0 and 1
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        entry = {}
        for part, a in (("images", images), ("labels", labels)):
            raw = idx_bytes(a)
            name = f"fashion-mnist/{split}-{part}.gz"
            path = write_gz(tmp_path / name, raw)
            entry[part] = (name, sha(path.read_bytes()), sha(raw))
        files[split] = entry
        arrays[split] = (images, labels)
    monkeypatch.setattr(data, "FASHION_MNIST_FILES", files)
    return tmp_path, files, arrays


def test_data_file_checks_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    (tmp_path / "a.bin").write_bytes(b"hello")
    assert data_file("a.bin", sha(b"hello")) == tmp_path / "a.bin"
    assert data.sha256(tmp_path / "a.bin") == sha(b"hello")
    with pytest.raises(ValueError, match="SHA-256.*fetch_data"):
        data_file("a.bin", sha(b"hellO"))
    with pytest.raises(FileNotFoundError, match="b.bin.*fetch"):
        data_file("b.bin", sha(b"x"))


def test_data_file_download(tmp_path, monkeypatch):
    """download=True copies from the URL (a file:// URL here), then checks the hash."""
    src = tmp_path / "remote" / "f.bin"
    src.parent.mkdir()
    src.write_bytes(b"payload")
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "home"))
    with pytest.raises(FileNotFoundError):
        data_file("f.bin", sha(b"payload"), url=src.as_uri())          # no download asked
    path = data_file("f.bin", sha(b"payload"), url=src.as_uri(), download=True)
    assert path.read_bytes() == b"payload"


def test_loader_shapes_dtypes_values(small_set):
    _, _, arrays = small_set
    for split in ("train", "test"):
        images, labels = arrays[split]
        X, y = load_fashion_mnist(split)
        assert X.shape == (len(images), 1, 28, 28) and X.dtype == np.float32
        assert y.dtype == np.int64 and np.array_equal(y, labels)
        np.testing.assert_allclose(X[:, 0], images / 255.0, rtol=1e-6)
        assert X.min() == 0.0 and X.max() == 1.0
        Xf, _ = load_fashion_mnist(split, flatten=True, dtype=np.float64)
        assert Xf.shape == (len(images), 784) and Xf.dtype == np.float64
        np.testing.assert_array_equal(Xf, images.reshape(len(images), -1) / 255.0)


def test_loader_returns_fresh_arrays(small_set):
    X1, y1 = load_fashion_mnist("train")
    X1[:] = -1.0
    y1[:] = -1
    X2, y2 = load_fashion_mnist("train")
    assert X2.min() >= 0 and y2.min() >= 0


def test_loader_bad_arguments(small_set):
    with pytest.raises(ValueError, match="split.*'train', 'test'.*'valid'"):
        load_fashion_mnist("valid")
    with pytest.raises(TypeError, match="dtype.*floating"):
        load_fashion_mnist("train", dtype=np.int32)


def test_missing_file_names_the_command(small_set):
    root, files, _ = small_set
    (root / files["test"]["labels"][0]).unlink()
    with pytest.raises(FileNotFoundError, match="test-labels.gz.*fetch_data.py"):
        load_fashion_mnist("test")


def test_corrupt_file_is_rejected(small_set):
    root, files, _ = small_set
    path = root / files["train"]["images"][0]
    b = bytearray(path.read_bytes())
    b[-12] ^= 0xFF                                   # one flipped byte in the compressed data
    path.write_bytes(bytes(b))
    with pytest.raises(ValueError, match="SHA-256"):
        load_fashion_mnist("train")
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="SHA-256"):
        load_fashion_mnist("train")


def test_same_data_in_another_gzip_is_accepted(small_set):
    """The originals and Debian's files differ as .gz but hold the same IDX bytes."""
    root, files, arrays = small_set
    name = files["train"]["images"][0]
    with gzip.open(root / name, "rb") as f:
        raw = f.read()
    write_gz(root / name, raw, mtime=123456)         # another header -> another .gz hash
    assert sha((root / name).read_bytes()) != files["train"]["images"][1]
    X, _ = load_fashion_mnist("train")
    np.testing.assert_allclose(X[:, 0] * 255, arrays["train"][0], atol=1e-4)


def test_download_from_canonical_address(small_set, tmp_path, monkeypatch):
    root, files, arrays = small_set
    remote = tmp_path / "remote"
    remote.mkdir()
    for part in ("images", "labels"):
        name = files["test"][part][0]
        (root / name).rename(remote / name.split("/")[-1])
    monkeypatch.setattr(data, "FASHION_MNIST_URL", remote.as_uri() + "/")
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_fashion_mnist("test")
    X, y = load_fashion_mnist("test", download=True)
    assert np.array_equal(y, arrays["test"][1]) and X.shape == (3, 1, 28, 28)


def test_read_idx_rejects_bad_headers(tmp_path):
    p = write_gz(tmp_path / "bad.gz", b"\x00\x00\x0d\x01" + struct.pack(">I", 2) + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX file of unsigned bytes"):
        read_idx(p)
    p = write_gz(tmp_path / "short.gz", b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x01\x02")
    with pytest.raises(ValueError, match=r"shape \(5,\).*2 bytes"):
        read_idx(p)
    p = write_gz(tmp_path / "ok.gz", idx_bytes(np.arange(6).reshape(2, 3)))
    assert np.array_equal(read_idx(p), np.arange(6).reshape(2, 3))


def test_real_fashion_mnist():
    """The real files (fetched by tools/setup.sh): official sizes, balanced classes."""
    X, y = load_fashion_mnist("train")
    Xt, yt = load_fashion_mnist("test", flatten=True)
    assert X.shape == (60000, 1, 28, 28) and X.dtype == np.float32
    assert Xt.shape == (10000, 784) and yt.dtype == np.int64
    assert np.array_equal(np.bincount(y), np.full(10, 6000))
    assert np.array_equal(np.bincount(yt), np.full(10, 1000))
    assert X.min() == 0.0 and X.max() == 1.0
    assert len(FASHION_MNIST_CLASSES) == 10 and FASHION_MNIST_CLASSES[9] == "Ankle boot"
    # the first training image is an ankle boot (label 9) and the mean intensity is about 0.286
    assert y[0] == 9 and abs(float(X.mean()) - 0.286) < 0.001
