"""Hypothesis strategies shared by the layer and kernel tests: shapes, values, and degenerate cases.

Each strategy draws a whole case, shapes first and then what fits them, so that every
example is legal for the layer under test; the ``*_DEGENERATE`` lists are the corner cases
that every run includes whatever hypothesis draws (``with_examples``).
"""

import numpy as np
from hypothesis import example
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

seeds = st.integers(0, 2**32 - 1)
values = st.floats(-3, 3, width=32)
# magnitudes in [0.1, 3] with either sign: clear of the kinks at 0 (ReLU, |w|), and large enough
# that a gradient which scales with them stays above the rounding noise of a finite difference
away_from_zero = st.tuples(st.floats(0.1, 3), st.booleans()).map(lambda v: v[0] if v[1] else -v[0])
float_dtypes = st.sampled_from([np.float32, np.float64])


def float64_arrays(min_dims=1, max_dims=3, max_side=4, elements=values):
    """float64 arrays of any shape with ``min_dims`` to ``max_dims`` sides of 1 to ``max_side``."""
    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side)
    return hnp.arrays(np.float64, shapes, elements=elements)


def with_examples(cases, **others):
    """Run a test taking ``case`` on each of ``cases`` too (with ``others`` for its other arguments)."""
    def decorate(test):
        for case in cases:
            test = example(case=case, **others)(test)
        return test
    return decorate


# ------------------------------------------------------------------ convolution

@st.composite
def conv_cases(draw, max_side=6, max_kernel=None, max_stride=3):
    """(N, C, F, H, W, (kh, kw), stride, padding, seed) with the kernel fitting the padded input.

    ``"same"`` takes any kernel; it may be up to 4 larger than the input.
    """
    N, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    padding = draw(st.sampled_from([0, 1, 2, "same"]))
    pad = 2 if padding == "same" else padding
    largest = (H + 2 * pad, W + 2 * pad) if max_kernel is None else (min(max_kernel, H + 2 * pad),
                                                                     min(max_kernel, W + 2 * pad))
    kh, kw = draw(st.integers(1, largest[0])), draw(st.integers(1, largest[1]))
    stride = draw(st.integers(1, max_stride))
    return N, C, F, H, W, (kh, kw), stride, padding, draw(seeds)


CONV_DEGENERATE = [
    (1, 2, 2, 4, 4, (1, 1), 1, 0, 0),       # 1x1 kernel: a per-pixel linear map
    (2, 1, 2, 3, 5, (3, 5), 1, 0, 1),       # kernel == input: a single output pixel
    (1, 2, 1, 7, 7, (1, 1), 3, 0, 2),       # stride > kernel: pixels skipped
    (1, 1, 1, 2, 3, (5, 4), 2, "same", 3),  # "same" with a kernel larger than the input
    (2, 3, 2, 5, 4, (3, 2), 2, "same", 4),  # odd/even kernel, uneven "same" padding
]
# the same corners at stride 1, for the convolutions that take no other (Winograd's)
CONV_DEGENERATE_STRIDE_1 = [case[:6] + (1,) + case[7:] for case in CONV_DEGENERATE]


# ------------------------------------------------------------------ pooling

@st.composite
def pool_cases(draw):
    """(N, C, H, W, (kh, kw), stride, padding, seed): legal for both pools, stride > kernel too."""
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    padding = draw(st.sampled_from([0, 1, "same"]))
    pad = 2 if padding == "same" else padding
    smallest = 1 if padding == "same" else padding + 1  # a window must hold a real value
    kh, kw = draw(st.integers(smallest, H + 2 * pad)), draw(st.integers(smallest, W + 2 * pad))
    stride = draw(st.one_of(st.none(), st.integers(1, 4)))
    return N, C, H, W, (kh, kw), stride, padding, draw(seeds)


POOL_DEGENERATE = [
    (1, 2, 4, 4, (1, 1), None, 0, 0),       # 1x1 window: the identity
    (2, 1, 3, 5, (3, 5), None, 0, 1),       # window == input: one global pool
    (1, 2, 7, 7, (2, 2), 3, 0, 2),          # stride > kernel: rows and columns skipped
    (1, 1, 2, 3, (5, 4), 2, "same", 3),     # "same" with a window larger than the input
    (2, 3, 6, 5, (3, 3), 2, "same", 4),     # the paper's 3x3/2 "same", odd and even sizes
]


