"""Measuring how fast scratchnet trains, and why: the library behind ``python -m scratchnet.bench``.

Three measurements, each timed after warm-up calls (which also pay Numba's compilation),
reported as the median over ``--repeats`` and a spread (the interquartile range):

1. A whole training step of each model, as ``scratchnet.train`` takes it: forward, loss,
   backward, gradient clipping at norm 5, SGD update; images per second and achieved
   GFLOP/s, also as a share of the float32 matrix-multiply peak measured in the same run
   (a large square ``np.matmul``).
2. Forward and backward of every layer of the paper's CNN-LSTM on the input it gets in
   that model (batch 128: conv1 3->64 at 24 x 24, conv2 64->64 at 12 x 12, both 5 x 5
   "same"; pools, LRN, ReLU; the LSTM over 48 steps of 48 values, hidden size 128; fc).
3. Each Numba kernel against its plain NumPy reference (``*_reference``) on the same input.

FLOPs are counted analytically, 2 per multiply-add of the matrix products (the rest of the
work, elementwise and memory-bound, is left out, as is usual):

    Conv2D  forward  2 * N * oh * ow * F * C * kh * kw      (one product per output pixel)
    Linear  forward  2 * N * in * out
    LSTM    forward  2 * N * T * 4H * (H + D)               (GRU 3H, RNN H rows of W)
    backward         2 x forward: the weight gradient and the input gradient, each a
                     product of the forward's size

``WinogradConv2D`` (the models' conv2) is counted as the convolution it computes, by the
Conv2D formula, although its products do 6.25x fewer multiplications: its GFLOP/s, and a
step's share of the peak, are effective figures (direct-convolution FLOPs per second), the
measure that compares with another library's step on the same network. A step could in
principle pass 100% of this ceiling.

A training step needs no gradient with respect to the images, so the input gradient of the
first layer with weights is not counted (the usual convention). For the CNN-LSTM this gives
about 126 MFLOP per image, 70% of it in conv2. A step's ``share_of_peak`` is its GFLOP/s
over the GEMM peak; at one thread, peak / (FLOPs per image) is the ceiling in images/s that
the step is measured against.

``--json`` prints everything as one JSON line (``ms`` are medians), ``--append FILE`` adds
that line to a ``.jsonl`` history so that commits can be compared. OpenBLAS reads the
``OPENBLAS_CORETYPE`` variable, which picks its kernel; the kernel that ran is reported.
``--threads N`` (default: every core) times the training steps
twice in the same run, on one core and with each batch split across N cores, one process
each (``scratchnet.parallel``), and reports the speed-up; on N cores the ceiling is N times
the one-core peak. Layers and kernels are timed on one thread (a kernel never spreads
over threads). On a machine that other programs share, the figures drop: note the load.
"""

import datetime
import os

import numpy as np
from threadpoolctl import threadpool_limits

from scratchnet.gradcheck import relative_error
from scratchnet.kernels import winograd
from scratchnet.kernels.im2col import col2im, col2im_reference, im2col, im2col_reference
from scratchnet.kernels.lrn import lrn_dx, lrn_forward, lrn_forward_reference
from scratchnet.kernels.lstm import exp_float32, exp_float32_reference
from scratchnet.kernels.pool import (
    avg_pool_backward,
    avg_pool_backward_reference,
    avg_pool_forward,
    avg_pool_forward_reference,
    max_pool_backward,
    max_pool_backward_reference,
    max_pool_forward,
    max_pool_forward_reference,
)
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.lrn import LocalResponseNorm, lrn_dx_reference
from scratchnet.layers.winograd import TILE
from scratchnet.machine import blas_info, commit, timed
from scratchnet.models import (
    DEFAULT_OPTIONS,
    IMAGE_SHAPE,
    MODEL_NAMES,
    NUM_CLASSES,
    TUTORIAL_LRN,
    build_model,
)
from scratchnet.optim import SGD, clip_grad_norm
from scratchnet.parallel import DataParallel, check_threads
from scratchnet.recipe import Config

FULL = {"batch_size": 128, "repeats": 10, "warmup": 2, "gemm_size": 2048}
QUICK = {"batch_size": 8, "repeats": 2, "warmup": 1, "gemm_size": 256}  # for tests: seconds, not minutes
LAYER_KEYS = {"norm1": "lrn"}  # the model's layer names, except LRN's, which the history calls "lrn"
# elementwise and memory-bound: reported together, as a share of the step
CHEAP_LAYERS = ("relu", "pool", "lrn")


# ------------------------------------------------------------------ counting and timing

