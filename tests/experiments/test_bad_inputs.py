"""Bad inputs to the experiment API: the error type and a message naming the setting.

``run_experiment`` must refuse every bad setting before it writes anything,
so that a mistyped option never locks an output folder.
"""

import doctest

import numpy as np
import pytest

from simcalib.experiments import (
    ExperimentConfig,
    _config,
    _methods,
    _plan,
    _store,
    _train,
    get_methods,
    load_experiment_data,
    ood_inputs,
    run_experiment,
)


def cfg(**kwargs):
    base = dict(methods=("one-hot",), seeds=(0,), epochs=1, batch_size=32, max_classes=3,
                max_train_per_class=20, holdout=0.2, width=4, ood=False, quiet=True)
    base.update(kwargs)
    return ExperimentConfig(**base)


NAN, INF = float("nan"), float("inf")

BAD_SETTINGS = [
    ({"dataset": "mnist"}, "dataset must be one of digits, cifar100, tiny-imagenet"),
    ({"dataset": None}, "dataset must be one of"),
    ({"dataset": "cifar100"}, "data_dir is required for dataset 'cifar100'"),
    ({"dataset": "cifar100", "data_dir": "/nonexistent/c"}, "data_dir: /nonexistent/c does not exist"),
    ({"data_dir": "."}, "data_dir is not used with dataset 'digits'"),
    ({"data_dir": 3}, "data_dir must be a path"),
    ({"model": None}, "model must be a network name"),
    ({"model": ""}, "model must be a network name"),
    ({"width": 0}, "width must be >= 1"),
    ({"width": 2.5}, "width must be an integer"),
    ({"methods": ("foo",)}, "methods: unknown method 'foo'"),
    ({"methods": ()}, "methods: methods is empty"),
    ({"seeds": ()}, "seeds is empty"),
    ({"seeds": 0}, "seeds must be a sequence of integers"),
    ({"seeds": "01"}, "seeds must be a sequence of integers"),
    ({"seeds": (-1,)}, "every seed in seeds must be >= 0"),
    ({"seeds": (2**32,)}, "every seed in seeds must be <= 4294967295"),
    ({"seeds": (1.5,)}, "every seed in seeds must be an integer"),
    ({"seeds": ("a",)}, "every seed in seeds must be an integer"),
    ({"seeds": (True,)}, "every seed in seeds must be an integer"),
    ({"seeds": (0, 0)}, "seeds lists a seed twice"),
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"epochs": 1.5}, "epochs must be an integer"),
    ({"epochs": "3"}, "epochs must be an integer"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"lr": NAN}, "lr must be a finite real number"),
    ({"lr": INF}, "lr must be a finite real number"),
    ({"lr": 0.0}, "lr must be > 0"),
    ({"lr": 1e39}, "lr must be <= 3.40"),
    ({"weight_decay": -1e-4}, "weight_decay must be >= 0"),
    ({"weight_decay": INF}, "weight_decay must be a finite real number"),
    ({"alpha": 1.5}, "alpha must be <= 1"),
    ({"alpha": NAN}, "alpha must be a finite real number"),
    ({"beta": -1.0}, "beta must be >= 0"),
    ({"beta": NAN}, "beta must be a finite real number"),
    ({"mixup_alpha": 0.0}, "mixup_alpha must be > 0"),
    ({"mixup_alpha": NAN}, "mixup_alpha must be a finite real number"),
    ({"holdout": 0.0}, "holdout must be > 0"),
    ({"holdout": 1.0}, "holdout must be < 1"),
    ({"holdout": NAN}, "holdout must be a finite real number"),
    ({"max_classes": 1}, "max_classes must be >= 2"),
    ({"max_classes": 1.5}, "max_classes must be an integer"),
    ({"max_train_per_class": 1}, "max_train_per_class must be >= 2"),
    ({"similarity_samples": 0}, "similarity_samples must be >= 1"),
    ({"ae_latent_dim": 0}, "ae_latent_dim must be >= 1"),
    ({"ae_epochs": -1}, "ae_epochs must be >= 1"),
    ({"device": "gpu"}, "device='gpu' is not a valid torch device"),
    ({"device": 3}, "device must be None, 'auto'"),
    ({"sweep_alphas": (NAN,)}, "sweep_alphas must be a finite real number"),
    ({"sweep_alphas": (2.0,)}, "sweep_alphas must be <= 1"),
    ({"sweep_alphas": 0.1}, "sweep_alphas must be a sequence of numbers"),
    ({"sweep_betas": (-1.0,)}, "sweep_betas must be >= 0"),
    ({"sweep_method": "foo", "sweep_alphas": (0.1,)}, "sweep_method must be one of"),
    ({"sweep_method": "we", "sweep_alphas": (0.1,)}, "the WE method needs word vectors"),
    ({"methods": ("we",)}, "the WE method needs word vectors (word_vectors PATH)"),
    ({"methods": ("we",), "word_vectors": "/nonexistent/v.txt"}, "/nonexistent/v.txt does not exist"),
    ({"methods": ("we",), "word_vectors": "."}, "word_vectors: . is not a file"),
    ({"ood": "yes"}, "ood must be True or False"),
    ({"quiet": "no"}, "quiet must be True or False"),
    ({"ood": True, "ood_dataset": "foo"}, "ood_dataset must be one of"),
    ({"ood": False, "ood_dataset": "digits"}, "ood_dataset is set but the OOD figure is off"),
    ({"ood": True, "ood_dataset": "cifar100"}, "ood_dataset 'cifar100' needs ood_data_dir"),
    ({"ood": True, "ood_data_dir": "."}, "ood_data_dir is only used with ood_dataset"),
    ({"ood": True, "n_ood": 0}, "n_ood must be >= 1"),
    ({"ood": True, "n_ood": -5}, "n_ood must be >= 1"),
]


