"""Start-up: how long before the first training step, with Numba's cache empty and with it full.

Run from the repository root:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/startup.py \
        --sitting LABEL --append benchmarks/history.jsonl

Each measurement is a fresh Python process that imports scratchnet, builds the CNN-LSTM, takes
one training step (forward, backward, clip, SGD) and one evaluation forward on a batch of 8, as
``python -m scratchnet.train`` does before its first real step. ``cold`` runs it with an empty
Numba cache, so every kernel the CNN-LSTM uses is compiled; ``cached`` runs it again with the
cache that run filled. Rounds alternate the two; figures are medians of the wall clock and of
the child's CPU time (the steadier one on a shared machine), both up to the end of the step:
the process's exit, which nobody waits for, is left out. Python's own bytecode cache (.pyc) is on
in the children even where the environment turns it off (PYTHONDONTWRITEBYTECODE), as it is on a
user's machine; without it every start compiles scratchnet's modules again. ``numba_floor`` is
a program that does nothing but load one trivial kernel from Numba's cache. One JSON line
(``"kind": "startup"``) goes to stdout and, with ``--append``, to the history.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from scratchnet.history import record

CHILD = """
import json, time
import numpy as np
from threadpoolctl import threadpool_limits
from scratchnet.models import build_model
from scratchnet.optim import SGD, clip_grad_norm
threadpool_limits(1)
model = build_model("cnn_lstm", rng=np.random.default_rng(0))
x = np.random.default_rng(0).standard_normal((8, 3, 24, 24), dtype=np.float32)
model.loss_and_backward(x, np.arange(8) % 10)
clip_grad_norm(model.grads, 5.0)
SGD(model.params).step(model.grads, lr=0.01)
model.forward(x)
print(json.dumps({"ready": time.time(), "cpu_s": time.process_time()}))
"""


# Numba's own share: a program that imports numpy and Numba and calls one trivial cached kernel.
# Loading any kernel from the cache first loads Numba's typing and lowering registries, whatever the
# kernel; this is the floor under `cached` that no change to scratchnet can lower.
FLOOR = """
import json, time
import numpy as np
from numba import njit

@njit(cache=True)
def total(a):
    s = a.dtype.type(0)
    for i in range(a.size):
        s += a[i]
    return s

total(np.ones(8, np.float32))
print(json.dumps({"ready": time.time(), "cpu_s": time.process_time()}))
"""


def child_seconds(cache_dir, code=CHILD):
    """Wall clock from launching a child process that runs ``code`` to the end of its work (its exit,
    which a user does not wait for, left out), and the child's CPU time until then."""
    script = os.path.join(cache_dir, "child.py")  # a file: Numba caches only functions from files
    with open(script, "w") as f:
        f.write(code)
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # Python's own cache on, as for every user
    launched = time.time()
    done = subprocess.run([sys.executable, script], env=env, check=True, capture_output=True, text=True)
    child = json.loads(done.stdout.splitlines()[-1])
    return child["ready"] - launched, child["cpu_s"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sitting", help="a label shared by one sitting's lines (default: today's date)")
    parser.add_argument("--append", metavar="FILE", help="also append the JSON line to this history")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    figures = {"cold": [], "cached": [], "numba_floor": []}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as cache_dir:
            figures["cold"].append(child_seconds(cache_dir))
            figures["cached"].append(child_seconds(cache_dir))
        with tempfile.TemporaryDirectory() as cache_dir:
            child_seconds(cache_dir, FLOOR)  # fills its cache
            figures["numba_floor"].append(child_seconds(cache_dir, FLOOR))
    result = {"kind": "startup", "rounds": args.rounds}
    for name, runs in figures.items():
        result[name] = {"wall_s": float(np.median([w for w, _ in runs])),
                        "cpu_s": float(np.median([c for _, c in runs]))}
    record(result, load, args.sitting, args.append)


if __name__ == "__main__":
    main()
