"""Old against new, alternated in one run: conv1's algorithms, conv2's tiles, the LSTM, the training step.

Run from the repository root (OpenBLAS's kernel variables unset for the run alone, see the
performance page):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv1_lstm.py \
        --sitting LABEL --append benchmarks/history.jsonl

Each round times every variant once, in turn, so that a busy moment of the machine slows all
of them alike; the figures are medians over the rounds. One JSON line (``"kind": "algorithms"``)
goes to stdout and, with ``--append``, to the history that ``scratchnet.perfpage`` reads.

Variants. conv1 (3 -> 64 channels, 5 x 5 "same", 24 x 24; forward + backward without the
images' gradient, as in training): ``conv2d`` is ``Conv2D`` (rows channels-last, blocks,
rebuilt in the backward), ``nchw`` is ``Conv2DNCHW``; two that lost are defined below:
``nchw_blocks`` (channels-first columns in blocks of 8 images, rebuilt in the backward) and
``numba_direct`` (the formula as a compiled loop, no im2col). conv2 (64 -> 64 channels, 5 x 5
"same", 12 x 12, forward + backward): ``WinogradConv2D`` with output tiles of 2 x 2 (before) and
4 x 4 (now). LSTM (48 steps of 48, H = 128): ``steps`` is the loop over
``lstm_step_forward``/``backward`` (the layer before), ``sequence`` the layer now. The step:
``before`` is the CNN-LSTM with the old ones (``Conv2D`` conv1, 2 x 2 tiles, the step loop),
with its batch split over two threads as it was (``ThreadParallel``), ``after`` the model as it
is built now, on one core and with the batch split over two (``scratchnet.parallel``).
"""

import argparse
import copy
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit
from threadpoolctl import threadpool_limits

from scratchnet.benchmark import gemm_peak_gflops, step_flops
from scratchnet.history import record
from scratchnet.kernels.im2col_nchw import im2col_nchw
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.conv_nchw import Conv2DNCHW
from scratchnet.layers.recurrent import LSTM, _Recurrent
from scratchnet.layers.winograd import WinogradConv2D
from scratchnet.machine import blas_info
from scratchnet.models import build_model
from scratchnet.optim import SGD, clip_grad_norm
from scratchnet.parallel import DataParallel
from scratchnet.recipe import Config


class StepLSTM(LSTM):
    """The LSTM as it was: _Recurrent's loop over the step functions."""

    forward = _Recurrent.forward
    backward = _Recurrent.backward


class ThreadParallel:
    """The data parallelism as it was: the batch's second shard on a thread, on a replica of the
    model that shares its parameter arrays and has its own grads and caches."""

    def __init__(self, model):
        self.model = model
        replica = copy.copy(model)
        replica.layers = [(name, copy.copy(layer)) for name, layer in model.layers]
        for _, layer in replica.layers:
            layer.grads = {key: np.zeros_like(grad) for key, grad in layer.grads.items()}
        self.replica, self.pool = replica, ThreadPoolExecutor(1)

    def loss_and_backward(self, images, labels):
        half = len(labels) // 2
        second = self.pool.submit(self.replica.loss_and_backward, images[half:], labels[half:])
        loss, _ = self.model.loss_and_backward(images[:half], labels[:half])
        loss = (loss + second.result()[0]) / 2
        for key, grad in self.model.grads.items():
            grad[...] = 0.5 * grad + 0.5 * self.replica.grads[key]
        return loss, None


class NCHWBlocks(Conv2DNCHW):
    """Lost: channels-first columns in blocks of a few images, rebuilt in the backward."""

    BLOCK = 8

    def forward(self, x):
        F = self.params["W"].shape[0]
        xp, _ = self._padded_nchw(x)
        Wf = self.params["W"].reshape(F, -1)
        out = np.empty((len(x), F, x.shape[2] * x.shape[3]), x.dtype)
        for s in range(0, len(x), self.BLOCK):
            np.matmul(
                Wf, im2col_nchw(xp[s : s + self.BLOCK], self.kh, self.kw, 1, 1), out=out[s : s + self.BLOCK]
            )
        out += self.params["b"][:, None]
        self.xp = xp
        return out.reshape(len(x), F, *x.shape[2:])

    def backward(self, dout, input_grad=False):
        F = self.params["W"].shape[0]
        dout = dout.reshape(len(dout), F, -1)
        dW = np.zeros((F, self.params["W"][0].size), dout.dtype)
        for s in range(0, len(dout), self.BLOCK):
            cols = im2col_nchw(self.xp[s : s + self.BLOCK], self.kh, self.kw, 1, 1)
            dW += np.matmul(dout[s : s + self.BLOCK], cols.transpose(0, 2, 1)).sum(axis=0)
        self.grads["W"][...] = dW.reshape(self.params["W"].shape)
        self.grads["b"][...] = dout.sum(axis=(0, 2))


