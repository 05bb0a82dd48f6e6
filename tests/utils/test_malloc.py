"""Tests of skautodl/utils/_malloc.py: allocator settings during training."""

import pytest

from skautodl.utils import _malloc


class FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def clean_env(monkeypatch):
    for name in _malloc.PINNING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_unpinned_environment_only_trims_afterwards(clean_env):
    libc = FakeLibc()
    with _malloc.training_allocator(libc):
        assert libc.calls == []  # glibc's own thresholds while training
    assert libc.calls == [("malloc_trim", 0)]


def test_trimmed_even_when_the_trial_raises_unpinned(clean_env):
    libc = FakeLibc()
    with pytest.raises(RuntimeError), _malloc.training_allocator(libc):
        raise RuntimeError("boom")
    assert libc.calls == [("malloc_trim", 0)]


def test_release_free_memory_trims(clean_env):
    libc = FakeLibc()
    assert _malloc.release_free_memory(libc) is True
    assert libc.calls == [("malloc_trim", 0)]


def test_dask_nanny_settings_are_lifted_then_restored(clean_env):
    # what distributed's nanny puts in every worker's environment
    clean_env.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    libc = FakeLibc()
    with _malloc.training_allocator(libc):
        assert libc.calls == [
            ("mallopt", _malloc.M_MMAP_THRESHOLD, _malloc.TRAINING_MMAP_THRESHOLD),
            ("mallopt", _malloc.M_TRIM_THRESHOLD, _malloc.TRAINING_TRIM_THRESHOLD),
        ]
        libc.calls.clear()
    assert libc.calls == [
        ("mallopt", _malloc.M_MMAP_THRESHOLD, _malloc.DEFAULT_MMAP_THRESHOLD),
        ("mallopt", _malloc.M_TRIM_THRESHOLD, 65536),
        ("malloc_trim", 0),
    ]


def test_restored_even_when_the_trial_raises(clean_env):
    clean_env.setenv("MALLOC_MMAP_THRESHOLD_", "1048576")
    libc = FakeLibc()
    with pytest.raises(RuntimeError), _malloc.training_allocator(libc):
        raise RuntimeError("boom")
    assert ("mallopt", _malloc.M_MMAP_THRESHOLD, 1048576) in libc.calls
    assert libc.calls[-1] == ("malloc_trim", 0)


def test_real_libc_round_trip(clean_env):
    clean_env.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    if _malloc._libc() is None:
        pytest.skip("not glibc")
    with _malloc.training_allocator():
        data = bytearray(10 * 2**20)  # allocations still work
    assert len(data) == 10 * 2**20
