"""Table 1 and the study on a Dask cluster (scratchnet.cluster): the same runs as here, bit for bit.

A local cluster of two worker processes stands for a lab of machines. Its workers run a preload
that hides the client's runs folder from them (they look for another token file), as on machines
that do not share a file system: their checkpoints go to their own cache folder. Without Dask
these tests are skipped, unless SCRATCHNET_REQUIRE_DASK=1 (CI), when they fail.
"""

import csv
import io
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from scratchnet import checkpoint, cluster, reproduce, study
from scratchnet.recipe import Config

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
TIMED = ("seconds", "images_per_s")  # the wall clock's columns: the only ones allowed to differ


def need_dask():
    try:
        import distributed
    except ImportError:
        reason = f"Dask is not installed: {cluster.INSTALL}"
        if os.environ.get("SCRATCHNET_REQUIRE_DASK") == "1":
            pytest.fail(f"{reason}: SCRATCHNET_REQUIRE_DASK=1 requires it")
        pytest.skip(reason)
    return distributed


def tiny(model, seed, epochs, small=False):
    """A run of a few hundred images: a few steps an epoch."""
    return Config(model=model, seed=seed, epochs=epochs, batch_size=32, train_size=256, test_size=200,
                  val_size=0, warmup_steps=2, small=True)


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    """Two worker processes of one thread, which do not see the client's runs folder: (address, cache)."""
    distributed = need_dask()
    root = tmp_path_factory.mktemp("cluster")
    preload = root / "elsewhere.py"  # a worker started again by its nanny runs it again
    preload.write_text("import scratchnet.cluster\nscratchnet.cluster.TOKEN = '.a-token-not-shared'\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(root / "cache"))  # the workers' own folder, inherited
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                                      silence_logs=logging.ERROR, preload=[str(preload)]) as local:
            yield local.scheduler_address, root / "cache"


def grid(tmp_path, name, cifar_root, *more, models=("cnn", "gru"), seeds=("0", "1"), epochs="1"):
    return ["--models", *models, "--seeds", *seeds, "--epochs", epochs, "--data-dir", str(cifar_root),
            "--runs", str(tmp_path / name / "runs"), "--out", str(tmp_path / name), *more]


def run_files(runs, run):
    folder = runs / run
    metrics = csv.DictReader(io.StringIO((folder / "metrics.csv").read_text()))
    return {"summary": json.loads((folder / "summary.json").read_text()),
            "predictions": (folder / "predictions.npy").read_bytes(),
            "metrics": [{name: row[name] for name in row if name not in TIMED} for row in metrics]}


@pytest.mark.slow
def test_a_grid_on_two_workers_equals_the_grid_run_here(workers, tmp_path, cifar_root, monkeypatch, capsys):
    address, cache = workers
    monkeypatch.setattr(reproduce, "run_config", tiny)
    assert reproduce.main(grid(tmp_path, "there", cifar_root, "--scheduler", address)) == 0
    out = capsys.readouterr().out
    for label in ("[run 1/4] cnn seed 0", "[run 4/4] gru seed 1"):
        assert f"{label} on tcp://127.0.0.1:" in out and f"{label}: finished on tcp://127.0.0.1:" in out
    assert "epoch 1/1, train accuracy" in out and "min left in this run" in out
    started = {line.split(" on ")[1].split(": started")[0]
               for line in out.splitlines() if ": started, " in line}
    assert len(started) == 2  # both workers took jobs
    assert reproduce.main(grid(tmp_path, "here", cifar_root, "--threads", "1")) == 0

    runs = {name: tmp_path / name / "runs" for name in ("here", "there")}
    token = (runs["there"] / cluster.TOKEN).read_text().strip()
    for run in ("cnn-seed0", "cnn-seed1", "gru-seed0", "gru-seed1"):
        here, there = run_files(runs["here"], run), run_files(runs["there"], run)
        assert there["predictions"] == here["predictions"] and there["metrics"] == here["metrics"]
        for key in ("test_accuracy", "test_loss", "test_accuracy_per_epoch", "threads", "options"):
            assert there["summary"][key] == here["summary"][key], key
        assert (runs["there"] / run / "report.html").read_text().startswith("<!DOCTYPE html>")
        # the checkpoints stayed on the workers, which did not see the runs folder
        assert (cache / "scratchnet" / "runs" / token / run / "checkpoint.npz").is_file()
        assert not (runs["there"] / run / "checkpoint.npz").exists()
    tables = [json.loads((tmp_path / name / "table1.json").read_text())["rows"] for name in runs]
    assert [{model: row["accuracies"] for model, row in rows.items()} for rows in tables] == \
        [{"cnn": tables[0]["cnn"]["accuracies"], "gru": tables[0]["gru"]["accuracies"]}] * 2


