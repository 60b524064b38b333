"""Output sizes and padding for convolution and pooling.

``"same"`` follows TensorFlow's rule, for convolution and pooling alike:

    out = ceil(in / stride)
    total = max((out - 1) * stride + k - in, 0)
    before = total // 2            (top, left)
    after = total - before         (bottom, right)

An integer ``padding`` p puts p on every side, and then out = (in + 2p - k) // stride + 1.
"""


def resolve_padding(in_size, kernel_size, stride, padding, where):
    """Return ``(out_size, pad_before, pad_after)`` for one spatial axis, or raise."""
    if padding == "same":
        out_size = -(-in_size // stride)
        total = max((out_size - 1) * stride + kernel_size - in_size, 0)
        return out_size, total // 2, total - total // 2
    if isinstance(padding, str) or int(padding) != padding or padding < 0:
        raise ValueError(f"{where}: padding must be a non-negative int or 'same', got {padding!r}")
    padding = int(padding)
    padded = in_size + 2 * padding
    if kernel_size > padded:
        raise ValueError(
            f"{where}: kernel {kernel_size} is larger than the padded input "
            f"({in_size} + 2*{padding} = {padded}); use a smaller kernel, more padding or 'same'"
        )
    return (padded - kernel_size) // stride + 1, padding, padding