def gemm_peak_gflops(n, repeats, warmup):
    """GFLOP/s of a float32 n x n matrix product on one core, its practical ceiling: 2 n^3 FLOPs."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    c = np.empty((n, n), dtype=np.float32)
    ms, _ = timed(lambda: np.matmul(a, b, out=c), repeats, warmup)
    return 2 * n**3 / (ms * 1e6)


def batch(batch_size, rng):
    """Random standardised images (float32) and labels: timing does not depend on the values."""
    x = rng.standard_normal((batch_size, *IMAGE_SHAPE), dtype=np.float32)
    return x, rng.integers(0, NUM_CLASSES, batch_size)


# ------------------------------------------------------------------ the three measurements

def step_flops(model, x):
    """Analytic FLOPs of one training step on ``x``; the images' own gradient is not counted."""
    total, first = 0, True
    for _, layer in model.layers:
        out = layer.forward(x)
        forward, backward, input_grad = layer.flops(x.shape)
        if forward and first:
            backward, first = backward - input_grad, False
        total += forward + backward
        x = out
    return total


def applicable(name, options):
    """The ``options`` (e.g. ``{"conv2": "direct"}``) that model ``name`` takes."""
    return {key: value for key, value in options.items() if key in DEFAULT_OPTIONS[name]}


def bench_train_steps(models, batch_size, repeats, warmup, peak, threads=1, options=None):
    """Time one training step of each model, as the trainer takes it on ``threads`` threads.

    A step: forward and backward (split across the threads), clip, SGD update.
    ``share_of_peak`` is against ``threads`` times the one-core GEMM ``peak``.
    """
    rng = np.random.default_rng(0)
    results = {}
    for name in models:
        model = build_model(name, rng=rng, **applicable(name, options or {}))
        parallel = DataParallel(model, threads)
        optimizer = SGD(model.params)
        x, y = batch(batch_size, rng)

        def step():
            parallel.loss_and_backward(x, y)
            clip_grad_norm(model.grads, Config.clip)
            optimizer.step(model.grads, lr=0.01)  # a small rate: weights barely move over the repeats

        flops = step_flops(model, x)
        ms, spread = timed(step, repeats, warmup)
        gflops = flops / (ms * 1e6)
        results[name] = {"img_per_s": batch_size / ms * 1e3, "ms": ms, "spread_ms": spread,
                         "mflop_per_img": flops / batch_size / 1e6, "gflops": gflops,
                         "share_of_peak": gflops / (peak * threads)}
    return results


def bench_layers(batch_size, repeats, warmup, options=None):
    """Forward and backward of each layer of the CNN-LSTM, on the input it gets in the model.

    As in training, the first layer's backward computes no gradient for the images. Also
    times conv2 computed by im2col (a ``Conv2D`` with the same weights, key ``conv2_im2col``,
    not part of the step) against the model's Winograd conv2.
    """
    rng = np.random.default_rng(0)
    model = build_model("cnn_lstm", rng=rng, **applicable("cnn_lstm", options or {}))
    x, _ = batch(batch_size, rng)
    results = {}
    for k, (name, layer) in enumerate(model.layers):
        out = layer.forward(x)
        if name != "rows":  # a reshape: moves no numbers
            dout = rng.standard_normal(out.shape, dtype=np.float32)
            results[LAYER_KEYS.get(name, name)] = time_layer(layer, x, dout, repeats, warmup, first=k == 0)
        if name == "conv2":
            F, C, kh, kw = layer.params["W"].shape
            direct = Conv2D(C, F, (kh, kw), padding=layer.padding)
            direct.params = layer.params
            results["conv2_im2col"] = time_layer(direct, x, dout, repeats, warmup, first=False)
        x = out
    return results


def time_layer(layer, x, dout, repeats, warmup, first):
    """Forward and backward of one layer on ``x``: medians, spreads and GFLOP/s (None without products)."""
    fwd_ms, fwd_spread = timed(lambda: layer.forward(x), repeats, warmup)
    layer.forward(x)  # backward uses what the last forward kept
    options = {"input_grad": False} if first else {}
    bwd_ms, bwd_spread = timed(lambda: layer.backward(dout, **options), repeats, warmup)
    forward, backward, input_grad = layer.flops(x.shape)
    backward -= input_grad if first else 0
    return {"shape": list(x.shape), "fwd_ms": fwd_ms, "bwd_ms": bwd_ms,
            "fwd_spread_ms": fwd_spread, "bwd_spread_ms": bwd_spread,
            "gflops": (forward + backward) / ((fwd_ms + bwd_ms) * 1e6) if forward else None}


