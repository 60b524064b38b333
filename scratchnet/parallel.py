"""Data parallelism: each batch split across processes, one copy of the model in each.

The training loss is the mean over the batch, L = (1/N) sum_n loss_n. Cut the batch into
shards S_1 .. S_K of n_k images each, with L_k the mean loss of shard k; then

    L = sum_k (n_k / N) L_k          dL/dtheta = sum_k (n_k / N) dL_k/dtheta

so K cores can each run forward and backward of one shard, on their own copy of the model,
and the weighted sum of their gradients is the gradient of the whole batch. The calling
process takes the first shard on ``model`` itself. Each other shard goes to a worker: a
Python process that holds a copy of the model, receives the parameters with its shard at
every call and sends back its loss, logits and gradients. The optimiser then updates the
parameters once, in the calling process.

Why processes, not threads. Nearly all of a step runs outside the interpreter, in BLAS and
in Numba kernels that release Python's lock (the GIL), so two threads do run two shards at
once; but each of the recurrent layers' hundreds of calls per batch takes the lock back when
it returns, and waits while the other thread holds it. Two processes share no lock: the
CNN-LSTM's step on two cores got faster than on two threads, the GRU's (whose loop over time
is Python) much faster (the performance page has the figures). Splitting each operation
across cores instead (a multi-threaded BLAS, Numba's ``prange``) gained little: the operations
are short, and idle threads spin between them. Each core runs a single-threaded BLAS.

A worker is ``python -m scratchnet.parallel``: it reads pickled requests from its stdin and
writes each reply to its stdout. Its parameters and gradients are arrays in memory that both
processes map, so only the shard and the logits go through the pipe. It runs in a session of
its own, so Ctrl-C reaches only the calling process (which stops the run), and it ends when
its stdin closes, so it never outlives the run, even one killed with kill -9. Requests carry
a number that the reply repeats: a reply to a call that was interrupted before it was read is
recognised and dropped.

With one core nothing is split and no process starts. With K the gradient is the same sum
taken in another order, so it differs from one core's in the last bits only; a given K always
gives the same result.
"""

import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
import weakref

import numpy as np
from threadpoolctl import threadpool_limits

from scratchnet.machine import usable_cores


def check_threads(threads):
    """``threads`` as an int between 1 and the number of usable cores, else a ValueError that says so."""
    cores = usable_cores()
    if int(threads) != threads or not 1 <= threads <= cores:
        raise ValueError(f"--threads {threads}: must be a whole number from 1 to {cores} "
                         "(the cores of this machine)")
    return int(threads)


