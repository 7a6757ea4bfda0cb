"""Tests of load_cifar100 on small files written in the official pickle format."""

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest

from simcalib.datasets import load_cifar100
from simcalib.datasets._cifar100 import _download

FINE = [f"fine{i}" for i in range(100)]
COARSE = [f"coarse{i}" for i in range(20)]


def _batch(rng, n, bytes_keys):
    fine = rng.integers(0, 100, n).tolist()
    batch = {
        "batch_label": "training batch 1 of 1",
        "filenames": [f"img_{i}.png" for i in range(n)],
        "fine_labels": fine,
        "coarse_labels": [f % 20 for f in fine],
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
    }
    if bytes_keys:
        batch = {k.encode(): v for k, v in batch.items()}
    return batch


def write_cifar(folder, rng, n_train=6, n_test=4, bytes_keys=False):
    """Write train/test/meta like the official cifar-100-python folder."""
    folder.mkdir(parents=True, exist_ok=True)
    batches = {"train": _batch(rng, n_train, bytes_keys), "test": _batch(rng, n_test, bytes_keys)}
    meta = {"fine_label_names": FINE, "coarse_label_names": COARSE}
    if bytes_keys:
        meta = {k.encode(): v for k, v in meta.items()}
    for name, obj in [*batches.items(), ("meta", meta)]:
        with open(folder / name, "wb") as fh:
            pickle.dump(obj, fh, protocol=2)
    return batches


@pytest.mark.parametrize("bytes_keys", [False, True])
def test_load_official_layout(tmp_path, rng, bytes_keys):
    batches = write_cifar(tmp_path / "cifar-100-python", rng, bytes_keys=bytes_keys)
    key = (lambda k: k.encode()) if bytes_keys else (lambda k: k)
    data = load_cifar100(tmp_path)  # the parent folder is accepted
    assert data.X_train.shape == (6, 3, 32, 32) and data.X_train.dtype == np.uint8
    assert data.X_test.shape == (4, 3, 32, 32)
    raw = batches["train"][key("data")]
    # Channel c of pixel (r, q) is byte 1024 c + 32 r + q of the row.
    assert data.X_train[2, 1, 5, 7] == raw[2, 1024 + 32 * 5 + 7]
    assert data.X_train[0, 2, 31, 0] == raw[0, 2048 + 32 * 31]
    np.testing.assert_array_equal(data.y_train, batches["train"][key("fine_labels")])
    np.testing.assert_array_equal(data.y_coarse_test, batches["test"][key("coarse_labels")])
    assert data.class_names == FINE and data.coarse_class_names == COARSE
    seen = np.concatenate([data.y_train, data.y_test])
    np.testing.assert_array_equal(data.fine_to_coarse[seen], seen % 20)
    # The folder itself works too.
    again = load_cifar100(tmp_path / "cifar-100-python")
    np.testing.assert_array_equal(again.X_test, data.X_test)


def test_missing_folder_names_the_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere") as info:
        load_cifar100(missing)
    assert "download=True" in str(info.value)


def test_truncated_file_names_the_file(tmp_path, rng):
    folder = tmp_path / "cifar-100-python"
    write_cifar(folder, rng)
    raw = (folder / "train").read_bytes()
    (folder / "train").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="train.*truncated"):
        load_cifar100(folder)


def test_wrong_content_names_the_file(tmp_path, rng):
    folder = tmp_path / "cifar-100-python"
    write_cifar(folder, rng)
    with open(folder / "test", "wb") as fh:
        pickle.dump({"data": np.zeros((2, 100), np.uint8), "fine_labels": [0, 1],
                     "coarse_labels": [0, 1]}, fh)
    with pytest.raises(ValueError, match=r"test.*\(n, 3072\)"):
        load_cifar100(folder)
    with open(folder / "test", "wb") as fh:
        pickle.dump({"data": np.zeros((2, 3072), np.uint8)}, fh)
    with pytest.raises(ValueError, match="test.*'fine_labels'"):
        load_cifar100(folder)


def _tarball(tmp_path, rng):
    src = tmp_path / "src"
    write_cifar(src / "cifar-100-python", rng)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / "cifar-100-python", arcname="cifar-100-python")
    archive = tmp_path / "cifar-100-python.tar.gz"
    archive.write_bytes(buf.getvalue())
    return archive


def test_download_extracts_and_checks_md5(tmp_path, rng, capsys):
    archive = _tarball(tmp_path, rng)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    root = tmp_path / "root"
    data = load_cifar100(root, download=True, url=archive.as_uri(), md5=md5)
    assert data.X_train.shape == (6, 3, 32, 32)
    assert (root / "cifar-100-python" / "meta").is_file()
    assert "100.0%" in capsys.readouterr().err  # the progress bar ran to the end
    # A second call finds the files and does not download again.
    archive.unlink()
    assert load_cifar100(root, download=True).X_test.shape == (4, 3, 32, 32)


def test_download_with_wrong_md5_leaves_nothing(tmp_path, rng):
    archive = _tarball(tmp_path, rng)
    root = tmp_path / "root"
    with pytest.raises(ValueError, match="md5"):
        load_cifar100(root, download=True, url=archive.as_uri(), md5="0" * 32)
    assert not any(root.iterdir())


def test_download_failure_is_reported(tmp_path):
    with pytest.raises(OSError, match="download of .*missing.tar.gz failed"):
        _download((tmp_path / "missing.tar.gz").as_uri(), tmp_path / "out.tar.gz",
                  stream=io.StringIO())
    assert not (tmp_path / "out.tar.gz").exists()
    assert not (tmp_path / "out.tar.gz.part").exists()
