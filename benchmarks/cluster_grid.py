"""Grid wall time: a small grid of runs trained one after another here, against ``--scheduler local:2``.

Run from the repository root, on a quiet machine (each round trains the grid twice):

    python benchmarks/cluster_grid.py --sitting LABEL --append benchmarks/history.jsonl

Both ways go through ``python -m scratchnet.reproduce`` (``reproduce.main``, in this process)
into fresh temporary folders: one run after another, each with the threads reproduce gives it,
then with ``--scheduler local:2``, two worker processes of ``cores // 2`` threads each, whose
start-up and closing are timed too, since a user waits for them. Rounds alternate the two ways;
figures are medians of the wall clock. One JSON line (``"kind": "cluster_grid"``) goes to stdout
and, with ``--append``, to the history, from which the performance page shows it.
"""

import argparse
import contextlib
import io
import os
import tempfile
import time

import numpy as np

from scratchnet import reproduce
from scratchnet.history import record
from scratchnet.machine import usable_cores

WAYS = {"one_after_another": [], "local_2": ["--scheduler", "local:2"]}


def grid_seconds(grid, way):
    """Wall seconds of ``reproduce`` training ``grid`` from nothing, in the way named."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # its progress lines are not the benchmark's output
            code = reproduce.main([*grid, "--runs", os.path.join(folder, "runs"), "--out", folder,
                                   *WAYS[way]])
        seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"error: the grid, {way}, ended with exit code {code} (its message is above)")
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn_lstm", "cnn"], help="rows of Table 1")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--data-dir", help="folder holding cifar-10-batches-py/ (as reproduce's)")
    parser.add_argument("--sitting", help="a label shared by one sitting's lines (default: today's date)")
    parser.add_argument("--append", metavar="FILE", help="also append the JSON line to this history")
    args = parser.parse_args(argv)
    grid = ["--small", "--models", *args.models, "--seeds", *map(str, args.seeds),
            "--epochs", str(args.epochs), *(["--data-dir", args.data_dir] if args.data_dir else [])]
    load = os.getloadavg()[0]
    seconds = {way: [] for way in WAYS}
    for _ in range(args.rounds):
        for way in WAYS:
            seconds[way].append(grid_seconds(grid, way))
    result = {"kind": "cluster_grid", "rounds": args.rounds, "cores": usable_cores(),
              "grid": {"models": args.models, "seeds": args.seeds, "epochs": args.epochs, "small": True,
                       "runs": len(args.models) * len(args.seeds)},
              "workers": 2, "threads_per_worker": max(1, usable_cores() // 2),
              "wall_s": {way: float(np.median(values)) for way, values in seconds.items()}}
    record(result, load, args.sitting, args.append)


if __name__ == "__main__":
    main()
