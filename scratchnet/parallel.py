"""Data parallelism: each batch split across threads, one replica of the model per thread.

The training loss is the mean over the batch, L = (1/N) sum_n loss_n. Cut the batch into
shards S_1 .. S_K of n_k images each, with L_k the mean loss of shard k; then

    L = sum_k (n_k / N) L_k          dL/dtheta = sum_k (n_k / N) dL_k/dtheta

so K threads can each run forward and backward of one shard, on a replica of the model
(``Model.replica``: the same parameter arrays, its own grads and caches), and the weighted
sum of their gradients is the gradient of the whole batch. The optimiser then updates the
shared parameters once, on the calling thread.

Why threads, when Python has a GIL: nearly all the time of a step is spent where the GIL
is released, in NumPy's matrix products (BLAS) and elementwise loops and in our Numba
kernels (``nogil=True``). Each thread calls a single-threaded BLAS. Splitting the work of
each operation instead (a multi-threaded BLAS, Numba's ``prange``) gained little (the
performance page has the figures): the operations are short, and idle threads spin between them.
Whole shards keep each core busy for the whole step (``python -m scratchnet.bench
--threads 2`` measures it).

With one thread nothing is split. With K threads the gradient is the same sum taken in
another order, so it differs from one thread's in the last bits only; a given K always
gives the same result.
"""

from concurrent.futures import ThreadPoolExecutor, wait

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


class DataParallel:
    """Train ``model`` on ``threads`` threads; ``model.grads`` holds the whole batch's gradient.

    The calling thread works on the first shard with ``model`` itself, so one thread means
    no replica and no pool. BLAS is limited to one thread per call (see the module doc).
    """

    def __init__(self, model, threads=1):
        self.model = model
        self.threads = check_threads(threads)
        threadpool_limits(1)
        self.replicas = [model] + [model.replica() for _ in range(self.threads - 1)]
        self.pool = ThreadPoolExecutor(self.threads - 1) if self.threads > 1 else None

    def _map(self, fn, arrays):
        """``fn(replica, *shard)`` for each shard of the batch ``arrays``, in parallel;
        the results in order."""
        bounds = shard_bounds(len(arrays[0]), self.threads)
        jobs = [(replica, *(a[start:stop] for a in arrays))
                for replica, (start, stop) in zip(self.replicas, bounds)]
        futures = [self.pool.submit(fn, *job) for job in jobs[1:]]
        try:
            first = fn(*jobs[0])
        finally:  # even when a shard fails: no replica may still be busy when the next call comes
            wait(futures)
        return [first] + [future.result() for future in futures], [stop - start for start, stop in bounds]

    def loss_and_backward(self, images, labels):
        """Forward and backward of a batch: ``(mean loss, logits)``; fills ``model.grads``.

        The images' own gradient is not computed (training needs none).
        """
        results, sizes = self._map(lambda replica, x, y: replica.loss_and_backward(x, y), (images, labels))
        weights = [size / len(labels) for size in sizes]
        if len(results) > 1:  # the whole batch's gradient, written into the model's own grads in place
            for (_, layer), *twins in zip(*(replica.layers for replica in self.replicas[:len(results)])):
                for key, grad in layer.grads.items():
                    grad[...] = sum(weight * twin.grads[key]
                                    for weight, (_, twin) in zip(weights, [(None, layer), *twins]))
        loss = sum(weight * shard_loss for weight, (shard_loss, _) in zip(weights, results))
        return float(loss), np.concatenate([logits for _, logits in results])

    def forward(self, images):
        """Logits (N, 10), as ``Model.forward``, with the images split across threads."""
        results, _ = self._map(lambda replica, part: replica.forward(part), (images,))
        return np.concatenate(results)
