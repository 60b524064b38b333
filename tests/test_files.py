"""scratchnet.files: a file is written whole or not at all, and what a killed writer left is cleaned up."""

import errno
import os
import subprocess
import sys

import pytest

from scratchnet import files


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_full_disk_leaves_the_old_file_whole_and_no_temporary(tmp_path):
    path = tmp_path / "metrics.csv"
    files.write_text(path, "old\n")

    with pytest.raises(OSError) as raised:
        with files.atomic_write(path, "w") as file:
            file.write("half of the new")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert raised.value.errno == errno.ENOSPC
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]


def test_write_json_gives_the_same_bytes_for_the_same_data(tmp_path):
    files.write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    files.write_json(tmp_path / "b.json", {"a": [1, 2], "b": 1})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_stale_temporaries_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    dead = dead_pid()
    stale = [tmp_path / f".checkpoint.npz.{dead}.tmp", tmp_path / f".cifar-10-python.tar.gz.{dead}.part",
             tmp_path / f".x.{2 ** 70}.tmp"]  # no process has an id that large
    for path in stale:
        path.write_bytes(b"left by kill -9")
    half_extracted = tmp_path / f".cifar-10-batches-py.{dead}.tmp"
    (half_extracted / "cifar-10-batches-py").mkdir(parents=True)
    live = tmp_path / f".metrics.csv.{os.getpid()}.tmp"
    live.write_text("being written")
    unrelated = [tmp_path / "checkpoint.npz", tmp_path / ".hidden.tmp"]
    for path in unrelated:
        path.write_text("keep")
    removed = files.remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted([*stale, half_extracted])
    assert sorted(tmp_path.iterdir()) == sorted([live, *unrelated])


def test_process_alive():
    assert files.process_alive(os.getpid())
    assert not files.process_alive(dead_pid())
    assert not files.process_alive(2 ** 70)


def test_check_writable_creates_the_folder_and_leaves_nothing(tmp_path):
    files.check_writable(tmp_path / "a" / "b")
    assert list((tmp_path / "a" / "b").iterdir()) == []
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        files.check_writable(tmp_path / "file" / "run")


def test_the_next_command_cleans_up_a_download_cut_short_beside_the_data(tmp_path):
    from fakes import make_fake

    from scratchnet.download import ensure_cifar10

    make_fake(tmp_path)
    dead = dead_pid()
    (tmp_path / f".cifar-10-python.tar.gz.{dead}.part").write_bytes(b"12 MB of 163")
    (tmp_path / f".cifar-10-batches-py.{dead}.tmp" / "cifar-10-batches-py").mkdir(parents=True)
    assert ensure_cifar10(tmp_path, download=False) == tmp_path
    assert [path.name for path in tmp_path.iterdir()] == ["cifar-10-batches-py"]
