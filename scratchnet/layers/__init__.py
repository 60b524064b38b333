"""The layers, one concept per module. Import them from here.

Every layer has ``forward(x)`` (returns the output, keeps what backward needs),
``backward(dout)`` (returns the gradient with respect to ``x`` and overwrites the arrays of
``layer.grads`` in place: the rule in ``scratchnet.layers.base``) and ``flops(x_shape)``;
parameters live in ``layer.params``.
"""

from scratchnet.layers.conv import Conv2D
from scratchnet.layers.conv_loops import LoopConv2D
from scratchnet.layers.conv_nchw import Conv2DNCHW
from scratchnet.layers.dense import Flatten, Linear, ReLU, Reshape
from scratchnet.layers.losses import softmax, softmax_cross_entropy
from scratchnet.layers.lrn import LocalResponseNorm
from scratchnet.layers.penalties import l1_penalty, l2_penalty
from scratchnet.layers.pool import AvgPool2D, MaxPool2D
from scratchnet.layers.recurrent import (
    GRU,
    LSTM,
    RNN,
    gru_step_backward,
    gru_step_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from scratchnet.layers.winograd import WinogradConv2D

__all__ = [
    "Conv2D", "Conv2DNCHW", "LoopConv2D", "WinogradConv2D", "MaxPool2D", "AvgPool2D", "LocalResponseNorm",
    "Linear", "ReLU",
    "Flatten", "Reshape",
    "LSTM", "GRU", "RNN", "lstm_step_forward", "lstm_step_backward", "gru_step_forward", "gru_step_backward",
    "rnn_step_forward", "rnn_step_backward", "softmax", "softmax_cross_entropy", "l1_penalty", "l2_penalty",
]
