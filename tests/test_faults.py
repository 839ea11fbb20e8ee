"""Failpoints are read from the environment when reached, not when seam is imported."""

from __future__ import annotations

import errno

import pytest

from seam.faults import failpoint


def test_a_failpoint_named_after_import_is_met_and_one_unset_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEAM_FAILPOINTS", raising=False)
    failpoint("test_point")  # unset: nothing happens

    monkeypatch.setenv("SEAM_FAILPOINTS", "other=hang, test_point=enospc*2")
    for _ in range(2):
        with pytest.raises(OSError) as raised:
            failpoint("test_point")
        assert raised.value.errno == errno.ENOSPC
    failpoint("test_point")  # the disk was freed after two tries

    monkeypatch.setenv("SEAM_FAILPOINTS", "test_eio=eio")
    with pytest.raises(OSError) as raised:
        failpoint("test_eio")
    assert raised.value.errno == errno.EIO
    monkeypatch.delenv("SEAM_FAILPOINTS")
    failpoint("test_eio")
