"""Tests of load_tiny_imagenet on small fake trees in the official layout."""

import io
import shutil
import tarfile
import zipfile

import numpy as np
import pytest

from simcalib.datasets import _tiny_imagenet as tin
from simcalib.datasets import load_tiny_imagenet

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

WNIDS = ["n02124075", "n04067472", "n01443537"]  # wnids.txt order, not sorted
WORDS = {
    "n02124075": "Egyptian cat",
    "n04067472": "reel",
    "n01443537": "goldfish, Carassius auratus",
    "n99999999": "an id that is not used",
}
N_TRAIN, N_VAL, SIZE = 4, 2, 8


def color(label, j):
    """The solid colour of image j of class label: decodable after JPEG loss."""
    return (40 + 80 * label, 30 * j, 250 - 60 * label)


def jpeg(rgb, size=SIZE, mode="RGB"):
    im = Image.new("RGB", (size, size), rgb)
    if mode == "L":
        im = im.convert("L")
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def make_tree(root, n_train=N_TRAIN):
    """Write a tiny tiny-imagenet-200 folder; return it."""
    base = root / "tiny-imagenet-200"
    (base / "val" / "images").mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    (base / "words.txt").write_text("".join(f"{w}\t{n}\n" for w, n in WORDS.items()))
    for label, wnid in enumerate(WNIDS):
        folder = base / "train" / wnid / "images"
        folder.mkdir(parents=True)
        for j in range(n_train):
            mode = "L" if (label, j) == (1, 1) else "RGB"
            (folder / f"{wnid}_{j}.JPEG").write_bytes(jpeg(color(label, j), mode=mode))
    lines = []
    for i in range(N_VAL * len(WNIDS)):
        label = (i * 2) % len(WNIDS)  # interleaved classes, like the official file
        (base / "val" / "images" / f"val_{i}.JPEG").write_bytes(jpeg(color(label, 7)))
        lines.append(f"val_{i}.JPEG\t{WNIDS[label]}\t0\t0\t{SIZE}\t{SIZE}\n")
    (base / "val" / "val_annotations.txt").write_text("".join(lines))
    # The official test split (no labels) is ignored.
    (base / "test" / "images").mkdir(parents=True)
    (base / "test" / "images" / "test_0.JPEG").write_bytes(jpeg((0, 0, 0)))
    return base


def as_archive(base, dest, kind):
    if kind == "zip":
        path = dest / "tiny-imagenet-200.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for f in sorted(base.rglob("*")):
                zf.write(f, f.relative_to(base.parent).as_posix())
        return path
    suffix = {"tar": "", "gz": ".gz", "xz": ".xz"}[kind]
    path = dest / f"tiny-imagenet-200.tar{suffix}"
    with tarfile.open(path, "w" + (f":{kind}" if suffix else "")) as tar:
        tar.add(base, arcname="tiny-imagenet-200")
    return path


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "data")


def mean_colors(X):
    return X.reshape(len(X), 3, -1).mean(axis=2)


def check_content(data, n_train=N_TRAIN):
    assert data.X_train.shape == (3 * n_train, 3, SIZE, SIZE)
    assert data.X_train.dtype == np.uint8
    np.testing.assert_array_equal(data.y_train, np.repeat([0, 1, 2], n_train))
    expected = [color(label, j) for label in range(3) for j in range(n_train)]
    got = mean_colors(data.X_train)
    # The greyscale image comes back as three equal channels.
    grey = 1 * n_train + 1
    assert np.ptp(got[grey]) < 1.0
    mask = np.ones(len(got), bool)
    mask[grey] = False
    np.testing.assert_allclose(got[mask], np.asarray(expected, float)[mask], atol=4)
    # Validation: labels from val_annotations.txt, in val_<i> order.
    np.testing.assert_array_equal(data.y_test, [(i * 2) % 3 for i in range(6)])
    np.testing.assert_allclose(
        mean_colors(data.X_test), [color(y, 7) for y in data.y_test], atol=4
    )
    assert data.X_val is data.X_test
    assert data.wnids == WNIDS
    assert data.class_names == ["Egyptian cat", "reel", "goldfish"]
    assert data.class_synonyms[2] == ["goldfish", "Carassius auratus"]
    assert data.class_descriptions[2] == "goldfish, Carassius auratus"


@pytest.mark.parametrize("kind", ["dir", "parent", "zip", "tar", "gz", "xz"])
def test_every_source_kind(tree, tmp_path, kind):
    if kind == "dir":
        source = tree
    elif kind == "parent":
        source = tree.parent
    else:
        source = as_archive(tree, tmp_path, kind)
    data = load_tiny_imagenet(source, cache=False)
    check_content(data)


def test_cache_is_used_and_memory_mapped(tree, tmp_path, monkeypatch):
    first = load_tiny_imagenet(tree, cache_dir=tmp_path / "cache")
    assert isinstance(first.X_train, np.memmap)

    def no_read(root):
        raise AssertionError("the source was read although the cache is complete")

    monkeypatch.setattr(tin, "_open_source", no_read)
    second = load_tiny_imagenet(tree, cache_dir=tmp_path / "cache")
    check_content(second)
    np.testing.assert_array_equal(second.X_train, first.X_train)