@pytest.mark.slow
def test_a_worker_killed_mid_job_loses_only_that_job_which_resumes(workers, tmp_path, cifar_root):
    distributed = need_dask()
    address, _ = workers
    jobs = [cluster.Job("[run 1/2] cnn seed 0", "cnn-seed0", tiny("cnn", 0, 2)),
            cluster.Job("[run 2/2] lstm seed 0", "lstm-seed0", tiny("lstm", 0, 1))]
    lines, killed = [], []
    with distributed.Client(address) as client:
        pids = client.run(os.getpid)

        def say(line):  # after cnn's first epoch is saved, kill the worker that trains it
            lines.append(line)
            if not killed and "cnn seed 0 on " in line and ": epoch 1/2" in line:
                worker = line.split(" on ")[1].rsplit(":", 1)[0]
                killed.append(worker)
                os.kill(pids[worker], signal.SIGKILL)

        def on_finished():  # after each run is written
            finished.append(len(list((tmp_path / "runs").glob("*/summary.json"))))

        finished = []
        assert cluster.train(client, jobs, tmp_path / "runs", str(cifar_root), on_finished, say=say) == 0
    assert killed, lines
    assert finished == [1, 2]
    rerun = next(k for k, line in enumerate(lines)
                 if "cnn seed 0 on " in line and "resuming at epoch 2" in line)
    assert not any("cnn seed 0 on " in line and ": epoch 1/2" in line for line in lines[rerun:])
    for run in ("cnn-seed0", "lstm-seed0"):
        assert (tmp_path / "runs" / run / "summary.json").is_file()


@pytest.mark.slow
def test_the_study_runs_on_the_cluster_too(workers, tmp_path, cifar_root, monkeypatch, capsys):
    address, _ = workers
    monkeypatch.setattr(study, "run_config", tiny)
    argv = ["--study", "--variants", "cnn", "--seeds", "0", "--epochs", "1", "--out", str(tmp_path / "study"),
            "--data-dir", str(cifar_root), "--scheduler", address]
    assert reproduce.main(argv) == 0
    assert "[run 1/1] cnn seed 0: finished on tcp://127.0.0.1:" in capsys.readouterr().out
    assert json.loads((tmp_path / "study" / "study.json").read_text())["rows"]["cnn"]["seeds"] == [0]
    assert (tmp_path / "study" / "runs" / "cnn-seed0" / "predictions.npy").is_file()


@pytest.mark.slow  # it needs the cluster's workers
def test_a_worker_without_the_data_names_itself_and_the_folder(workers, tmp_path, monkeypatch, capsys):
    address, _ = workers
    monkeypatch.setattr(reproduce, "run_config", tiny)
    (tmp_path / "empty").mkdir()
    argv = grid(tmp_path, "out", tmp_path / "empty", "--scheduler", address, models=("lstm",), seeds=("0",))
    started = time.monotonic()
    assert reproduce.main(argv) == 2
    assert time.monotonic() - started < 30  # failed once, not retried
    err = capsys.readouterr().err
    assert "error: [run 1/1] lstm seed 0: worker tcp://127.0.0.1:" in err
    assert f"{tmp_path / 'empty' / 'cifar-10-batches-py'}/ does not exist" in err
    assert not (tmp_path / "out" / "runs" / "lstm-seed0" / "summary.json").exists()


