"""Helpers shared by several test files."""

from contextlib import contextmanager

import numba


@contextmanager
def numba_threads(threads):
    """Run the block with Numba on ``threads`` threads, then restore the count."""
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(before)