@njit(cache=True, nogil=True)
def _direct_forward(xp, W, out):
    N, F, oh, ow = out.shape
    _, C, kh, kw = W.shape
    for n in range(N):
        for f in range(F):
            for c in range(C):
                for di in range(kh):
                    for dj in range(kw):
                        w = W[f, c, di, dj]
                        for i in range(oh):
                            for j in range(ow):  # contiguous: the compiler vectorises this axpy
                                out[n, f, i, j] += w * xp[n, c, i + di, j + dj]


@njit(cache=True, nogil=True)
def _direct_dW(xp, dout, dW):
    N, F, oh, ow = dout.shape
    _, C, kh, kw = dW.shape
    for n in range(N):
        for f in range(F):
            for c in range(C):
                for di in range(kh):
                    for dj in range(kw):
                        s = 0.0
                        for i in range(oh):
                            for j in range(ow):
                                s += dout[n, f, i, j] * xp[n, c, i + di, j + dj]
                        dW[f, c, di, dj] += s


class NumbaDirect(Conv2DNCHW):
    """Lost: the formula as one compiled loop per pass, no columns at all."""

    def forward(self, x):
        F = self.params["W"].shape[0]
        self.xp, _ = self._padded_nchw(x)
        out = np.empty((len(x), F, *x.shape[2:]), x.dtype)
        out[...] = self.params["b"][:, None, None]
        _direct_forward(self.xp, self.params["W"], out)
        return out

    def backward(self, dout, input_grad=False):
        self.grads["W"][...] = 0
        _direct_dW(self.xp, dout, self.grads["W"])
        self.grads["b"][...] = dout.sum(axis=(0, 2, 3))


def alternate(variants, rounds):
    """Each round calls every variant once, in turn: median wall-clock ms and CPU ms of each.

    CPU time (of the whole process, every thread) does not count the time the process waits
    while other programs hold the cores: on a crowded machine it is the steadier figure for
    one thread. With two threads it adds both, so there the wall clock is the one to read.
    """
    for fn in variants.values():
        fn()
        fn()  # warm-up: compilation, caches, the allocator
    wall, cpu = ({name: [] for name in variants} for _ in range(2))
    for _ in range(rounds):
        for name, fn in variants.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(1e3 * (time.perf_counter() - started))
            cpu[name].append(1e3 * (time.process_time() - started_cpu))
    return ({name: float(np.median(v)) for name, v in wall.items()},
            {name: float(np.median(v)) for name, v in cpu.items()})


def gemm_peak_cpu_gflops(n, repeats):
    """``scratchnet.bench.gemm_peak_gflops`` by CPU time: the ceiling for the CPU-time figures."""
    a, b = (np.random.default_rng(k).standard_normal((n, n), dtype=np.float32) for k in range(2))
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)
    ms = []
    for _ in range(repeats):
        started = time.process_time()
        np.matmul(a, b, out=c)
        ms.append(1e3 * (time.process_time() - started))
    return 2 * n**3 / (float(np.median(ms)) * 1e6)


def conv1_variants(batch, rng):
    x = rng.standard_normal((batch, 3, 24, 24), dtype=np.float32)
    dout = rng.standard_normal((batch, 64, 24, 24), dtype=np.float32)
    layers = {"conv2d": Conv2D, "nchw": Conv2DNCHW, "nchw_blocks": NCHWBlocks, "numba_direct": NumbaDirect}
    W = None
    variants = {}
    for name, cls in layers.items():
        layer = cls(3, 64, 5, padding="same", rng=np.random.default_rng(0))
        W = layer.params["W"] if W is None else W
        layer.params = {"W": W, "b": layer.params["b"]}

        def run(layer=layer):
            layer.forward(x)
            layer.backward(dout, input_grad=False)

        variants[name] = run
    return variants