def kernel_cases(batch_size, rng):
    """Each kernel and its reference with the arguments they get in the CNN-LSTM at this batch."""
    N = batch_size
    xp = rng.standard_normal((N, 16, 16, 64), dtype=np.float32)        # conv2's padded input, NHWC
    cols = im2col(xp, 5, 5, 1, 1)
    x = rng.standard_normal((N, 64, 24, 24), dtype=np.float32)          # pool1's input
    # 3x3/2 "same": kh kw sh sw top left oh ow
    window = (3, 3, 2, 2, 0, 0, 12, 12)
    out, argmax = max_pool_forward(x, *window)
    a = rng.standard_normal((N, 64, 144), dtype=np.float32)             # LRN's input, pixels flattened
    lrn = LocalResponseNorm(**TUTORIAL_LRN)
    s, scale, _ = lrn_forward(a, lrn.size, lrn.k, lrn.alpha, lrn.beta)
    AT, _, BT = winograd.winograd_matrices(TILE, 5)                     # conv2's F(4 x 4, 5 x 5)
    V = winograd.input_transform(xp, BT, BT, TILE)                      # (64, N * 9 tiles, 64)
    bias = np.zeros(64, dtype=np.float32)
    tiles_out = rng.standard_normal((N, 12, 12, 64), dtype=np.float32)  # conv2's output, NHWC
    gates = rng.standard_normal((N, 4 * 128), dtype=np.float32)         # one LSTM step's pre-activations

    def output(transform):  # a fresh output each call: the transforms fill (or add into) it
        return lambda M: transform(M, AT, AT, bias, np.empty((N, 12, 12, 64), np.float32))

    def input_adjoint(transform):
        return lambda dV: transform(dV, BT, BT, TILE, np.zeros(xp.shape, np.float32))

    def in_place(exp):  # on a fresh copy each call (both times include it): the exps overwrite their argument
        def run(a):
            out = a.copy()
            exp(out)
            return out
        return run

    return [
        ("im2col", xp.shape, im2col_reference, im2col, (xp, 5, 5, 1, 1)),
        ("col2im", cols.shape, col2im_reference, col2im, (cols, xp.shape, 5, 5, 1, 1)),
        ("max_pool_forward", x.shape, max_pool_forward_reference, max_pool_forward, (x, *window)),
        ("max_pool_backward", out.shape, max_pool_backward_reference, max_pool_backward,
         (out, argmax, 24, 24)),
        ("avg_pool_forward", x.shape, avg_pool_forward_reference, avg_pool_forward, (x, *window)),
        ("avg_pool_backward", out.shape, avg_pool_backward_reference, avg_pool_backward,
         (out, 24, 24, 3, 3, 2, 2, 0, 0)),
        ("lrn_forward", a.shape, lrn_forward_reference, lrn_forward,
         (a, lrn.size, lrn.k, lrn.alpha, lrn.beta)),
        ("lrn_dx", a.shape, lrn_dx_reference, lrn_dx, (a, a, s, scale, lrn.size, lrn.alpha, lrn.beta)),
        ("winograd_input", xp.shape, winograd.input_transform_reference, winograd.input_transform,
         (xp, BT, BT, TILE)),
        ("winograd_output", V.shape, output(winograd.output_transform_reference),
         output(winograd.output_transform), (V,)),
        ("winograd_output_adjoint", tiles_out.shape, winograd.output_transform_adjoint_reference,
         winograd.output_transform_adjoint, (tiles_out, AT, AT)),
        ("winograd_input_adjoint", V.shape, input_adjoint(winograd.input_transform_adjoint_reference),
         input_adjoint(winograd.input_transform_adjoint), (V,)),
        ("exp_float32", gates.shape, in_place(exp_float32_reference), in_place(exp_float32), (gates,)),
    ]


def bench_kernels(batch_size, repeats, warmup):
    """Naive (plain NumPy reference) against fast (Numba) for each kernel, and how far apart they are."""
    results = {}
    for name, shape, naive, fast, args in kernel_cases(batch_size, np.random.default_rng(0)):
        naive_ms, _ = timed(lambda: naive(*args), repeats, warmup)
        fast_ms, _ = timed(lambda: fast(*args), repeats, warmup)
        # max_pool_forward returns (out, argmax), the others one array
        error = max(relative_error(a, b) for a, b in zip(_as_tuple(naive(*args)), _as_tuple(fast(*args))))
        results[name] = {"shape": list(shape), "naive_ms": naive_ms, "fast_ms": fast_ms,
                         "speedup": naive_ms / fast_ms, "relative_error": error}
    return results


def _as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


def run(models=MODEL_NAMES, threads=1, quick=False, repeats=None, options=None):
    """Every measurement, as the dict that ``--json`` prints."""
    settings = dict(QUICK if quick else FULL)
    settings["repeats"] = repeats or settings["repeats"]
    threads = check_threads(threads)
    threadpool_limits(1)  # BLAS on one thread: the threads split batches instead (scratchnet.parallel)
    load = os.getloadavg()[0]
    timing = (settings["repeats"], settings["warmup"])
    peak = gemm_peak_gflops(settings["gemm_size"], *timing)
    one_thread = bench_train_steps(models, settings["batch_size"], *timing, peak, options=options)
    steps = bench_train_steps(models, settings["batch_size"], *timing, peak, threads, options) \
        if threads > 1 else one_thread
    return {
        "threads": threads,
        "blas": blas_info(),
        "gemm_peak_gflops": peak,
        "train_step": steps,
        "train_step_1_thread": one_thread,
        "speedup_vs_1_thread": {name: steps[name]["img_per_s"] / one_thread[name]["img_per_s"]
                                for name in steps},
        "layers": bench_layers(settings["batch_size"], *timing, options),
        "options": options or {},
        "kernels": bench_kernels(settings["batch_size"], *timing),
        "batch_size": settings["batch_size"], "repeats": settings["repeats"], "quick": quick,
        "gemm_size": settings["gemm_size"],
        "load_avg_1min": load,  # other processes on the machine slow the figures down
        "commit": commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


