"""Numba kernels, each beside a plain NumPy twin (``*_reference``) that a test holds it to.

What the kernels here have in common:

- they do not create arrays: whoever calls them (a wrapper beside them, or the LSTM layer)
  allocates the outputs and any scratch buffer with NumPy and passes them in. NumPy's
  allocators compiled into a kernel lengthen the first compilation in a process, what a new user
  waits for before the first step, by up to a few tenths of a second for each kind of
  allocation. Views by indexing (``x[n, c]``) cost nothing; the one other NumPy call left inside
  a kernel, ``exp_float32``'s ``x.view(np.int32)``, says why it stays;
- they are compiled with ``cache=True`` (once per machine, then loaded from the cache) and
  ``nogil=True`` (threads of one program run them at the same time).
"""
