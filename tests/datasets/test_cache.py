"""Tests of the atomic writes and the verified array cache."""

import json
import multiprocessing
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simcalib.datasets._cache import (
    atomic_write_bytes,
    atomic_write_json,
    load_array_cache,
    save_array_cache,
)


def test_round_trip_memory_mapped(tmp_path):
    x = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    save_array_cache(tmp_path / "e", {"x": x, "y": np.array([1, 2])}, {"names": ["a"]})
    arrays, meta = load_array_cache(tmp_path / "e")
    assert isinstance(arrays["x"], np.memmap)
    np.testing.assert_array_equal(arrays["x"], x)
    assert meta == {"names": ["a"]}
    arrays, _ = load_array_cache(tmp_path / "e", mmap=False)
    assert not isinstance(arrays["x"], np.memmap)


@pytest.mark.parametrize("verify", ["hash", "size"])
def test_truncated_file_is_rejected(tmp_path, verify):
    save_array_cache(tmp_path / "e", {"x": np.zeros(1000)})
    path = tmp_path / "e" / "x.npy"
    path.write_bytes(path.read_bytes()[:-8])
    assert load_array_cache(tmp_path / "e", verify=verify) is None


def test_changed_bytes_are_rejected_by_hash(tmp_path):
    save_array_cache(tmp_path / "e", {"x": np.zeros(1000)})
    path = tmp_path / "e" / "x.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert load_array_cache(tmp_path / "e", verify="size") is not None
    assert load_array_cache(tmp_path / "e", verify="hash") is None


def test_missing_manifest_or_file_is_rejected(tmp_path):
    save_array_cache(tmp_path / "e", {"x": np.zeros(3), "y": np.ones(2)})
    (tmp_path / "e" / "y.npy").unlink()
    assert load_array_cache(tmp_path / "e") is None
    save_array_cache(tmp_path / "f", {"x": np.zeros(3)})
    (tmp_path / "f" / "manifest.json").unlink()
    assert load_array_cache(tmp_path / "f") is None
    (tmp_path / "f" / "manifest.json").write_text("{not json")
    assert load_array_cache(tmp_path / "f") is None


def test_interrupted_save_leaves_no_entry(tmp_path, monkeypatch):
    class Boom:
        """An array-like whose conversion fails half-way through the save."""

        def __array__(self, dtype=None, copy=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_array_cache(tmp_path / "e", {"x": np.zeros(3), "y": Boom()})
    assert load_array_cache(tmp_path / "e") is None
    assert list(tmp_path.iterdir()) == []
    # An existing entry survives an interrupted rebuild untouched.
    save_array_cache(tmp_path / "e", {"x": np.zeros(3)})
    with pytest.raises(KeyboardInterrupt):
        save_array_cache(tmp_path / "e", {"x": Boom()})
    arrays, _ = load_array_cache(tmp_path / "e")
    np.testing.assert_array_equal(arrays["x"], np.zeros(3))


def test_stale_partial_folders_are_removed(tmp_path):
    (tmp_path / "e.partial-abc").mkdir()
    (tmp_path / "e.partial-abc" / "x.npy").write_bytes(b"junk")
    save_array_cache(tmp_path / "e", {"x": np.zeros(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e"]


def test_atomic_write_keeps_old_content_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    atomic_write_json(path, {"a": 1})

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("simcalib.datasets._cache.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_verify_argument_is_checked(tmp_path):
    with pytest.raises(ValueError, match="verify"):
        load_array_cache(tmp_path, verify="nope")


def test_atomic_write_uses_umask_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_build_folder_of_a_running_writer_is_left_alone(tmp_path):
    # Two jobs decoding the same dataset at once: the second must not delete
    # the folder the first is still writing into.
    host = socket.gethostname().replace("/", "_")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f"e.partial-{host}-{sleeper.pid}-abc_1"
        dead = tmp_path / f"e.partial-{host}-{_dead_pid()}-abc_2"
        for folder in (live, dead):
            folder.mkdir()
            (folder / "x.npy").write_bytes(b"partial")
        save_array_cache(tmp_path / "e", {"x": np.zeros(3)})
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["e", live.name])
    finally:
        sleeper.kill()
        sleeper.wait()


def _save_many(directory, seed, rounds):
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        save_array_cache(directory, {"x": rng.random(1_000_000)}, {"k": 1})


def test_two_processes_building_the_same_entry_both_succeed(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = [pool.apply_async(_save_many, (tmp_path / "e", seed, 40)) for seed in (0, 1)]
        for result in results:
            result.get(timeout=120)  # re-raises a writer's OSError here
    arrays, meta = load_array_cache(tmp_path / "e")
    assert arrays["x"].shape == (1_000_000,) and meta == {"k": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["e"]


def test_entry_installed_by_another_writer_during_the_rename_is_kept(tmp_path, monkeypatch):
    real_replace = os.replace
    entry = tmp_path / "e"

    def racing_replace(src, dst):
        if Path(dst) == entry and ".partial-" in Path(src).name and not entry.exists():
            monkeypatch.setattr("simcalib.datasets._cache.os.replace", real_replace)
            save_array_cache(entry, {"x": np.ones(3)})  # the other writer wins
        return real_replace(src, dst)

    monkeypatch.setattr("simcalib.datasets._cache.os.replace", racing_replace)
    save_array_cache(entry, {"x": np.zeros(3)})
    arrays, _ = load_array_cache(entry)
    np.testing.assert_array_equal(arrays["x"], np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["e"]
