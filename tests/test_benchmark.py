"""scratchnet.benchmark: what a step's FLOPs are, counted by hand. No timing asserted."""

import numpy as np

from scratchnet import benchmark
from scratchnet.models import build_model


def test_cnn_lstm_step_flops_by_hand():
    # per image: conv1 forward + dW (dx of the images is not needed), conv2 3x forward,
    # LSTM 3x (48 steps of a 176 -> 512 product), fc 3x (128 -> 10)
    conv1 = 2 * 24 * 24 * 64 * 3 * 25
    conv2 = 2 * 12 * 12 * 64 * 64 * 25
    lstm = 2 * 48 * (128 + 48) * 4 * 128
    fc = 2 * 128 * 10
    model = build_model("cnn_lstm", rng=np.random.default_rng(0))
    x = np.zeros((3, 3, 24, 24), np.float32)
    assert benchmark.step_flops(model, x) == 3 * (2 * conv1 + 3 * conv2 + 3 * lstm + 3 * fc)


