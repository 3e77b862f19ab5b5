"""Writing recordings: a path that cannot be created, and a disk that fills up, are RecordingWriteErrors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiktok_live.recording import Recorder, RecordingError, RecordingWriteError


def test_a_missing_folder_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingWriteError, match="cannot create the recording") as raised:
        Recorder(tmp_path / "missing" / "show.gz", unique_id="x")
    assert isinstance(raised.value, RecordingError)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_a_typed_error_raised_once_per_write_and_close_does_not_raise_again() -> None:
    recorder = Recorder("/dev/full", unique_id="x")
    with pytest.raises(RecordingWriteError, match="No space left on device") as first:
        recorder.frame("in", os.urandom(200_000))  # more than the write buffer: it reaches the device
    with pytest.raises(RecordingWriteError) as again:
        recorder.frame("in", b"more")
    assert again.value is first.value
    recorder.close()  # the failure was raised already
    recorder.close()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_at_close_is_a_typed_error() -> None:
    recorder = Recorder("/dev/full", unique_id="x")
    recorder.frame("in", b"small")  # buffered
    with pytest.raises(RecordingWriteError):
        recorder.close()
