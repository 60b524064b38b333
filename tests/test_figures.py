"""scratchnet.figures and scratchnet.page: the report's pictures, the same bytes every time."""

import numpy as np

from scratchnet import figures, page


def test_figures_are_reproducible_pngs():
    W = np.random.default_rng(0).standard_normal((64, 3, 5, 5))
    first, second = figures.png_bytes(figures.filters(W)), figures.png_bytes(figures.filters(W))
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and first == second
    assert page.png_size(first) == (450, 450)  # 5 x 5 inches at 90 dpi