def conv2_variants(batch, rng):
    x = rng.standard_normal((batch, 64, 12, 12), dtype=np.float32)
    dout = rng.standard_normal((batch, 64, 12, 12), dtype=np.float32)
    variants = {}
    for tile in (2, 4):
        layer = WinogradConv2D(64, 64, 5, padding="same", rng=np.random.default_rng(0), tile=tile)

        def run(layer=layer):
            layer.forward(x)
            layer.backward(dout)

        variants[f"tile{tile}"] = run
    return variants


def lstm_variants(batch, rng):
    x = rng.standard_normal((batch, 48, 48), dtype=np.float32)
    dout = rng.standard_normal((batch, 128), dtype=np.float32)
    variants = {}
    for name, cls in {"steps": StepLSTM, "sequence": LSTM}.items():
        layer = cls(48, 128, rng=np.random.default_rng(0))

        def run(layer=layer):
            layer.forward(x)
            layer.backward(dout)

        variants[name] = run
    return variants


def step_variants(batch, threads, rng):
    x = rng.standard_normal((batch, 3, 24, 24), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    variants, flops = {}, None
    for name in ("before", "after"):
        options = {"conv1": "direct"} if name == "before" else {}
        model = build_model("cnn_lstm", rng=np.random.default_rng(0), **options)
        if name == "before":  # the step-loop LSTM and Winograd's 2 x 2 tiles, on the same parameters
            layers = dict(model.layers)
            old = {"lstm": StepLSTM(48, 128), "conv2": WinogradConv2D(64, 64, 5, padding="same", tile=2)}
            for layer_name, layer in old.items():
                layer.params = layers[layer_name].params
            model.layers = [(layer_name, old.get(layer_name, layer)) for layer_name, layer in model.layers]
        flops = step_flops(model, x)
        parallel = ThreadParallel(model) if name == "before" and threads > 1 else DataParallel(model, threads)
        optimizer = SGD(model.params)

        def step(parallel=parallel, model=model, optimizer=optimizer):
            parallel.loss_and_backward(x, y)
            clip_grad_norm(model.grads, Config.clip)
            optimizer.step(model.grads, lr=0.01)  # a small rate: the weights barely move

        variants[name] = step
    return variants, flops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument(
        "--sitting", help="a label shared by the lines of one sitting (default: today's date)"
    )
    parser.add_argument("--append", metavar="FILE", help="also append the JSON line to this history")
    args = parser.parse_args(argv)
    threadpool_limits(1)
    rng = np.random.default_rng(0)
    load = os.getloadavg()[0]
    result = {
        "kind": "algorithms",
        "rounds": args.rounds,
        "blas": blas_info(),
        "gemm_peak_gflops": gemm_peak_gflops(2048, 10, 2),
        "conv1": {},
        "conv2": {},
        "lstm": {},
        "train_step": {},
        "cpu": {"conv1": {}, "conv2": {}, "lstm": {}, "train_step": {},
                "gemm_peak_gflops": gemm_peak_cpu_gflops(2048, 10)},
    }
    for batch in (128, 64):
        result["conv1"][str(batch)], result["cpu"]["conv1"][str(batch)] = alternate(
            conv1_variants(batch, rng), args.rounds)
        result["conv2"][str(batch)], result["cpu"]["conv2"][str(batch)] = alternate(
            conv2_variants(batch, rng), args.rounds)
        result["lstm"][str(batch)], result["cpu"]["lstm"][str(batch)] = alternate(
            lstm_variants(batch, rng), args.rounds)
    for threads in (1, 2):
        variants, flops = step_variants(128, threads, rng)
        result["train_step"][str(threads)], result["cpu"]["train_step"][str(threads)] = alternate(
            variants, args.rounds)
        result["mflop_per_img"] = flops / 128 / 1e6
    result["gemm_peak_after_gflops"] = gemm_peak_gflops(2048, 10, 2)
    record(dict(result, batch_size=128), load, args.sitting, args.append)


if __name__ == "__main__":
    main()
