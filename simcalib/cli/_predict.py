"""``simcalib predict``: calibrated probabilities of a saved model on new images.

MODEL is a folder written by simcalib.save_model (a network, a calibrated
stack, ...). IMAGES is

- a folder: every image file below it (.jpg, .png, ...), decoded and resized
  to the model's input size as simcalib.datasets.load_image_folder does (for
  a model whose network was trained on uint8 images, e.g. from a folder);
- an .npy file holding the image array (n, C, H, W);
- an .npz file: its array --key, else its only array, else X.

The probabilities (one column per class, in the order of the model's
classes_) and the predicted labels are written to --out: .csv (columns
'file' for a folder, 'y_pred', then one per class) or .npz (arrays probs,
y_pred, labels and, for a folder, files).

MODEL is unpickled: load only models you made or trust.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

from simcalib.cli import CommandError

__all__ = ["add_parser", "run", "read_images"]


def add_parser(subparsers):
    """Add the ``predict`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "predict",
        help="calibrated probabilities of a saved model on images (folder, .npy, .npz)",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="folder written by simcalib.save_model")
    parser.add_argument("images", metavar="IMAGES",
                        help="a folder of images, or an .npy / .npz file of images (n, C, H, W)")
    parser.add_argument("--out", "-o", default="predictions.csv", metavar="FILE",
                        help="output file, .csv or .npz (default predictions.csv)")
    parser.add_argument("--key", metavar="NAME", help=".npz IMAGES: the array to read")
    parser.add_argument("--device", default=None,
                        help="device of the networks: 'cpu', 'cuda', 'auto', ... "
                             "(default: where they were trained if this machine has it, "
                             "else the CPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    parser.set_defaults(func=run)
    return parser


def _load_array_file(path, key):
    try:
        with open(path, "rb") as fh:
            data = np.load(fh, allow_pickle=False)
            if isinstance(data, np.ndarray):
                if key is not None:
                    raise CommandError(f"--key applies to .npz files; {path} holds one array")
                return np.array(data)
            with data:
                names = list(data.files)
                if key is None:
                    key = names[0] if len(names) == 1 else "X" if "X" in names else None
                    if key is None:
                        raise CommandError(f"{path} holds the arrays {names}; choose one "
                                           "with --key")
                elif key not in names:
                    raise CommandError(f"{path} has no array {key!r} (found {names})")
                return data[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise CommandError(f"{path}: not a readable .npy / .npz file ({exc})") from None


def read_images(path, model, *, key=None, verbose=False):
    """The images of ``path`` (folder, .npy or .npz) as ``(X, files)`` for ``model``.

    A folder is decoded to the input size and channels of the model's
    network (``files`` lists each image's path relative to the folder);
    array files are returned as stored (``files`` is None) for the model's
    own input checks.

    Raises
    ------
    CommandError
        When the path is missing or unreadable, or a folder is given for a
        model that holds no network trained on uint8 images.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise CommandError(f"{path}: no such file or folder")
    if not path.is_dir():
        if path.suffix.lower() not in (".npy", ".npz"):
            raise CommandError(f"{path}: unsupported file type {path.suffix!r}; give a "
                               "folder of images, an .npy or an .npz file")
        return _load_array_file(path, key), None
    if key is not None:
        raise CommandError("--key applies to .npz files, not to a folder")
    from simcalib.persistence import find_networks

    nets = [n for n in find_networks(model) if hasattr(n, "input_shape_")]
    if not nets:
        raise CommandError("a folder of images needs a model with a fitted "
                           "SimilarityLSClassifier (its input size); give an .npy / .npz "
                           "array for this model")
    net = nets[0]
    if getattr(net, "input_dtype_", None) != "uint8":
        raise CommandError(
            f"the model's network was trained on {net.input_dtype_} images, not on uint8 "
            "pixels decoded from files; give IMAGES as an .npy / .npz array scaled like "
            "its training images"
        )
    from simcalib.datasets._decode import decode_images
    from simcalib.datasets._folder import _decode_resized, _images_under

    channels, height, width = net.input_shape_
    if channels not in (1, 3):
        raise CommandError(f"the model takes {channels}-channel images; a folder of image "
                           "files gives 1 (greyscale) or 3 (RGB)")
    files = _images_under(path)
    if not files:
        raise CommandError(f"{path}: no image files below this folder")
    decode = functools.partial(_decode_resized, size=(height, width),
                               mode="RGB" if channels == 3 else "L")
    try:
        X = decode_images([(str(f), str(f)) for f in files], decode, verbose=verbose,
                          what="images", empty_shape=(height, width, channels))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return np.ascontiguousarray(X.transpose(0, 3, 1, 2)), [
        f.relative_to(path).as_posix() for f in files]


def _write(out, probs, y_pred, classes, files):
    suffix = out.suffix.lower()
    if suffix == ".npz":
        arrays = {"probs": probs, "y_pred": y_pred, "labels": classes}
        if files is not None:
            arrays["files"] = np.array(files)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        data = buf.getvalue()
    else:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow((["file"] if files is not None else []) + ["y_pred"]
                        + [str(c) for c in classes])
        for i in range(len(probs)):
            writer.writerow(([files[i]] if files is not None else []) + [str(y_pred[i])]
                            + [f"{p:.6g}" for p in probs[i]])
        data = text.getvalue().encode("utf-8")
    from simcalib.datasets._cache import atomic_write_bytes

    atomic_write_bytes(out, data)


def run(args):
    """Run ``simcalib predict``; return the exit code."""
    from simcalib.cli._reproduce import quiet_progress
    from simcalib.persistence import load_model

    out = Path(args.out).expanduser()
    if out.suffix.lower() not in (".csv", ".npz"):
        raise CommandError(f"--out must end in .csv or .npz; got {args.out!r}")
    if out.is_dir():
        raise CommandError(f"--out {args.out} is a folder; give a file name")
    images = Path(args.images).expanduser()
    if not images.exists():
        raise CommandError(f"{images}: no such file or folder")
    with quiet_progress(args.quiet):
        model = load_model(args.model, device=args.device)
        if not hasattr(model, "predict_proba"):
            raise CommandError(f"{args.model}: the saved {type(model).__name__} has no "
                               "predict_proba")
        X, files = read_images(images, model, key=args.key, verbose=not args.quiet)
        try:
            probs = np.asarray(model.predict_proba(X), dtype=np.float64)
        except ValueError as exc:  # images the model's input checks refuse
            raise CommandError(f"{images}: {exc}") from None
    classes = np.asarray(getattr(model, "classes_", np.arange(probs.shape[1])))
    y_pred = classes[probs.argmax(axis=1)]
    _write(out, probs, y_pred, classes, files)
    if not args.quiet:
        counts = ", ".join(f"{c}: {int(n)}" for c, n in
                           zip(classes, np.bincount(probs.argmax(axis=1), minlength=len(classes))))
        print(f"wrote calibrated probabilities of {len(probs)} images ({len(classes)} classes) "
              f"to {out}; predicted {counts}")
    return 0
