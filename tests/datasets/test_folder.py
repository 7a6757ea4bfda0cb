"""load_image_folder on small folders the tests write: layouts, pixels, cache, errors."""

import os

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from simcalib.datasets import _folder, load_image_folder  # noqa: E402


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


def _solid(value, h=6, w=6):
    return np.full((h, w, 3), value, dtype=np.uint8)


@pytest.fixture
def flat(tmp_path):
    """root/<class>/<i>.png: 3 classes of 5 solid images (colour encodes class and index)."""
    root = tmp_path / "photos"
    for k, name in enumerate(["cat", "dog", "maple_tree"]):
        for i in range(5):
            _write(root / name / f"img{i}.png", _solid((40 * k, 10 * i, 7)))
    return root


def _colour(X):
    """(R, G) of every solid image, as a list of tuples."""
    return [(int(x[0, 0, 0]), int(x[1, 0, 0])) for x in X]


def test_flat_layout_split_and_names(flat):
    data = load_image_folder(flat, image_size=4, cache=False)
    assert data.class_names == ["cat", "dog", "maple_tree"]
    assert data.X_train.shape == (12, 3, 4, 4) and data.X_test.shape == (3, 3, 4, 4)
    assert data.X_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    # stratified: one test image per class; train + test cover every image once
    assert sorted(data.y_test.tolist()) == [0, 1, 2]
    files = data.files_train + data.files_test
    assert sorted(files) == sorted(f"{n}/img{i}.png" for n in data.class_names for i in range(5))
    # labels follow the folder the file is in, and the pixels the file holds
    for X, y, names in [(data.X_train, data.y_train, data.files_train),
                        (data.X_test, data.y_test, data.files_test)]:
        for (r, g), k, f in zip(_colour(X), y, names):
            assert f.split("/")[0] == data.class_names[k]
            assert (r, g) == (40 * k, 10 * int(f[-5]))
    # the same split again (random_state)
    again = load_image_folder(flat, image_size=4, cache=False)
    assert again.files_test == data.files_test
    assert "Stratified random" in data.DESCR


def test_labels_as_names(flat):
    data = load_image_folder(flat, image_size=4, labels="name", cache=False)
    idx = load_image_folder(flat, image_size=4, cache=False)
    assert data.y_train.tolist() == [idx.class_names[k] for k in idx.y_train]
    assert data.y_test.dtype.kind == "U"


def test_split_folders_train_test_and_val(tmp_path):
    for split_name in ("test", "val"):
        root = tmp_path / split_name
        for k, name in enumerate(["b", "a"]):
            for i in range(3):
                _write(root / "train" / name / f"{i}.png", _solid(10 * k + i))
            _write(root / split_name / name / "x.png", _solid(100 + k))
        data = load_image_folder(root, image_size=3, cache=False)
        assert data.class_names == ["a", "b"]
        assert data.X_train.shape == (6, 3, 3, 3) and data.y_train.tolist() == [0] * 3 + [1] * 3
        assert data.y_test.tolist() == [0, 1]
        assert data.X_test[:, 0, 0, 0].tolist() == [101, 100]  # "a" was written with k=1
        assert data.files_test == [f"{split_name}/a/x.png", f"{split_name}/b/x.png"]


def test_natural_order_nested_folders_and_ignored_files(tmp_path):
    root = tmp_path / "r"
    for name in ["class10", "class2"]:
        for i in range(2):
            _write(root / name / "sub" / f"{i}.PNG", _solid(1))
        (root / name / "notes.txt").write_text("not an image")
        _write(root / name / ".hidden" / "x.png", _solid(2))
    _write(root / ".git" / "x" / "y.png", _solid(3))  # a hidden folder is no class
    data = load_image_folder(root, image_size=2, test_size=0.5, cache=False)
    assert data.class_names == ["class2", "class10"]
    assert len(data.files_train) + len(data.files_test) == 4
    assert all("/sub/" in f for f in data.files_train + data.files_test)