def test_interrupted_cache_write_is_rebuilt(tree, tmp_path, monkeypatch):
    real_save = np.save
    calls = []

    def interrupted_save(fh, arr, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # killed while writing the second array
            raise KeyboardInterrupt
        real_save(fh, arr, **kwargs)

    monkeypatch.setattr("simcalib.datasets._cache.np.save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        load_tiny_imagenet(tree, cache_dir=tmp_path / "cache")
    monkeypatch.undo()
    data = load_tiny_imagenet(tree, cache_dir=tmp_path / "cache")
    check_content(data)


def test_corrupted_cache_file_is_detected_and_rebuilt(tree, tmp_path):
    cache = tmp_path / "cache"
    load_tiny_imagenet(tree, cache_dir=cache)
    (entry,) = (cache / "tiny-imagenet").iterdir()
    x = entry / "X_train.npy"
    raw = bytearray(x.read_bytes())
    raw[-5:] = b"\0" * 5  # same size, different bytes: only the hash sees it
    x.write_bytes(bytes(raw))
    check_content(load_tiny_imagenet(tree, cache_dir=cache))
    x.write_bytes(x.read_bytes()[:100])  # truncated
    check_content(load_tiny_imagenet(tree, cache_dir=cache))


def test_max_per_class_and_classes(tree, tmp_path):
    data = load_tiny_imagenet(tree, cache_dir=tmp_path / "c", max_per_class=2)
    check_content(data, n_train=2)
    sub = load_tiny_imagenet(tree, cache=False, classes=["n01443537", "n04067472"])
    assert sub.wnids == ["n04067472", "n01443537"]  # wnids.txt order kept
    np.testing.assert_array_equal(sub.y_train, np.repeat([0, 1], N_TRAIN))
    np.testing.assert_array_equal(sub.y_test, [1, 0, 1, 0])
    first = load_tiny_imagenet(tree, cache=False, classes=1)
    assert first.wnids == WNIDS[:1] and len(first.y_test) == 2
    with pytest.raises(ValueError, match="n00000000"):
        load_tiny_imagenet(tree, cache=False, classes=["n00000000"])
    with pytest.raises(ValueError, match="max_per_class"):
        load_tiny_imagenet(tree, cache=False, max_per_class=0)


def test_parallel_decoding_matches_serial(tree):
    items = [(str(p), str(p)) for p in sorted(tree.rglob("*.JPEG"))]
    serial = tin._decode_all(items, 1, False, "x")
    old = tin._CHUNK
    tin._CHUNK = 5
    try:
        parallel = tin._decode_all(items, 2, False, "x")
    finally:
        tin._CHUNK = old
    np.testing.assert_array_equal(parallel, serial)


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_tiny_imagenet(tmp_path / "nowhere", cache=False)


def test_corrupt_image_names_the_file(tree):
    bad = tree / "train" / WNIDS[1] / "images" / f"{WNIDS[1]}_2.JPEG"
    bad.write_bytes(b"this is not a jpeg")
    with pytest.raises(ValueError, match=rf"corrupt image .*{bad.name}"):
        load_tiny_imagenet(tree, cache=False)


def test_truncated_image_names_the_file(tree, tmp_path):
    bad = tree / "val" / "images" / "val_3.JPEG"
    bad.write_bytes(bad.read_bytes()[:60])
    archive = as_archive(tree, tmp_path, "zip")
    with pytest.raises(ValueError, match=r"tiny-imagenet-200.zip:val/images/val_3.JPEG"):
        load_tiny_imagenet(archive, cache=False)


def test_image_of_another_size_names_the_file(tree):
    odd = tree / "train" / WNIDS[2] / "images" / f"{WNIDS[2]}_3.JPEG"
    odd.write_bytes(jpeg((1, 2, 3), size=SIZE * 2))
    with pytest.raises(ValueError, match=rf"{odd.name} has size 16x16"):
        load_tiny_imagenet(tree, cache=False)


def test_truncated_archive_names_the_archive(tree, tmp_path):
    archive = as_archive(tree, tmp_path, "xz")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"tiny-imagenet-200.tar.xz"):
        load_tiny_imagenet(archive, cache=False)


def test_not_an_archive(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="notes.txt"):
        load_tiny_imagenet(path, cache=False)


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda b: (b / "wnids.txt").unlink(), "no wnids.txt"),
        (lambda b: (b / "words.txt").unlink(), r"words.txt is missing"),
        (lambda b: (b / "words.txt").write_text("n02124075\tEgyptian cat\n"),
         r"words.txt has no names for .*n04067472"),
        (lambda b: (b / "val" / "val_annotations.txt").unlink(), "val_annotations.txt is missing"),
        (lambda b: (b / "val" / "images" / "val_4.JPEG").unlink(), r"val_4.JPEG is missing"),
        (lambda b: shutil.rmtree(b / "train" / WNIDS[0]), rf"no training images in .*{WNIDS[0]}"),
        (lambda b: (b / "train" / "n12345678" / "images").mkdir(parents=True)
         or (b / "train" / "n12345678" / "images" / "x.JPEG").write_bytes(jpeg((0, 0, 0))),
         "n12345678 is not listed in"),
        (lambda b: (b / "val" / "val_annotations.txt").write_text("val_0.JPEG\n"),
         r"val_annotations.txt line 1"),
    ],
)
def test_wrong_layout_names_the_file(tree, damage, match):
    damage(tree)
    with pytest.raises(ValueError, match=match):
        load_tiny_imagenet(tree, cache=False)


def test_real_archive_subset(shared_data, tmp_path):
    """The shipped 32x32 archive: a 2-class, 3-per-class subset (reads the whole tar)."""
    archive = shared_data / "tinyimagenet" / "tiny-imagenet-200-32px.tar.xz"
    if not archive.is_file():
        pytest.skip(f"{archive} not found")
    data = load_tiny_imagenet(archive, cache=False, classes=2, max_per_class=3)
    assert data.X_train.shape == (6, 3, 32, 32)
    assert data.wnids == ["n02124075", "n04067472"]
    assert data.class_names == ["Egyptian cat", "reel"]
    assert np.bincount(data.y_test).tolist() == [3, 3]
