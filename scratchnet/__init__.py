"""scratchnet: deep learning written from scratch in NumPy and Numba.

The package reproduces the CNN-LSTM of Yu et al., "Research on Image Feature
Recognition Based on Convolution-Long Short Term Memory Network", on CIFAR-10, with
every forward and backward pass written by hand and checked against finite
differences.

Set ``NUMBA_DISABLE_JIT=1`` to run every Numba kernel as plain Python (slow, but you
can step through it in a debugger).
"""

__version__ = "0.1.0"
