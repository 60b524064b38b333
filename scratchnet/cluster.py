"""Table 1 and the study on many machines: every missing run one independent job on a Dask cluster.

A grid of runs (Table 1's rows times seeds, the study's variants) shares nothing but the data,
so it needs no scheduler of our own: ``python -m scratchnet.reproduce --scheduler ADDRESS`` sends
each missing run as one job to a Dask distributed cluster (``dask scheduler`` on one machine,
``dask worker ADDRESS`` on each of the others), or ``--scheduler local:N`` to N worker processes
started on this machine, and the grid takes about as long as its longest run.

A job (``run_job``) trains one run on its worker through the code a run on this machine goes
through (``scratchnet.runs.train_run``), with all the worker's threads (``dask worker --nthreads``;
a worker's jobs take turns), and returns what the runs folder keeps of it: ``summary.json``,
``metrics.csv``, ``predictions.npy`` and ``report.html``. The client writes them into its runs
folder, atomically, as each job completes, and the table is rebuilt after each. Checkpoints
stay where the job trains: in the client's runs folder itself when the worker sees that folder
(a file system all machines share: the worker finds there the token the client wrote), else
under the worker's own cache folder, named by that token, so that a job started again on the
same machine resumes from its last finished epoch.

What can go wrong. A worker that dies (killed, out of memory, its machine switched off) loses
only the job it was running, which the scheduler gives to another worker, up to Dask's
``distributed.scheduler.allowed-failures`` times. A job that fails on bad input (no CIFAR-10 on
its worker, a folder it cannot write) raises ``JobFailed`` with one line that names the worker;
Dask never runs a job that raised again. Ctrl-C at the client asks every job to save and stop,
then cancels them. Dask is imported inside the functions that use it: scratchnet needs it only
for ``--scheduler`` (``pip install -e ".[cluster]"``).
"""

import contextlib
import dataclasses
import functools
import logging
import os
import signal
import threading
import uuid
from pathlib import Path

from scratchnet import files
from scratchnet.cifar10 import data_root, load_cifar10
from scratchnet.download import ensure_cifar10
from scratchnet.machine import usable_cores
from scratchnet.recipe import Config
from scratchnet.runs import RunFolder, epoch_line, run_facts, train_run
from scratchnet.trainer import Diverged, Interrupted

INSTALL = 'pip install -e ".[cluster]"'
CONNECT_TIMEOUT_S = 3   # an address nobody answers fails in seconds, never hangs
STOP_WAIT_S = 60        # after Ctrl-C, how long the jobs get to save their checkpoints
TOPIC = "scratchnet"    # the scheduler's event topic that carries the jobs' progress lines
TOKEN = ".cluster-token"  # in the runs folder: a worker that reads it there shares the client's folder
RETURNED = ("metrics.csv", "predictions.npy", "report.html")  # with summary.json, written last


class JobFailed(Exception):
    """A job that fails on bad input, on its worker: it would fail again, so it is not retried."""


@dataclasses.dataclass(frozen=True)
class Job:
    """One run of the grid: its progress label, its folder's name in the runs folder, its options."""

    label: str
    run: str
    config: Config


def dask():
    """The ``distributed`` package, or a ValueError that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise ValueError(f"--scheduler needs Dask, which is not installed: {INSTALL}") from None
    return distributed


def local_workers(scheduler):
    """N of ``local:N`` (worker processes on this machine), or None for the address of a scheduler."""
    if not scheduler.startswith("local:"):
        return None
    count = scheduler.partition(":")[2]
    if not (count.isdigit() and int(count) >= 1):
        raise ValueError(f"--scheduler {scheduler}: local:N needs N, a whole number of worker processes "
                         "of at least 1, e.g. local:2")
    return int(count)


@contextlib.contextmanager
def connect(scheduler):
    """A Dask client of ``scheduler``: a scheduler's address (``tcp://host:8786``) or ``local:N``.

    ``local:N`` starts N worker processes here, of ``cores // N`` threads each (at least one),
    and closes them at the end of the block. An address that does not answer within
    ``CONNECT_TIMEOUT_S`` seconds is a ValueError.
    """
    distributed = dask()
    workers = local_workers(scheduler)
    with contextlib.ExitStack() as stack:
        if workers is not None:
            with _ctrl_c_ignored():  # the workers inherit it: Ctrl-C reaches the client, which stops them
                cluster = distributed.LocalCluster(n_workers=workers,
                                                   threads_per_worker=max(1, usable_cores() // workers),
                                                   dashboard_address=":0",
                                                   silence_logs=logging.CRITICAL)
            stack.enter_context(cluster)
            client = distributed.Client(cluster)
        else:
            try:
                client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S)
            except Exception as error:  # refused, timed out, a malformed address: the user's fix is the same
                raise ValueError(f"cannot reach the Dask scheduler --scheduler {scheduler} "
                                 f"({type(error).__name__}: {error}); start it (dask scheduler) or correct "
                                 "the address") from None
        yield stack.enter_context(client)


@contextlib.contextmanager
def _ctrl_c_ignored():
    if threading.current_thread() is not threading.main_thread():  # only the main thread has handlers
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def runs_token(runs):
    """The runs folder's token (written there the first time): names its checkpoints on the workers."""
    path = Path(runs) / TOKEN
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_text(path, uuid.uuid4().hex + "\n")
    return path.read_text().strip()


def checkpoint_folder(runs, token, run):
    """Where a worker trains ``run``: the client's runs folder if it sees it, else its own cache."""
    try:
        if (Path(runs) / TOKEN).read_text().strip() == token:
            return Path(runs) / run
    except OSError:  # not there, or not readable: this machine does not share the client's folder
        pass
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "scratchnet" / "runs" / token / run


