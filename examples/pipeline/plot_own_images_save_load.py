"""
=====================================================
Your own images: train, save, load elsewhere, predict
=====================================================

A new user's day with simcalib: a folder of photos sorted into one folder
per class, a network trained with class-similarity label smoothing,
temperature scaling on top, the model saved to a folder, and the saved model
loaded in a *fresh* Python process -- as it would be on another machine --
to print calibrated probabilities, from Python and from the command line.

The example writes its own small folder of images (coloured shapes), so it
runs anywhere in a few seconds, without any download.
"""

# %%
# A folder of images, one sub-folder per class
# --------------------------------------------
# :func:`~simcalib.datasets.load_image_folder` reads the common layout
# ``root/<class name>/*.png|jpg`` (with ``root/train/`` and ``root/test/``
# when the split is given; here it makes a stratified split). Each image is
# centre-cropped to the target's aspect ratio and resized -- the photos below
# are 48x36 -- and the decoded arrays are cached, so a second load is
# instant. The folder names are the class names.
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image, ImageDraw

work = Path(tempfile.mkdtemp(prefix="simcalib-own-images-"))
photos = work / "photos"
rng = np.random.default_rng(0)
SHAPES = ["circle", "square", "triangle", "cross"]


def draw(shape, rng):
    """A 48x36 photo: one shape of a random colour, size and place, on noise."""
    img = Image.fromarray(rng.integers(0, 90, size=(36, 48, 3), dtype=np.uint8))
    pen = ImageDraw.Draw(img)
    r = int(rng.integers(7, 13))
    x, y = int(rng.integers(6 + r, 42 - r)), int(rng.integers(r + 2, 34 - r))
    colour = tuple(int(c) for c in rng.integers(120, 256, size=3))
    box = (x - r, y - r, x + r, y + r)
    if shape == "circle":
        pen.ellipse(box, fill=colour)
    elif shape == "square":
        pen.rectangle(box, fill=colour)
    elif shape == "triangle":
        pen.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=colour)
    else:
        pen.rectangle((x - r, y - r // 3, x + r, y + r // 3), fill=colour)
        pen.rectangle((x - r // 3, y - r, x + r // 3, y + r), fill=colour)
    return img


for shape in SHAPES:
    (photos / shape).mkdir(parents=True)
    for i in range(90):
        draw(shape, rng).save(photos / shape / f"{shape}_{i:03d}.png")

from simcalib.datasets import load_image_folder

data = load_image_folder(photos, image_size=24, labels="name", cache_dir=work / "cache")
print(data.class_names, data.X_train.shape, data.X_test.shape, data.y_train[:3])

fig, axes = plt.subplots(1, 8, figsize=(10, 1.6))
for ax, x, label in zip(axes, data.X_train[::40], data.y_train[::40]):
    ax.imshow(x.transpose(1, 2, 0))
    ax.set_title(label, fontsize=9)
    ax.axis("off")
fig.suptitle("training images after the 24x24 resize", fontsize=10)

# %%
# Train, then calibrate on held-out images
# ----------------------------------------
# The labels are the class names, so the classifier's ``classes_`` are too.
# The soft labels come from the mean pixel distance between classes; a
# word-vector or WordNet similarity would take the same folder names
# without any extra step. Temperature scaling is fitted on images the
# network did not train on.
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

from simcalib import (
    CalibratedClassifier,
    PixelDistanceSimilarity,
    SimilarityLSClassifier,
    TemperatureScaling,
)
from simcalib.metrics import expected_calibration_error

X_fit, X_cal, y_fit, y_cal = train_test_split(
    data.X_train, data.y_train, test_size=0.25, random_state=0, stratify=data.y_train)
net = SimilarityLSClassifier("small_cnn", similarity=PixelDistanceSimilarity(), alpha=0.1,
                             beta=2.0, max_epochs=20, batch_size=32, random_state=0,
                             device="cpu", verbose=0)
net.fit(X_fit, y_fit)
model = CalibratedClassifier(FrozenEstimator(net), TemperatureScaling()).fit(X_cal, y_cal)
print("classes:", model.classes_.tolist())
print(f"test accuracy {np.mean(model.predict(data.X_test) == data.y_test):.3f}, "
      f"ECE {expected_calibration_error(data.y_test, model.predict_proba(data.X_test), labels=model.classes_):.3f}")

# %%
# Save the whole stack
# --------------------
# :func:`simcalib.save_model` writes a folder: the network's weights as a
# plain ``state_dict`` (skorch's ``save_params``), and the scikit-learn side
# (the frozen network's settings, the temperature, the classes) pickled.
# :func:`simcalib.load_model` puts the network on the device asked for, or
# on one the loading machine has. The pickles run code when loaded: load
# only models you made or trust (the ``.pt`` weights alone are safe, they
# are read with ``torch.load(weights_only=True)``).
from simcalib import save_model

folder = save_model(model, work / "shapes-model")
print(sorted(p.name for p in folder.iterdir()))
picked = np.arange(9, len(data.y_test), 18)  # a test image of every class
np.save(work / "new_images.npy", data.X_test[picked])

# %%
# Load it in a fresh process
# --------------------------
# A new interpreter shares nothing with this one: it finds everything in
# the folder. (``PYTHONPATH`` only makes it import the same simcalib as this
# process, for a source checkout that is not installed.)
import os

import simcalib

env = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [str(Path(simcalib.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
code = textwrap.dedent(f"""
    import numpy as np
    from simcalib import load_model

    model = load_model({str(folder)!r}, device="cpu")
    proba = model.predict_proba(np.load({str(work / "new_images.npy")!r}))
    print("classes:", " ".join(model.classes_))
    for p in proba:
        print(" ".join(f"{{v:.3f}}" for v in p), "->", model.classes_[p.argmax()])
""")
fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
if fresh.returncode:
    raise RuntimeError(f"the fresh process failed:\n{fresh.stderr}")
print(fresh.stdout)
print("true labels:", " ".join(data.y_test[picked]))
printed = np.array([line.split(" ->")[0].split() for line in fresh.stdout.splitlines()[1:]],
                   dtype=float)
print("the same probabilities as in this process:",
      np.allclose(printed, model.predict_proba(data.X_test[picked]), atol=5e-4))

# %%
# From the command line
# ---------------------
# ``simcalib predict MODEL IMAGES`` decodes a folder of images to the
# model's input size (or reads an ``.npy`` / ``.npz`` array) and writes the
# calibrated probabilities and the predicted labels to a CSV or ``.npz``
# file.
new = work / "new-photos"
new.mkdir()
for i, shape in enumerate(SHAPES):
    draw(shape, np.random.default_rng(100 + i)).save(new / f"new_{shape}.png")
cli = subprocess.run([sys.executable, "-m", "simcalib", "predict", str(folder), str(new),
                      "--out", str(work / "predictions.csv")],
                     capture_output=True, text=True, env=env)
if cli.returncode:
    raise RuntimeError(f"simcalib predict failed:\n{cli.stderr}")
print(cli.stdout)
print((work / "predictions.csv").read_text())

shutil.rmtree(work)  # the example's images, cache and model
plt.show()
