"""``python -m scratchnet.reproduce``: re-run the paper's Table 1 with scratchnet, honestly.

Each run lives in its own folder (``RUNS/MODEL-seedS``, by default under ``results/runs``).
Running the command again skips finished runs and resumes unfinished ones from their last
checkpoint, so the table can be built across several sittings. A finished run's
``summary.json`` and ``metrics.csv`` are a few kB and meant to be committed (checkpoints
are not), so that sittings on other machines, or in a fresh clone, skip the runs already
done. What the table is, and how it is made: ``scratchnet.table1``. ``--study`` runs, through
the same loop, the study of why the CNN-LSTM loses to the CNN (``scratchnet.study``).
``--scheduler`` trains the missing runs at once, each as a job on a Dask cluster
(``scratchnet.cluster``), instead of one after another here.
"""

import argparse
import functools
import json
import shlex
import signal
import sys
from pathlib import Path

from scratchnet import cli, cluster, files, study, study_report
from scratchnet.cifar10 import data_root, load_cifar10
from scratchnet.download import ensure_cifar10
from scratchnet.parallel import check_threads, usable_cores
from scratchnet.recipe import SMALL
from scratchnet.reporting import write_index
from scratchnet.runs import RunFolder, epoch_line, run_facts, train_run
from scratchnet.table1 import (
    DEFAULT_EPOCHS,
    DEFAULT_RUNS,
    DEFAULT_SEEDS,
    PAPER,
    run_config,
    run_folder,
    summarise,
    unfinished,
    write_results,
)
from scratchnet.trainer import Diverged, Interrupted


def train_one(config, folder, cifar, label, runs_after, threads, facts):
    """Train (or resume) one run to its end on this machine; returns its summary. Ctrl-C saves, then stops."""
    after = (f"{runs_after} more run{'s' * (runs_after != 1)} to train after it" if runs_after
             else "the last run")
    stopped = []

    def request_stop(signum, frame):
        stopped.append(signum)

    handlers = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = train_run(config, folder, cifar, threads, facts,
                            on_resume=lambda trainer: print(f"{label}: resuming at epoch {trainer.epoch + 1}",
                                                            flush=True),
                            on_epoch_end=lambda trainer, row: print(f"{label}: {epoch_line(trainer, row)}, "
                                                                    f"{after}", flush=True),
                            stop=lambda: bool(stopped))
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if stopped:  # Ctrl-C while the run was being finished: stop before the next one
        raise Interrupted("finished, then stopped")
    return summary