def distinct_values(shape, seed, dtype=np.float64):
    """Every value different (a shuffled ramp), so each max-pool window has one clear maximum
    that a finite-difference step of 1e-6 cannot overtake."""
    size = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(size) / max(size, 1) - 0.5).reshape(shape).astype(dtype)


# ------------------------------------------------------------------ kernels' own layouts

@st.composite
def im2col_cases(draw):
    """A padded NHWC input shape, a kernel that fits in it, strides (also > kernel), dtype, seed."""
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    Hp, Wp = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kh, kw = draw(st.integers(1, Hp)), draw(st.integers(1, Wp))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return (N, Hp, Wp, C), kh, kw, sh, sw, draw(float_dtypes), draw(seeds)


@st.composite
def tile_cases(draw, max_tile):
    """Winograd tiles: m, kernel rows and columns, a padded NHWC input of whole tiles, dtype, seed."""
    m = draw(st.integers(1, 4))
    rh, rw = draw(st.integers(1, max_tile + 1 - m)), draw(st.integers(1, max_tile + 1 - m))
    th, tw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 5))
    shape = (N, m * th + rh - 1, m * tw + rw - 1, C)
    return m, rh, rw, shape, draw(float_dtypes), draw(seeds)


# ------------------------------------------------------------------ LRN, recurrent, losses, penalties

@st.composite
def lrn_cases(draw, dtype=np.float64):
    """An input (N, C, H, W) and LRN constants; odd sizes from 1 to larger than C."""
    shape = tuple(draw(st.integers(1, high)) for high in (2, 6, 3, 3))
    x = draw(hnp.arrays(dtype, shape, elements=values))
    # alpha large enough that the cross-channel term shows in the gradient, but with
    # k / (alpha (2 beta - 1)) > 3^2: a lone channel's b = a / (k + alpha a^2)^beta then has
    # no stationary point in [-3, 3], where the true gradient is 0 and a relative error is noise.
    constants = dict(
        size=draw(st.sampled_from([1, 3, 5, 7, 9])),
        k=draw(st.floats(1, 3)),
        alpha=draw(st.floats(1e-3, 0.05)),
        beta=draw(st.floats(0.25, 1.5)),
    )
    return x, constants


@st.composite
def sequences(draw):
    """A float64 input (N, T, D), with T = 1 among the draws, a hidden size H and a seed.

    |x| >= 0.1: with x near 0 the whole gradient of W can be ~1e-12, below the rounding noise
    of the finite difference, and the relative error measures nothing but that noise.
    """
    N, T, D, H = (draw(st.integers(1, high)) for high in (3, 4, 3, 3))
    elements = st.floats(0.1, 2) | st.floats(-2, -0.1)
    x = draw(hnp.arrays(np.float64, (N, T, D), elements=elements))
    return x, H, draw(seeds)


@st.composite
def logits_and_labels(draw, dtype=np.float64, bound=5):
    """Logits (N, C) in [-bound, bound] and integer labels (N,) in [0, C)."""
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    logits = draw(hnp.arrays(dtype, (n, c), elements=st.floats(-bound, bound, width=32)))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return logits, labels


def param_dicts(elements):
    """Dicts of one to four named float64 arrays of 1 to 3 dimensions."""
    shapes = hnp.array_shapes(min_dims=1, max_dims=3, max_side=3)
    arrays = shapes.flatmap(lambda shape: hnp.arrays(np.float64, shape, elements=elements))
    return st.dictionaries(st.sampled_from(["W1", "b1", "W2", "b2"]), arrays, min_size=1)


def recurrent_layer(cls, D, H, seed, return_sequences=False, dtype=np.float64):
    """A layer whose bias is random too, so that every gate starts away from its default."""
    rng = np.random.default_rng(seed)
    layer = cls(D, H, return_sequences=return_sequences, rng=rng, dtype=dtype)
    layer.params["b"][:] = rng.uniform(-1, 1, layer.params["b"].shape)
    return layer
