"""Tests of the method registry."""

import pytest

from simcalib.experiments import METHODS, get_methods


def test_paper_column_order():
    assert [m.label for m in METHODS] == [
        "One-hot", "TS", "Uniform", "Mixup", "Dir-ODIR", "ETS", "L1", "L2", "AE", "WE"
    ]
    assert [m.key for m in METHODS if m.stage == "posthoc"] == ["ts", "dir-odir", "ets"]
    assert [m.key for m in METHODS if m.is_similarity] == ["l1", "l2", "ae", "we"]


def test_get_methods_orders_and_aliases():
    assert [m.key for m in get_methods("WE, onehot,Dir_ODIR")] == ["one-hot", "dir-odir", "we"]
    assert get_methods("all") == list(METHODS)
    assert [m.key for m in get_methods(["l2", "l2"])] == ["l2"]


@pytest.mark.parametrize("names, match", [("l3", "unknown method 'l3'"), ("", "empty")])
def test_get_methods_errors(names, match):
    with pytest.raises(ValueError, match=match):
        get_methods(names)