@cli.interruptible
def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.reproduce",
        description="Train every row of the paper's Table 1 with the same recipe and epochs, "
                    "over several seeds, and write the table beside the paper's figures. "
                    "Re-running resumes where it stopped.")
    parser.add_argument("--models", nargs="+", choices=list(PAPER), default=list(PAPER), help="rows to run")
    parser.add_argument("--seeds", nargs="+", type=int,
                        help="seeds for every row (default: 0 1 2 for cnn_lstm and cnn, 0 for the others)")
    parser.add_argument("--epochs", type=cli.positive_int,
                        help=f"epochs for every row (default {DEFAULT_EPOCHS}, 1 with --small)")
    parser.add_argument("--small", action="store_true",
                        help=f"a quick version: {SMALL['train_size']:,} training and "
                             f"{SMALL['test_size']:,} test images")
    parser.add_argument("--study", action="store_true",
                        help="run the study of why the CNN-LSTM loses to the CNN (scratchnet.study) instead "
                             f"of Table 1; writes {study.DEFAULT_OUT}/")
    parser.add_argument("--variants", nargs="+", choices=list(study.PLAN), metavar="NAME",
                        help=f"with --study: the study's runs, of {', '.join(study.PLAN)} (default: all; a "
                             "variant is compared only with the baselines named too). With --study, --seeds "
                             "replaces the rule that adds seeds, and --epochs is the baselines' budget")
    parser.add_argument("--out", help="folder for table1.md/.json/.png and curves.png (default: results; "
                                      f"with --study {study.DEFAULT_OUT}, or runs/study-small with --small)")
    parser.add_argument("--runs", help=f"folder for each run's checkpoint and metrics "
                                       f"(default: {DEFAULT_RUNS}, or runs/table1-small with --small)")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: write the table from the runs finished so far (needs no data)")
    parser.add_argument("--threads", type=cli.positive_int,
                        help="threads to split each batch across (default: every core, one for lstm and gru)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="train each missing run as one job on a Dask cluster: its scheduler's address "
                             "(tcp://host:8786), or local:N for N worker processes on this machine. Each job "
                             "uses its worker's threads and keeps its checkpoints on its worker; the runs "
                             f"folder gets each finished run. Needs Dask: {cluster.INSTALL}")
    parser.add_argument("--data-dir", help="folder holding cifar-10-batches-py/ (default: $SCRATCHNET_DATA, "
                                           "else ./datasets)")
    args = parser.parse_args(argv)
    epochs = args.epochs or (1 if args.small else DEFAULT_EPOCHS)
    runs = Path(args.runs or ("runs/table1-small" if args.small else DEFAULT_RUNS))
    out = Path(args.out or "results")
    plan = [(model, seed) for model in args.models for seed in (args.seeds or DEFAULT_SEEDS[model])]
    if args.study:
        out = Path(args.out or ("runs/study-small" if args.small else study.DEFAULT_OUT))
        runs = Path(args.runs or out / "runs")
        names = args.variants or list(study.PLAN)
    labels = functools.cache(lambda: read_test_labels(args.data_dir, not args.report_only))
    try:
        if args.study:  # the test labels are read only once seed 0 of every run is finished
            plan = study.plan(names, runs, args.seeds, labels=labels)
        elif args.variants:
            raise ValueError("--variants chooses runs of the study: add --study, or choose Table 1's rows "
                             "with --models")
        if any(seed < 0 for _, seed in plan):
            raise ValueError(f"--seeds must be whole numbers >= 0, got {' '.join(map(str, args.seeds))}")
        for folder, option in ((runs, "--runs"), (out, "--out")):
            if folder.exists() and not folder.is_dir():
                raise ValueError(f"{option} {folder} is a file, not a folder; name a folder")
        if args.threads is not None and args.scheduler:
            raise ValueError("--threads: with --scheduler each job uses its worker's threads (local:N gives "
                             "each worker the cores divided by N); leave --threads out")
        if args.threads is not None:
            check_threads(args.threads)
        workers = cluster.local_workers(args.scheduler) if args.scheduler else None
        finished_summaries(plan, runs)  # a damaged summary.json stops us now, not after hours of training
        to_train = [] if args.report_only else unfinished(plan, runs)
        if to_train:
            if args.scheduler:
                cluster.dask()  # installed, or say how to install it
            if not args.scheduler or workers:  # this machine trains: it needs the data
                root = ensure_cifar10(data_root(args.data_dir)).resolve()
            if not args.scheduler:
                cifar = load_cifar10(root)
                facts = run_facts(root)
            for folder, option in ((runs, "--runs"), (out, "--out")):
                try:  # now, not after hours of training
                    files.check_writable(folder)
                except OSError as error:
                    raise ValueError(f"cannot write into {option} {folder} ({error.strerror or error}); "
                                     f"choose another {option}") from None
    except (OSError, ValueError) as error:
        return cli.fail(error)

    # the command that trains these runs: --report-only changes nothing in the table
    trained_by = [arg for arg in (argv if argv is not None else sys.argv[1:]) if arg != "--report-only"]
    command = ("python -m scratchnet.reproduce " + shlex.join(trained_by)).strip()
    jobs = []
    for k, (model, seed) in enumerate(plan):
        label = f"[run {k + 1}/{len(plan)}] {model} seed {seed}"
        folder = RunFolder(run_folder(runs, model, seed))
        if folder.summary.is_file():
            print(f"{label}: finished earlier, skipped" if not args.report_only else f"{label}: finished",
                  flush=True)
            continue
        if args.report_only:
            print(f"{label}: not finished, left out of the table", flush=True)
            continue
        config = (study.run_config if args.study else run_config)(model, seed, epochs, args.small)
        if args.scheduler:  # trained below, all at once
            jobs.append(cluster.Job(label, folder.path.name, config))
            continue
        try:
            with folder.lock():
                train_one(config, folder, cifar, label, runs_after=len(unfinished(plan[k + 1:], runs)),
                          threads=args.threads or usable_cores(), facts=facts)
        except Interrupted as stop:
            print(f"{label}: {stop}; saved. Run the same command again to go on.", file=sys.stderr)
            return 130
        except Diverged as error:
            print(f"error: {label}: {error}", file=sys.stderr)
            return 1
        except (OSError, ValueError) as error:  # e.g. a folder holding a run with other options
            return cli.fail(f"{label}: {error}")

    if jobs:
        def rebuild():  # the table of the runs finished so far, after each run the cluster finishes
            write_outputs(args, plan, runs, out, epochs, command, labels)

        code = train_on_cluster(args.scheduler, jobs, runs, str(root) if workers else args.data_dir, rebuild)
        if code:
            return code
    if not finished_summaries(plan, runs):
        return cli.fail(f"no finished run in {runs}; run the command without --report-only to train them")
    if args.study:
        return write_study(args, names, plan, runs, out, epochs, command, argv, labels)
    try:
        table = write_outputs(args, plan, runs, out, epochs, command, labels)
    except OSError as error:
        return cli.fail(f"cannot write the table into {out} ({error}); choose another --out")
    except (KeyError, TypeError, ValueError) as error:  # a summary.json edited by hand, or not ours
        return cli.fail(f"a summary.json in {runs} is damaged ({type(error).__name__}: {error}); delete it "
                        "to train that run again")
    print(table.read_text())
    print(f"wrote {out / 'index.html'}")
    return 0