def test_pixels_exact_at_the_same_size(tmp_path):
    """A PNG already of the target size comes back bit for bit (channels first)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4, 5, 7, 3), dtype=np.uint8)
    root = tmp_path / "r"
    for i, img in enumerate(images):
        _write(root / ("a" if i < 2 else "b") / f"{i}.png", img)
    data = load_image_folder(root, image_size=(5, 7), test_size=0.5, cache=False)
    got = {f: x for f, x in zip(data.files_train + data.files_test,
                                np.concatenate([data.X_train, data.X_test]))}
    for i, img in enumerate(images):
        f = f"{'a' if i < 2 else 'b'}/{i}.png"
        np.testing.assert_array_equal(got[f], img.transpose(2, 0, 1))


def test_centre_crop_to_the_aspect_ratio(tmp_path):
    """A 12-wide, 6-high image cropped to a square keeps its middle 6 columns."""
    img = np.zeros((6, 12, 3), dtype=np.uint8)
    img[:, :3] = 255  # left quarter: cropped away
    img[:, 3:6] = 50
    img[:, 6:9] = 150
    img[:, 9:] = 255  # right quarter: cropped away
    root = tmp_path / "r"
    for name in "ab":
        for i in range(2):
            _write(root / name / f"{i}.png", img)
    data = load_image_folder(root, image_size=6, test_size=0.5, cache=False)
    row = data.X_train[0, 0, 0]
    assert row.tolist() == [50, 50, 50, 150, 150, 150]


def test_resize_matches_pillow(tmp_path):
    """Downscaling is Pillow's centre-cropping ImageOps.fit with Lanczos, nothing else."""
    from PIL import ImageOps

    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    root = tmp_path / "r"
    for name in "ab":
        for i in range(2):
            _write(root / name / f"{i}.png", img)
    data = load_image_folder(root, image_size=(8, 10), test_size=0.5, cache=False)
    expected = np.asarray(ImageOps.fit(Image.fromarray(img), (10, 8),
                                       method=Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(data.X_train[0], expected.transpose(2, 0, 1))


def test_grayscale_and_transparency(tmp_path):
    root = tmp_path / "r"
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 200  # red, fully transparent -> black
    for name in "ab":
        for i in range(2):
            _write(root / name / f"{i}.png", _solid((100, 50, 25), 4, 4))
        Image.fromarray(rgba, "RGBA").save(root / name / "t.png")
    grey = load_image_folder(root, image_size=4, color_mode="grayscale", test_size=0.5,
                             cache=False)
    assert grey.X_train.shape[1] == 1
    files = grey.files_train + grey.files_test
    values = dict(zip(files, np.concatenate([grey.X_train, grey.X_test])[:, 0, 0, 0].tolist()))
    # Pillow's L = R * 299/1000 + G * 587/1000 + B * 114/1000
    assert values["a/0.png"] == round(100 * 0.299 + 50 * 0.587 + 25 * 0.114)
    rgb = load_image_folder(root, image_size=4, test_size=0.5, cache=False)
    files = rgb.files_train + rgb.files_test
    X = np.concatenate([rgb.X_train, rgb.X_test])
    assert X[files.index("a/t.png")].max() == 0


def test_exif_orientation_is_applied(tmp_path):
    """A photo stored sideways with EXIF orientation 6 comes back upright."""
    img = np.zeros((10, 20, 3), dtype=np.uint8)  # 20 wide, 10 high as stored
    img[:, :10] = (255, 0, 0)
    img[:, 10:] = (0, 0, 255)
    root = tmp_path / "r"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    for name in "ab":
        for i in range(2):
            (root / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / name / f"{i}.png", exif=exif)
    data = load_image_folder(root, image_size=(20, 10), test_size=0.5, cache=False)
    x = data.X_train[0]  # (3, 20, 10): upright, 10 wide and 20 high
    assert x[0, :10].min() == 255 and x[2, :10].max() == 0  # top half red
    assert x[2, 10:].min() == 255 and x[0, 10:].max() == 0  # bottom half blue


def test_classes_and_max_per_class(flat):
    two = load_image_folder(flat, image_size=2, classes=2, cache=False)
    assert two.class_names == ["cat", "dog"] and set(two.y_train.tolist()) == {0, 1}
    named = load_image_folder(flat, image_size=2, classes=["maple_tree", "cat"], cache=False)
    assert named.class_names == ["cat", "maple_tree"]
    few = load_image_folder(flat, image_size=2, max_per_class=2, cache=False)
    assert np.bincount(few.y_train).tolist() == [2, 2, 2]


def test_cache_round_trip_and_invalidation(flat, tmp_path):
    cache = tmp_path / "cache"
    first = load_image_folder(flat, image_size=4, cache_dir=cache)
    entries = list((cache / "image-folder").iterdir())
    assert len(entries) == 1
    second = load_image_folder(flat, image_size=4, cache_dir=cache)
    assert isinstance(second.X_train, np.memmap) and not second.X_train.flags.writeable
    np.testing.assert_array_equal(first.X_train, second.X_train)
    assert second.class_names == first.class_names and second.files_test == first.files_test
    # a changed image (new content and mtime) is decoded again, in a new entry
    _write(flat / "cat" / "img0.png", _solid((255, 255, 255)))
    os.utime(flat / "cat" / "img0.png", ns=(1, 1))
    third = load_image_folder(flat, image_size=4, cache_dir=cache)
    assert len(list((cache / "image-folder").iterdir())) == 2
    X = np.concatenate([third.X_train, third.X_test])
    assert X[(third.files_train + third.files_test).index("cat/img0.png")].min() == 255
    # another size is another entry
    load_image_folder(flat, image_size=3, cache_dir=cache)
    assert len(list((cache / "image-folder").iterdir())) == 3


def test_worker_processes_match_in_process(flat, monkeypatch):
    serial = load_image_folder(flat, image_size=4, cache=False, n_jobs=1)
    monkeypatch.setattr(_folder, "_CHUNK", 4)  # several chunks for two workers
    parallel = load_image_folder(flat, image_size=4, cache=False, n_jobs=2)
    np.testing.assert_array_equal(serial.X_train, parallel.X_train)
    np.testing.assert_array_equal(serial.X_test, parallel.X_test)


@pytest.mark.parametrize("kwargs, match", [
    ({"image_size": 0}, "image_size"),
    ({"image_size": (4,)}, "image_size"),
    ({"image_size": True}, "image_size"),
    ({"color_mode": "cmyk"}, "color_mode"),
    ({"labels": "codes"}, "labels"),
    ({"test_size": 1.0}, "test_size"),
    ({"test_size": 1}, "test_size"),
    ({"max_per_class": 0}, "max_per_class"),
    ({"classes": "cat"}, "classes"),
    ({"classes": 1}, "classes"),
    ({"classes": ["cat", "cow"]}, "cow"),
    ({"n_jobs": 0}, "n_jobs"),
])
def test_bad_arguments(flat, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_image_folder(flat, cache=False, **kwargs)


def test_bad_layouts(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "nowhere")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(ValueError, match="is a file"):
        load_image_folder(tmp_path / "file.png")
    loose = tmp_path / "loose"
    _write(loose / "a.png", _solid(1))
    with pytest.raises(ValueError, match="no class folders.*holds 1 images directly"):
        load_image_folder(loose, cache=False)
    empty = tmp_path / "empty"
    _write(empty / "a" / "0.png", _solid(1))
    (empty / "b").mkdir()
    (empty / "b" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"without images.*\['b'\]"):
        load_image_folder(empty, cache=False)
    lone = tmp_path / "lone"
    _write(lone / "train" / "a" / "0.png", _solid(1))
    _write(lone / "train" / "b" / "0.png", _solid(1))
    with pytest.raises(ValueError, match="not both train/ and test/"):
        load_image_folder(lone, cache=False)
    extra = tmp_path / "extra"
    for name in "ab":
        _write(extra / "train" / name / "0.png", _solid(1))
        _write(extra / "test" / name / "0.png", _solid(1))
    _write(extra / "test" / "c" / "0.png", _solid(1))
    with pytest.raises(ValueError, match=r"lacks: \['c'\]"):
        load_image_folder(extra, cache=False)
    few = tmp_path / "few"
    _write(few / "a" / "0.png", _solid(1))
    _write(few / "b" / "0.png", _solid(1))
    _write(few / "b" / "1.png", _solid(1))
    with pytest.raises(ValueError, match="1 in class 'a'"):
        load_image_folder(few, cache=False)


def test_corrupt_image_is_named(tmp_path):
    root = tmp_path / "r"
    for name in "ab":
        for i in range(2):
            _write(root / name / f"{i}.png", _solid(1))
    (root / "b" / "1.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"corrupt or unreadable image .*b/1\.png"):
        load_image_folder(root, test_size=0.5, cache=False)


def test_read_only_cache_still_returns_the_arrays(flat, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_folder, "save_array_cache", refuse)
    with pytest.warns(RuntimeWarning, match="cannot write the image cache"):
        data = load_image_folder(flat, image_size=4, cache_dir=tmp_path / "c")
    assert data.X_train.shape == (12, 3, 4, 4)