def test_an_unreachable_scheduler_is_one_line_within_seconds(tmp_path, cifar_root, capsys):
    need_dask()
    started = time.monotonic()
    assert reproduce.main(grid(tmp_path, "out", cifar_root, "--scheduler", "tcp://127.0.0.1:1")) == 2
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the Dask scheduler --scheduler tcp://127.0.0.1:1" in err


def test_without_dask_the_scheduler_option_says_how_to_install_it(tmp_path, cifar_root, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails, as without Dask
    assert reproduce.main(grid(tmp_path, "out", cifar_root, "--scheduler", "local:2")) == 2
    err = capsys.readouterr().err
    assert err == f"error: --scheduler needs Dask, which is not installed: {cluster.INSTALL}\n"
    assert not (tmp_path / "out" / "runs").exists()


def test_bad_scheduler_options_are_refused_before_anything_starts(tmp_path, cifar_root, capsys):
    for bad, said in ((["--scheduler", "local:0"], "local:N needs N, a whole number of worker processes"),
                      (["--scheduler", "local:2", "--threads", "1"], "--threads: with --scheduler each job")):
        assert reproduce.main(grid(tmp_path, "out", cifar_root, *bad)) == 2
        assert said in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_stops_the_jobs_saved_and_closes_the_local_cluster(tmp_path, cifar_root, monkeypatch, capsys):
    need_dask()
    monkeypatch.setattr(reproduce, "run_config", tiny)
    argv = grid(tmp_path, "out", cifar_root, "--scheduler", "local:2", models=("cnn",), seeds=("0",),
                epochs="3")
    runs = tmp_path / "out" / "runs"

    def ctrl_c_after_a_checkpoint():  # local workers share this machine's folder: they train in it
        while not any(runs.glob("*/checkpoint.npz")):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    others = set(multiprocessing.active_children())  # the workers of other tests' clusters
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        threading.Thread(target=ctrl_c_after_a_checkpoint, daemon=True).start()
        assert reproduce.main(argv) == 130
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "Ctrl-C: every job saves its checkpoint and stops" in capsys.readouterr().err
    assert set(multiprocessing.active_children()) <= others  # the local cluster's workers are gone
    # saved where the job stopped, in the runs folder its workers share: the same command resumes
    saved = checkpoint.load(runs / "cnn-seed0" / "checkpoint.npz").metadata
    assert saved["epoch"] >= 1 and not (runs / "cnn-seed0" / "summary.json").exists()


@pytest.mark.slow
def test_the_grid_benchmark_times_both_ways_into_the_history(tmp_path, cifar_root, monkeypatch, capsys):
    import importlib.util

    from scratchnet.history import read_history
    from scratchnet.perfpage import render

    need_dask()
    monkeypatch.setattr(reproduce, "run_config", tiny)
    spec = importlib.util.spec_from_file_location("cluster_grid", BENCHMARKS / "cluster_grid.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    history = tmp_path / "history.jsonl"
    benchmark.main(["--models", "gru", "--seeds", "0", "--data-dir", str(cifar_root), "--sitting", "test",
                    "--append", str(history)])
    [line] = read_history(history)
    assert line["kind"] == "cluster_grid" and line["grid"]["runs"] == 1 and line["sitting"] == "test"
    assert set(line["wall_s"]) == set(benchmark.WAYS)
    assert all(seconds > 0 for seconds in line["wall_s"].values())
    assert "| gru; seeds 0; 1 epoch, --small | 1 |" in render([line])
    assert capsys.readouterr().out.strip() == json.dumps(line)  # its one line, not reproduce's progress
