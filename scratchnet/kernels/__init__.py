"""Numba kernels, each beside a plain NumPy twin (``*_reference``) that a test holds it to.

What every module here does the same way:

- a public function allocates the outputs and any scratch buffer with NumPy and hands them to
  its kernel: NumPy's allocators compiled into a kernel lengthen its first compilation, what a
  new user waits for before the first step, by up to a few tenths of a second each (one view
  stays inside its kernel: ``exp_float32`` says why);
- kernels are compiled with ``cache=True`` (once per machine, then loaded from the cache) and
  ``nogil=True`` (threads of one program run them at the same time).
"""
