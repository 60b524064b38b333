"""scratchnet.table1: the table from the runs' summaries alone, the same bytes for the same runs."""

import json

import pytest
from fakes import make_fake

from scratchnet import reproduce
from scratchnet.table1 import NOT_RECORDED, PAPER, run_config, summarise, write_results


def summary(accuracy, seed, **extra):
    return {"test_accuracy": accuracy, "epochs": 30, "wall_time_s": 600.0 + seed, "train_images_per_s": 900.0,
            "threads": 2, "test_accuracy_per_epoch": [accuracy - 0.1, accuracy], **extra}


def test_rows_have_mean_spread_and_provenance():
    rows = summarise({"cnn": [summary(0.79, 0, commit="abc1234", data="official"), summary(0.80, 1)],
                      "lstm": [summary(0.62, 0)]})
    assert rows["cnn"]["mean"] == 0.795 and rows["cnn"]["seeds"] == 2 and rows["cnn"]["std"] > 0
    assert rows["lstm"]["std"] is None  # one seed has no spread: none is printed
    assert rows["cnn"]["commits"] == ["abc1234", NOT_RECORDED] and rows["lstm"]["data"] == [NOT_RECORDED]
    assert rows["cnn"]["paper"] == PAPER["cnn"]


def test_files_are_the_same_bytes_when_nothing_changed(tmp_path):
    rows = summarise({"cnn": [summary(0.79, 0), summary(0.80, 1)], "gru": [summary(0.63, 0)]})
    write_results(rows, tmp_path / "a", "python -m scratchnet.reproduce --report-only")
    write_results(rows, tmp_path / "b", "python -m scratchnet.reproduce --report-only")
    for name in ("table1.md", "table1.json", "table1.png", "curves.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    markdown = (tmp_path / "a" / "table1.md").read_text()
    assert "| GRU | 46% | 63.0% (1 seed) |" in markdown and "± 0.0%" not in markdown


def test_runs_of_the_table_use_every_training_image():
    assert run_config("cnn", 1, 30, small=False).val_size == 0
    assert run_config("cnn", 1, 2, small=True).small


FILES = ("table1.json", "table1.md", "table1.png", "curves.png")


def run_summary(accuracy, **facts):
    return {"model": "cnn", "test_accuracy": accuracy, "test_loss": 1.0, "val_accuracy": None, "epochs": 2,
            "wall_time_s": 90.0, "train_images_per_s": 1000.0, "threads": 2,
            "test_accuracy_per_epoch": [0.5, accuracy], **facts}


@pytest.fixture
def finished_runs(tmp_path):
    runs = tmp_path / "runs"
    for seed, facts in enumerate([{"commit": "0a1b2c3", "data": "the official CIFAR-10 python release"}, {}]):
        (runs / f"cnn-seed{seed}").mkdir(parents=True)
        (runs / f"cnn-seed{seed}" / "summary.json").write_text(
            json.dumps(run_summary(0.7 + seed / 100, **facts)))
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
