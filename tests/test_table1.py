"""scratchnet.table1 through reproduce: the table needs no data, names each run's own facts, and the
same runs give the same files, byte for byte (re-running with no new run leaves git status clean)."""

import json

import pytest
from fakes import make_fake

from scratchnet import reproduce
from scratchnet.table1 import NOT_RECORDED

FILES = ("table1.json", "table1.md", "table1.png", "curves.png")


def summary(accuracy, **facts):
    return {"model": "cnn", "test_accuracy": accuracy, "test_loss": 1.0, "val_accuracy": None, "epochs": 2,
            "wall_time_s": 90.0, "train_images_per_s": 1000.0, "threads": 2,
            "test_accuracy_per_epoch": [0.5, accuracy], **facts}


@pytest.fixture
def finished_runs(tmp_path):
    runs = tmp_path / "runs"
    for seed, facts in enumerate([{"commit": "0a1b2c3", "data": "the official CIFAR-10 python release"}, {}]):
        (runs / f"cnn-seed{seed}").mkdir(parents=True)
        (runs / f"cnn-seed{seed}" / "summary.json").write_text(json.dumps(summary(0.7 + seed / 100, **facts)))
    return runs


def contents(out):
    return {name: (out / name).read_bytes() for name in FILES}


def test_report_only_needs_no_data_and_names_the_runs_own_facts(finished_runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path / "no" / "such" / "folder"))
    out = tmp_path / "results"
    argv = ["--models", "cnn", "--seeds", "0", "1", "--runs", str(finished_runs), "--out", str(out)]
    assert reproduce.main([*argv, "--report-only"]) == 0
    table = json.loads((out / "table1.json").read_text())
    assert table["commits"] == ["0a1b2c3", NOT_RECORDED]  # the runs' commits, not this checkout's
    assert table["data"] == [NOT_RECORDED, "the official CIFAR-10 python release"]
    assert "--report-only" not in table["command"]
    first = contents(out)
    # again, and as the training command that found every run finished: not a byte changes
    assert reproduce.main([*argv, "--report-only"]) == 0
    assert contents(out) == first
    monkeypatch.delenv("SCRATCHNET_DATA")
    assert reproduce.main(argv) == 0
    assert contents(out) == first
    assert not (tmp_path / "no").exists()


def test_a_trained_run_records_its_data_and_rerunning_changes_nothing(tmp_path, capsys):
    make_fake(tmp_path / "data")
    argv = ["--models", "lstm", "--seeds", "0", "--small", "--epochs", "1", "--runs", str(tmp_path / "runs"),
            "--out", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")]
    assert reproduce.main(argv) == 0
    saved = json.loads((tmp_path / "runs" / "lstm-seed0" / "summary.json").read_text())
    assert "CIFAR-10" in saved["data"] and saved["commit"]
    first = contents(tmp_path / "results")
    capsys.readouterr()
    assert reproduce.main(argv) == 0
    assert "finished earlier, skipped" in capsys.readouterr().out
    assert contents(tmp_path / "results") == first