def train_on_cluster(scheduler, jobs, runs, data_dir, rebuild):
    """Train ``jobs`` on the Dask cluster ``scheduler`` (``scratchnet.cluster``); the exit code."""
    def rebuilt():
        try:
            rebuild()
        except (OSError, KeyError, TypeError, ValueError) as error:  # said again, as an error, at the end
            print(f"the table is not rebuilt yet: {error}", file=sys.stderr, flush=True)

    try:
        with cluster.connect(scheduler) as client:
            return cluster.train(client, jobs, runs, data_dir, rebuilt,
                                 say=functools.partial(print, flush=True),
                                 warn=functools.partial(print, file=sys.stderr, flush=True))
    except (OSError, ValueError) as error:  # the scheduler cannot be reached, or was lost
        return cli.fail(error)


def finished_summaries(plan, runs):
    """``{model: [summary, ...]}`` of the runs of ``plan`` finished in ``runs``, in the plan's order."""
    summaries = {}
    for model, seed in plan:
        path = RunFolder(run_folder(runs, model, seed)).summary
        if path.is_file():
            try:
                summaries.setdefault(model, []).append(json.loads(path.read_text()))
            except ValueError as error:
                raise ValueError(f"{path} is damaged ({error}); delete it to train that run again") from None
    return summaries


def write_outputs(args, plan, runs, out, epochs, command, labels):
    """Table 1's files, or the study's, from the runs of ``plan`` finished so far; the Markdown's path."""
    if args.study:
        done = study.finished(runs, study.on_record(plan))
        rows = study.summarise(plan, done, labels(), epochs, args.small)
        study_report.write_results(rows, study_report.conclusion(rows), out, command)
        return out / "study.md"
    rows = summarise(finished_summaries(plan, runs))
    write_results(rows, out, command)
    write_index(out, rows, runs)
    return out / "table1.md"


def read_test_labels(data_dir, download=True):
    """The 10,000 test labels, for the study's paired tests."""
    return load_cifar10(ensure_cifar10(data_root(data_dir), download=download))[3]


def write_study(args, names, plan, runs, out, epochs, command, argv, labels):
    """Go on with the runs the rule adds once seed 0 of every run is done; then write the study's files."""
    try:
        labels()
    except (OSError, ValueError) as error:
        return cli.fail(f"the study's paired tests need the test labels: {error}")
    try:
        if not args.report_only and study.plan(names, runs, args.seeds, labels) != plan:
            print("seed 0 of every run is finished: training the seeds the rule adds", flush=True)
            return main(argv)
        table = write_outputs(args, plan, runs, out, epochs, command, labels)
    except (OSError, ValueError) as error:
        return cli.fail(f"cannot write the study into {out} ({error})")
    print(table.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