@pytest.mark.parametrize("change, message", BAD_SETTINGS)
def test_validate_names_the_setting(change, message):
    with pytest.raises(ValueError) as info:
        cfg(**change).validate()
    assert message in str(info.value)


@pytest.mark.parametrize("change, message", BAD_SETTINGS[::4])
def test_run_experiment_refuses_before_writing(tmp_path, change, message):
    with pytest.raises(ValueError) as info:
        run_experiment(cfg(**change), tmp_path / "out", log=lambda s: None)
    assert message in str(info.value)
    assert not (tmp_path / "out").exists()


def test_valid_config_passes_and_is_returned():
    c = cfg()
    assert c.validate() is c


@pytest.mark.parametrize("change, message", [
    ({"model": "resnet999"}, "'resnet999' is not a known network"),
    ({"model": "densenet_bc13"}, "densenet"),
    ({"max_classes": 1000}, "max_classes must be in [2, 10]"),
    ({"max_train_per_class": 2, "holdout": 0.9}, "cannot give every class an image"),
])
def test_data_and_network_checks_run_before_writing(tmp_path, change, message):
    pytest.importorskip("torch")
    with pytest.raises(ValueError) as info:
        run_experiment(cfg(**change), tmp_path / "out", log=lambda s: None)
    assert message in str(info.value)
    assert not (tmp_path / "out").exists()


def test_callbacks_must_be_a_sequence(tmp_path):
    with pytest.raises(TypeError, match="callbacks must be a sequence of skorch callbacks"):
        run_experiment(cfg(), tmp_path / "out", callbacks=object(), log=lambda s: None)
    assert not (tmp_path / "out").exists()


def test_numpy_scalars_are_settings_too(tmp_path):
    pytest.importorskip("torch")
    res = run_experiment(cfg(epochs=np.int64(1), lr=np.float32(2e-3), seeds=np.array([0]),
                             ood=False), tmp_path / "out", log=lambda s: None)
    assert res.n_trained == 1


def test_run_experiment_needs_a_config(tmp_path):
    with pytest.raises(TypeError, match="config must be an ExperimentConfig; got dict"):
        run_experiment({"epochs": 1}, tmp_path / "out")


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("x"), "is an existing file, not a folder"),
])
def test_output_path_that_is_a_file(tmp_path, make, message):
    out = tmp_path / "out"
    make(out)
    with pytest.raises(ValueError, match=message):
        run_experiment(cfg(), out, log=lambda s: None)
    with pytest.raises(ValueError, match="is a file"):
        run_experiment(cfg(), out / "below", log=lambda s: None)


@pytest.mark.parametrize("kwargs, message", [
    ({"dataset": "mnist"}, "unknown dataset 'mnist'"),
    ({"dataset": None}, "unknown dataset None"),
    ({"dataset": "tiny-imagenet"}, "data_dir is required for dataset 'tiny-imagenet'"),
    ({"dataset": "digits", "holdout": 0.0}, "holdout must be > 0"),
    ({"dataset": "digits", "holdout": NAN}, "holdout must be a finite real number"),
    ({"dataset": "digits", "max_classes": 0}, "max_classes must be >= 2"),
    ({"dataset": "digits", "max_classes": 11}, "max_classes must be in [2, 10]"),
    ({"dataset": "digits", "max_train_per_class": 1}, "max_train_per_class must be >= 2"),
    ({"dataset": "digits", "max_train_per_class": 2, "holdout": 0.3, "max_classes": 3},
     "cannot give every class an image"),
])
def test_load_experiment_data(kwargs, message):
    with pytest.raises(ValueError) as info:
        load_experiment_data(**kwargs)
    assert message in str(info.value)


@pytest.fixture(scope="module")
def digits3():
    return load_experiment_data("digits", max_classes=3)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n must be >= 1"),
    ({"n": -1}, "n must be >= 1"),
    ({"n": 2.5}, "n must be an integer"),
    ({"n": 3, "other": np.zeros((5, 8))}, "other must be a non-empty array of images"),
    ({"n": 3, "other": np.zeros((0, 1, 8, 8))}, "other must be a non-empty array of images"),
])
def test_ood_inputs(digits3, kwargs, message):
    with pytest.raises(ValueError) as info:
        ood_inputs(digits3, **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize("names, message", [
    ("", "methods is empty"),
    (",,", "methods is empty"),
    ("one-hot,bogus", "unknown method 'bogus'"),
])
def test_get_methods(names, message):
    with pytest.raises(ValueError, match=message):
        get_methods(names)


def test_make_calibrator_unknown_key():
    with pytest.raises(ValueError, match="unknown post-hoc method 'platt'"):
        _train.make_calibrator("platt")


@pytest.mark.parametrize("module", [_config, _methods, _plan, _store, _train])
def test_docstring_examples(module):
    assert doctest.testmod(module, raise_on_error=False).failed == 0