# --- on a worker ------------------------------------------------------------------------------

_ONE_RUN_AT_A_TIME = threading.Lock()  # a worker's jobs take all its threads each: they queue here
_STOPPED = set()                       # sessions whose client asked its jobs to stop (Ctrl-C)


@functools.lru_cache(maxsize=1)
def _cifar(root):  # the worker keeps the data between its jobs
    return load_cifar10(root)


def run_job(job):
    """On a worker: train one run of the grid to its end; returns what the runs folder keeps of it.

    ``job``: plain data, ``{"run", "config" (a dict), "runs" (the client's folder), "token",
    "data_dir" (None: the worker's own SCRATCHNET_DATA or ./datasets), "session"}``. Sends a
    progress line per epoch to the client (the scheduler's ``TOPIC``). Returns ``{"worker",
    "summary", "files"}``, or ``{"worker", "stopped"}`` once its client asked it to stop (saved).
    Raises JobFailed on bad input, Diverged when the run diverges.
    """
    from distributed import get_worker

    worker = get_worker()
    session = job["session"]

    def say(text):
        worker.log_event(TOPIC, {"session": session, "run": job["run"], "worker": worker.address,
                                 "text": text})

    try:
        with _ONE_RUN_AT_A_TIME:
            if session in _STOPPED:
                raise Interrupted("not started")
            config = Config.from_dict(job["config"], f"the job {job['run']}")
            root = ensure_cifar10(data_root(job["data_dir"]).resolve(), download=False)
            threads = min(worker.state.nthreads, usable_cores())
            facts = run_facts(root)
            folder = RunFolder(checkpoint_folder(job["runs"], job["token"], job["run"]))
            say(f"started, {threads} thread{'s' * (threads > 1)}, checkpoints in {folder.path}")
            with folder.lock():
                summary = train_run(config, folder, _cifar(str(root)), threads, facts,
                                    on_resume=lambda trainer: say(f"resuming at epoch {trainer.epoch + 1}"),
                                    on_epoch_end=lambda trainer, row: say(epoch_line(trainer, row)),
                                    stop=lambda: session in _STOPPED)
    except Interrupted as stop:  # the client asked (Ctrl-C); the checkpoint is saved
        return {"worker": worker.address, "stopped": str(stop)}
    except (OSError, ValueError) as error:  # no data, a folder it cannot write, options it does not know
        raise JobFailed(f"worker {worker.address}: {error}") from None
    except Diverged as error:
        raise Diverged(f"worker {worker.address}: {error}") from None
    return {"worker": worker.address, "summary": summary,
            "files": {name: (folder.path / name).read_bytes() for name in RETURNED}}


def _stop(session):
    """On every worker (``Client.run``): the session's jobs save at their next step and stop."""
    _STOPPED.add(session)


# --- on the client ----------------------------------------------------------------------------

def write_run(folder, result):
    """A finished job's files into ``folder``, each atomically; last summary.json, which marks it finished."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in result["files"].items():
        files.write_bytes(folder / name, data)
    files.write_json(folder / "summary.json", result["summary"])


def train(client, jobs, runs, data_dir, on_finished=None, say=print, warn=None):
    """Train ``jobs`` on the cluster of ``client``, writing each run into ``runs`` as it finishes.

    ``data_dir``: where the workers find CIFAR-10 (None: each its own default). ``on_finished()``
    follows every run written (the table rebuilt). Progress lines go to ``say``, failures to
    ``warn``. Returns the exit code: 0, 1 if a run diverged, 2 if a job failed.
    """
    distributed = dask()
    warn = warn or say
    runs = Path(runs).resolve()
    token, session = runs_token(runs), uuid.uuid4().hex
    labels = {job.run: job.label for job in jobs}

    def show(event):
        message = event[1]
        if isinstance(message, dict) and message.get("session") == session:
            say(f"{labels[message['run']]} on {message['worker']}: {message['text']}")

    client.subscribe_topic(TOPIC, show)
    futures = {client.submit(run_job, {"run": job.run, "config": dataclasses.asdict(job.config),
                                       "runs": str(runs), "token": token, "data_dir": data_dir,
                                       "session": session},
                             key=f"{job.run}-{session[:8]}", pure=False): job
               for job in jobs}
    code, done = 0, 0
    try:
        for future in distributed.as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except JobFailed as error:
                warn(f"error: {job.label}: {error}")
                code = 2
                continue
            except Diverged as error:
                warn(f"error: {job.label}: {error}")
                code = max(code, 1)
                continue
            except distributed.KilledWorker:
                warn(f"error: {job.label}: every worker that ran it died (out of memory? killed?); its "
                     "checkpoint stays on the last one: run the same command again to go on")
                code = 2
                continue
            except Exception as error:  # e.g. a worker without scratchnet, which cannot even read the job
                warn(f"error: {job.label}: {type(error).__name__}: {error} (every worker needs scratchnet "
                     "and CIFAR-10)")
                code = 2
                continue
            write_run(runs / job.run, result)
            done += 1
            say(f"{job.label}: finished on {result['worker']}, test accuracy "
                f"{result['summary']['test_accuracy']:.3f} ({done} of {len(jobs)} done)")
            if on_finished is not None:
                on_finished()
    except KeyboardInterrupt:
        warn("Ctrl-C: every job saves its checkpoint and stops; run the same command again to go on")
        client.run(_stop, session, on_error="ignore")  # a worker gone meanwhile has nothing to stop
        with contextlib.suppress(TimeoutError):
            distributed.wait(list(futures), timeout=STOP_WAIT_S)
        raise
    finally:
        client.cancel(list(futures))
        client.unsubscribe_topic(TOPIC)
    return code
