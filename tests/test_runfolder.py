"""scratchnet.runfolder: reading a run's folder for its page, and telling how the run stands."""

import json
import os

import pytest

from scratchnet.runfolder import STALE_S, read_run

METRICS = ("epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_s\n"
           "1,2.0,0.3,,,0.02,5.0,100\n")


def run_folder(path, summary=None):
    path.mkdir()
    (path / "metrics.csv").write_text(METRICS)
    if summary is not None:
        (path / "summary.json").write_text(json.dumps(summary))
    return path


def test_what_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        read_run(tmp_path / "nothing")
    with pytest.raises(ValueError, match="not a run folder"):
        read_run(tmp_path)
    (tmp_path / "metrics.csv").write_text("epoch,train_loss,train_accuracy\n")
    with pytest.raises(ValueError, match="no finished epoch"):
        read_run(tmp_path)


def test_a_finished_run_a_running_one_and_one_gone_quiet(tmp_path):
    finished = read_run(run_folder(tmp_path / "done", {"model": "gru", "options": {"model": "gru"}}))
    assert finished.state() == "finished" and finished.model == "gru" and finished.steps is None
    folder = run_folder(tmp_path / "going")
    os.utime(folder / "metrics.csv", (1_000_000, 1_000_000))
    going = read_run(folder)
    assert going.updated == 1_000_000 and going.rows[0]["val_loss"] is None
    assert going.state(now=1_000_000 + 5) == "running"
    assert going.state(now=1_000_000 + STALE_S + 1) == "stale"