def shard_bounds(n, shards):
    """Start and stop of ``min(shards, n)`` contiguous, nearly equal parts of ``range(n)``."""
    shards = max(1, min(shards, n))
    edges = [n * k // shards for k in range(shards + 1)]
    return list(zip(edges[:-1], edges[1:]))


class WorkerStopped(RuntimeError):
    """A worker process ended before it replied: the call's result is lost; the caller's model is
    as it was before the call, so a trainer can save it and resume from there."""


class Worker:
    """A Python process that holds a copy of ``model``: ``send`` it a shard, then ``receive`` the reply.

    Its parameters and gradients live in memory both processes map (a file in /dev/shm, removed
    as soon as the worker has mapped it): ``params`` and ``grads`` here are the worker's own arrays,
    written by the caller and by the worker's backward, and only shards and logits go through the pipe.
    """

    def __init__(self, model):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where scratchnet is importable
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.getenv("PYTHONPATH")]))}
        self.process = subprocess.Popen([sys.executable, "-m", "scratchnet.parallel"], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        self.sent = 0
        layout = [(key, a.shape, a.dtype) for key, a in model.params.items()]
        with tempfile.NamedTemporaryFile(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as file:
            self.params, self.grads = shared_arrays(file.name, layout, create=True)
            self.send(model, file.name, layout)
            self.result()  # the worker has mapped the file: it may go

    def send(self, *request):
        self.sent += 1
        try:
            pickle.dump((self.sent, *request), self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
        except BrokenPipeError:
            raise self._stopped() from None

    def receive(self):
        """``(True, result)``, or ``(False, the exception the worker raised)``."""
        while True:
            try:
                number, ok, result = pickle.load(self.process.stdout)
            except EOFError:
                return False, self._stopped()
            if number == self.sent:  # else the reply to an interrupted call: drop it
                return ok, result

    def result(self):
        ok, result = self.receive()
        if not ok:
            raise result
        return result

    def close(self):
        with contextlib.suppress(BrokenPipeError):  # a worker that stopped first left nothing to close
            self.process.stdin.close()  # the worker's loop ends at the end of its input
        self.process.wait()

    def _stopped(self):
        return WorkerStopped(f"a worker process stopped (exit status {self.process.wait()}; "
                             "its message, if any, is above)")


def shared_arrays(path, layout, create=False):
    """``params`` and ``grads`` dicts of arrays laid out one after another in the file at ``path``."""
    sizes = [-(-int(np.prod(shape)) * np.dtype(dtype).itemsize // 64) * 64 for _, shape, dtype in layout]
    if create:
        os.truncate(path, 2 * sum(sizes))
    memory = np.memmap(path, dtype=np.uint8, mode="r+", shape=(2 * sum(sizes),))
    arrays, offset = ({}, {}), 0
    for which in arrays:
        for (key, shape, dtype), size in zip(layout, sizes):
            which[key] = memory[offset:offset + size].view(dtype)[:int(np.prod(shape))].reshape(shape)
            offset += size
    return arrays


class DataParallel:
    """Train ``model`` on ``threads`` cores; ``model.grads`` holds the whole batch's gradient.

    The calling process works on the first shard with ``model`` itself, so one core means no
    worker. BLAS is limited to one thread per call (see the module doc). Every layer must be
    importable by the workers (scratchnet's own are).
    """

    def __init__(self, model, threads=1):
        self.model = model
        self.threads = check_threads(threads)
        threadpool_limits(1)
        self.workers = [Worker(model) for _ in range(self.threads - 1)]
        # close() ends the workers; it runs by itself, once, when this object goes or Python exits
        self.close = weakref.finalize(self, _close, self.workers)

    def _map(self, method, arrays):
        """``model.<method>(*shard)`` for each shard of the batch ``arrays``, all at once: the results
        in order, and the shards' sizes."""
        bounds = shard_bounds(len(arrays[0]), self.threads)
        shards = [[a[start:stop] for a in arrays] for start, stop in bounds]
        busy = self.workers[:len(shards) - 1]
        params = self.model.params
        for worker, shard in zip(busy, shards[1:]):
            for key, param in params.items():
                worker.params[key][...] = param
            worker.send(method, *shard)
        try:
            first = getattr(self.model, method)(*shards[0])
        finally:  # even when shard 0 failed: every worker's reply is read before the next call
            replies = [worker.receive() for worker in busy]
        for ok, result in replies:
            if not ok:
                raise result
        return [first] + [result for _, result in replies], [stop - start for start, stop in bounds]

    def loss_and_backward(self, images, labels):
        """Forward and backward of a batch: ``(mean loss, logits)``; fills ``model.grads``.

        The images' own gradient is not computed (training needs none).
        """
        results, sizes = self._map("loss_and_backward", (images, labels))
        weights = [size / len(labels) for size in sizes]
        if len(results) > 1:  # the whole batch's gradient, written into the model's own grads in place
            shard_grads = [self.model.grads] + [worker.grads for worker in self.workers]
            for key, grad in self.model.grads.items():
                grad[...] = sum(weight * grads[key] for weight, grads in zip(weights, shard_grads))
        loss = sum(weight * result[0] for weight, result in zip(weights, results))
        return float(loss), np.concatenate([result[1] for result in results])

    def forward(self, images):
        """Logits (N, 10), as ``Model.forward``, with the images split across cores."""
        results, _ = self._map("forward", (images,))
        return np.concatenate(results)


def _close(workers):
    for worker in workers:
        worker.close()


def serve(requests, replies):
    """A worker's loop: the model and its shared arrays, then one shard after another until
    ``requests`` ends."""
    threadpool_limits(1)
    number, model, path, layout = pickle.load(requests)
    params, grads = shared_arrays(path, layout)
    for name, layer in model.layers:  # the layers' own arrays become the shared ones
        layer.params.update({key: params[f"{name}.{key}"] for key in layer.params})
        layer.grads.update({key: grads[f"{name}.{key}"] for key in layer.grads})
    reply = number, True, None  # ready: the file is mapped
    while True:
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # noqa: BLE001 -- an error that does not pickle goes back as text
            data = pickle.dumps((number, False, RuntimeError(f"{type(error).__name__}: {error}")))
        replies.write(data)
        replies.flush()
        try:
            number, method, *shard = pickle.load(requests)
        except EOFError:
            return
        try:
            reply = number, True, getattr(model, method)(*shard)
        except Exception as error:  # noqa: BLE001 -- any error goes back to the caller, who raises it
            reply = number, False, error


if __name__ == "__main__":
    replies = os.fdopen(os.dup(1), "wb")  # the replies' own copy of stdout; print() goes to stderr
    os.dup2(2, 1)
    serve(sys.stdin.buffer, replies)
