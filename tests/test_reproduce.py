"""The Table 1 command end to end, at a tiny budget: its files, their format, resuming."""

import json

from scratchnet import reproduce
from scratchnet.table1 import DEFAULT_RUNS, PAPER, run_config, unfinished


def test_small_reproduce_writes_the_table_and_resumes(tmp_path, cifar_root, capsys):
    argv = ["--small", "--models", "lstm", "gru", "--seeds", "0", "--epochs", "1",
            "--out", str(tmp_path / "results"), "--runs", str(tmp_path / "runs"),
            "--data-dir", str(cifar_root), "--threads", "1"]
    assert reproduce.main(argv) == 0
    first = capsys.readouterr().out
    assert "[run 1/2] lstm seed 0: epoch 1/1" in first
    assert "min left in this run, 1 more run to train after it" in first
    assert "[run 2/2] gru seed 0: epoch 1/1" in first and "min left in this run, the last run" in first

    table = json.loads((tmp_path / "results" / "table1.json").read_text())
    assert set(table["rows"]) == {"lstm", "gru"}
    for model, row in table["rows"].items():
        assert row["paper"] == PAPER[model]
        assert row["seeds"] == 1 and row["epochs"] == 1 and len(row["curves"][0]) == 1
        assert 0.0 < row["mean"] <= 1.0
        assert row["threads"] == 1  # --threads 1: the images/s column says how many
    assert any("JPEG" in data for data in table["data"]) and table["commits"]
    markdown = (tmp_path / "results" / "table1.md").read_text()
    assert "| LSTM | 47% |" in markdown and "| GRU | 46% |" in markdown and "(1 seed)" in markdown
    assert "Commits of the runs:" in markdown and "Data:" in markdown
    for picture in ("table1.png", "curves.png"):
        assert (tmp_path / "results" / picture).read_bytes()[:4] == b"\x89PNG"

    # A second invocation finds both runs finished and trains nothing.
    assert reproduce.main(argv) == 0
    second = capsys.readouterr().out
    assert second.count("finished earlier, skipped") == 2 and "epoch 1/1" not in second
    assert json.loads((tmp_path / "results" / "table1.json").read_text())["rows"]["lstm"]["mean"] == \
        table["rows"]["lstm"]["mean"]

    # --report-only trains nothing: a row without a finished run is left out and said so.
    report_argv = [*argv[:argv.index("--seeds")], "--seeds", "0", "1", *argv[argv.index("--epochs"):],
                   "--report-only"]
    assert reproduce.main(report_argv) == 0
    third = capsys.readouterr().out
    assert third.count("not finished, left out of the table") == 2 and "epoch 1/1" not in third
    assert json.loads((tmp_path / "results" / "table1.json").read_text())["rows"]["lstm"]["seeds"] == 1


def test_the_time_left_counts_only_runs_still_to_train(tmp_path):
    # Finished runs are skipped, so the progress line must not count them as work ahead.
    for finished in ("cnn-seed1", "gru-seed0"):
        (tmp_path / finished).mkdir()
        (tmp_path / finished / "summary.json").write_text("{}")
    (tmp_path / "cnn-seed2").mkdir()  # started (a checkpoint, no summary): still to train
    plan = [("cnn", 0), ("cnn", 1), ("cnn", 2), ("gru", 0), ("cnn_lstm", 0)]
    assert unfinished(plan, tmp_path) == [("cnn", 0), ("cnn", 2), ("cnn_lstm", 0)]


def test_reproduce_resumes_an_unfinished_run(tmp_path, cifar_root, capsys):
    from scratchnet.cifar10 import load_cifar10
    from scratchnet.runs import RunFolder, train
    from scratchnet.trainer import Interrupted, Trainer, split_data

    config = run_config("lstm", 0, 2, small=True)
    trainer = Trainer(config, split_data(config, *load_cifar10(cifar_root)))
    try:  # stop in epoch 2 of 2 (79 steps an epoch of 64 images)
        train(trainer, RunFolder(tmp_path / "runs" / "lstm-seed0"), stop_after_steps=100,
              test_every_epoch=True)
    except Interrupted:
        pass
    argv = ["--small", "--models", "lstm", "--seeds", "0", "--epochs", "2", "--out",
            str(tmp_path / "results"), "--runs", str(tmp_path / "runs"), "--data-dir", str(cifar_root)]
    assert reproduce.main(argv) == 0
    out = capsys.readouterr().out
    assert "resuming at epoch 2" in out and "epoch 1/2" not in out and "epoch 2/2" in out


def test_ctrl_c_while_a_run_is_finishing_stops_before_the_next(tmp_path, cifar_root, capsys, monkeypatch):
    import os
    import signal

    from scratchnet import runs

    finish = runs.train

    def train_then_ctrl_c(*args, **kwargs):  # the signal lands after the last step
        summary = finish(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return summary

    monkeypatch.setattr(runs, "train", train_then_ctrl_c)
    argv = ["--small", "--models", "lstm", "gru", "--seeds", "0", "--epochs", "1", "--out",
            str(tmp_path / "results"), "--runs", str(tmp_path / "runs"), "--data-dir", str(cifar_root)]
    assert reproduce.main(argv) == 130
    assert "[run 1/2] lstm seed 0: finished, then stopped; saved. Run the same command again to go on." \
        in capsys.readouterr().err
    assert (tmp_path / "runs" / "lstm-seed0" / "summary.json").is_file()
    assert not (tmp_path / "runs" / "gru-seed0").exists()


def test_finished_runs_are_committed_but_not_their_checkpoints():
    # A table built over several sittings keeps its finished runs in git (results/runs/*/summary.json)
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    paths = [f"{DEFAULT_RUNS}/cnn-seed0/{name}" for name in ("checkpoint.npz", "summary.json", "metrics.csv")]
    checked = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=root, capture_output=True,
                             text=True)
    assert checked.stdout.split() == [paths[0]], checked
