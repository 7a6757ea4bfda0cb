"""Bad inputs to the dataset loaders: a clear error naming the argument or file.

And damaged caches: a cache entry whose manifest is valid JSON but does not
describe what the loader writes is rebuilt, never used or crashed on.
"""

import hashlib
import json
import pickle

import numpy as np
import pytest

from simcalib.datasets import load_cifar100, load_digits_images, load_tiny_imagenet

NAN = float("nan")


# ------------------------------------------------------------ Tiny-ImageNet
@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    pytest.importorskip("PIL")
    from tests.datasets.test_tiny_imagenet import make_tree

    return make_tree(tmp_path_factory.mktemp("tin"))


@pytest.fixture(scope="module")
def archives(tree, tmp_path_factory):
    from tests.datasets.test_tiny_imagenet import as_archive

    d = tmp_path_factory.mktemp("archives")
    xz = as_archive(tree, d, "xz")
    raw = xz.read_bytes()
    (d / "trunc.tar.xz").write_bytes(raw[: len(raw) // 2])
    z = bytearray(as_archive(tree, d, "zip").read_bytes())
    z[len(z) // 3: len(z) // 3 + 50] = b"\0" * 50
    (d / "corrupt.zip").write_bytes(bytes(z))
    (d / "text.tar").write_text("not an archive\n")
    (d / "empty.tar").write_bytes(b"")
    (d / "emptydir").mkdir()
    (d / "afile").write_text("x")
    return d


@pytest.mark.parametrize("root, kwargs, error, message", [
    (None, {}, TypeError, "root must be a path"),
    (3, {}, TypeError, "root must be a path"),
    ("nope", {}, FileNotFoundError, "nope does not exist"),
    ("text.tar", {}, ValueError, "text.tar is neither a Tiny-ImageNet folder"),
    ("empty.tar", {}, ValueError, "empty.tar is neither a Tiny-ImageNet folder"),
    ("emptydir", {}, ValueError, "no wnids.txt in"),
    ("trunc.tar.xz", {"cache": False}, ValueError, "trunc.tar.xz"),
    ("corrupt.zip", {"cache": False}, ValueError, "corrupt.zip"),
    ("TREE", {"classes": 0}, ValueError, "classes must be in [1, 3]"),
    ("TREE", {"classes": -1}, ValueError, "classes must be in [1, 3]"),
    ("TREE", {"classes": 1.5}, ValueError, "classes must be None, a number of classes"),
    ("TREE", {"classes": True}, ValueError, "classes must be None, a number of classes"),
    ("TREE", {"classes": "n02124075"}, ValueError, "classes must be None, a number of classes"),
    ("TREE", {"classes": []}, ValueError, "classes is empty"),
    ("TREE", {"classes": ["bogus"]}, ValueError, "classes ['bogus'] are not in"),
    ("TREE", {"max_per_class": 0}, ValueError, "max_per_class must be a positive integer"),
    ("TREE", {"max_per_class": 1.5}, ValueError, "max_per_class must be a positive integer"),
    ("TREE", {"n_jobs": 0}, ValueError, "n_jobs must be None, -1 or a positive integer"),
    ("TREE", {"n_jobs": -2}, ValueError, "n_jobs must be None, -1 or a positive integer"),
    ("TREE", {"n_jobs": "x"}, ValueError, "n_jobs must be None, -1 or a positive integer"),
    ("TREE", {"n_jobs": 1.5}, ValueError, "n_jobs must be None, -1 or a positive integer"),
    ("TREE", {"cache_dir": "afile"}, ValueError, "cache_dir"),
    ("TREE", {"cache_dir": "afile/c"}, ValueError, "is a file"),
    ("TREE", {"cache_dir": 3}, TypeError, "cache_dir must be a path"),
])
def test_tiny_imagenet(tree, archives, root, kwargs, error, message):
    if root == "TREE":
        root = tree
    elif isinstance(root, str):
        root = archives / root
    kwargs = {k: (archives / v if k == "cache_dir" and isinstance(v, str) else v)
              for k, v in kwargs.items()}
    kwargs.setdefault("cache_dir", archives / "cache")
    with pytest.raises(error) as info:
        load_tiny_imagenet(root, **kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def _entry(cache_dir):
    (manifest,) = list(cache_dir.rglob("manifest.json"))
    return manifest


def _rehash(manifest, name):
    d = json.loads(manifest.read_text())
    raw = (manifest.parent / f"{name}.npy").read_bytes()
    d["arrays"][name].update(size=len(raw), sha256=hashlib.sha256(raw).hexdigest())
    manifest.write_text(json.dumps(d))


def _edit(change):
    def apply(manifest):
        d = json.loads(manifest.read_text())
        change(d)
        manifest.write_text(json.dumps(d))
    return apply


def _short_labels(manifest):
    np.save(manifest.parent / "y_train.npy", np.zeros(5, np.int64))
    _rehash(manifest, "y_train")


@pytest.mark.parametrize("damage", [
    _edit(lambda d: d["meta"].pop("synonyms")),
    _edit(lambda d: d["arrays"].pop("X_train")),
    _edit(lambda d: d.update(meta=[1, 2])),
    _edit(lambda d: d.update(arrays=[1, 2])),
    _edit(lambda d: d["meta"].update(wnids="abc")),
    _edit(lambda d: d["arrays"]["y_val"].pop("sha256")),
    _edit(lambda d: d.clear()),
    lambda m: m.write_text("[]"),
    lambda m: m.write_bytes(b"\xff\x00"),
    _short_labels,
])
def test_damaged_cache_is_rebuilt(tree, tmp_path, damage):
    first = load_tiny_imagenet(tree, cache_dir=tmp_path)
    # copies: the arrays are memory maps of the files about to be damaged
    X, y, synonyms = np.array(first.X_train), np.array(first.y_train), first.class_synonyms
    damage(_entry(tmp_path))
    again = load_tiny_imagenet(tree, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.X_train, X)
    np.testing.assert_array_equal(again.y_train, y)
    assert again.class_synonyms == synonyms
    # and the rebuilt entry is sound again
    assert load_tiny_imagenet(tree, cache_dir=tmp_path).class_synonyms == synonyms


def test_unwritable_cache_warns_and_returns_the_data(tree, tmp_path, monkeypatch):
    from simcalib.datasets import _tiny_imagenet

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_tiny_imagenet, "save_array_cache", full_disk)
    with pytest.warns(RuntimeWarning, match="cannot write the Tiny-ImageNet cache"):
        data = load_tiny_imagenet(tree, cache_dir=tmp_path)
    assert data.X_train.shape[0] == len(data.y_train) > 0


# ----------------------------------------------------------------- CIFAR-100
@pytest.fixture
def cifar_dirs(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("train", "test", "meta"):
        (bad / name).write_bytes(b"\x80\x02garbage")
    listed = tmp_path / "listed"
    listed.mkdir()
    for name in ("train", "test", "meta"):
        with open(listed / name, "wb") as fh:
            pickle.dump([1, 2, 3], fh)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "notgz.tar.gz").write_text("not an archive")
    return tmp_path


@pytest.mark.parametrize("root, kwargs, error, message", [
    (None, {}, TypeError, "root must be a path"),
    ("nope", {}, FileNotFoundError, "CIFAR-100 not found in"),
    ("afile", {}, ValueError, "afile is a file"),
    ("afile", {"download": True}, ValueError, "afile is a file"),
    ("bad", {}, ValueError, "cannot read CIFAR-100 file"),
    ("listed", {}, ValueError, "does not hold a dict; got list"),
    ("dl", {"download": True, "url": "MISSING"}, OSError, "nope.tgz"),
    ("dl", {"download": True, "url": "NOTGZ", "md5": None}, ValueError,
     "is not a readable tar archive"),
    ("dl", {"download": True, "url": "NOTGZ"}, ValueError, "md5"),
])
def test_cifar100(cifar_dirs, root, kwargs, error, message, capsys):
    urls = {"MISSING": (cifar_dirs / "nope.tgz").as_uri(),
            "NOTGZ": (cifar_dirs / "notgz.tar.gz").as_uri()}
    if "url" in kwargs:
        kwargs["url"] = urls[kwargs["url"]]
    with pytest.raises(error) as info:
        load_cifar100(None if root is None else cifar_dirs / root, **kwargs)
    assert message in str(info.value)


# -------------------------------------------------------------------- digits
@pytest.mark.parametrize("kwargs, message", [
    ({"dtype": "float64"}, "dtype must be 'float32' or 'uint8'"),
    ({"dtype": np.uint8}, "dtype must be 'float32' or 'uint8'"),
    ({"test_size": 0.0}, "test_size must be a float in (0, 1)"),
    ({"test_size": 1.0}, "test_size must be a float in (0, 1)"),
    ({"test_size": NAN}, "test_size must be a float in (0, 1)"),
    ({"test_size": 5}, "test_size must be a float in (0, 1)"),
    ({"test_size": 0.999}, "test_size=0.999 leaves 1 training and 1796 test images"),
    ({"test_size": 0.001}, "test_size=0.001 leaves"),
    ({"random_state": -1}, "random_state"),
    ({"random_state": "x"}, "random_state"),
])
def test_digits(kwargs, message):
    with pytest.raises(ValueError) as info:
        load_digits_images(**kwargs)
    assert message in str(info.value)
