"""What every Numba kernel in scratchnet.kernels promises: it releases the GIL and creates no array.

``scratchnet.parallel`` runs one shard of a batch per thread; the threads run at once only
where the GIL is released, in BLAS and in kernels compiled with ``nogil=True``. A kernel
that lost the option would still give right answers, only on one core at a time, so the
option itself is what is tested.
"""

import ast
import importlib
import inspect
import pkgutil
import textwrap

import pytest
from numba import config
from numba.core.registry import CPUDispatcher

import scratchnet.kernels

MODULES = [importlib.import_module(f"scratchnet.kernels.{info.name}")
           for info in pkgutil.iter_modules(scratchnet.kernels.__path__)]
KERNELS = {f"{module.__name__}.{name}": kernel for module in MODULES
           for name, kernel in vars(module).items() if isinstance(kernel, CPUDispatcher)}


@pytest.mark.skipif(config.DISABLE_JIT, reason="NUMBA_DISABLE_JIT=1: the kernels run as plain Python")
def test_every_kernel_module_has_kernels_beside_references():
    # im2col, lrn, pool, winograd, and any module added beside them; im2col_nchw is NumPy slicing
    # as fast as a compiled loop (its docstring says why), the others compile theirs
    assert {module.__name__.rsplit(".", 1)[1] for module in MODULES} >= {"im2col", "lrn", "pool", "winograd"}
    for module in MODULES:
        assert any(name.endswith("_reference") for name in vars(module)), module.__name__
        if not module.__name__.endswith("_nchw"):
            assert any(name.startswith(module.__name__ + ".") for name in KERNELS), module.__name__


@pytest.mark.skipif(config.DISABLE_JIT, reason="NUMBA_DISABLE_JIT=1: the kernels run as plain Python")
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_releases_the_gil(name):
    assert KERNELS[name].targetoptions.get("nogil") is True, f"{name} must be compiled with nogil=True"


ALLOCATORS = {"empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like", "full_like",
              "array", "copy", "concatenate", "stack"}


@pytest.mark.skipif(config.DISABLE_JIT, reason="NUMBA_DISABLE_JIT=1: the kernels run as plain Python")
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_creates_no_array(name):
    # the package docstring's rule: callers allocate, since an allocator compiled into a kernel
    # lengthens its first compilation
    tree = ast.parse(textwrap.dedent(inspect.getsource(KERNELS[name].py_func)))
    calls = {node.func.attr for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "np"}
    assert not calls & ALLOCATORS, f"{name} allocates with np.{sorted(calls & ALLOCATORS)}: pass the array in"
