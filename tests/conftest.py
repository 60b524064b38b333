"""Shared test set-up: hypothesis profiles and where CIFAR-10 is found."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

# One BLAS thread, as the trainer uses (scratchnet.parallel): on our 2-core CI machines a
# second OpenBLAS thread made small matrix products up to 50x slower when the other core was busy.
threadpool_limits(1)

# The first example of a property pays for Numba's compilation, so no deadline.
# CI draws the same examples every run (derandomize) so a red build can be replayed.
settings.register_profile(
    "ci", deadline=None, max_examples=20, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", deadline=None, max_examples=20,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def cifar_root():
    """The folder holding ``cifar-10-batches-py/``: ``SCRATCHNET_DATA``, else ``datasets/``."""
    from scratchnet.cifar10 import missing_files, not_found

    root = Path(os.environ.get("SCRATCHNET_DATA") or REPO_ROOT / "datasets")
    if missing_files(root):
        pytest.fail(str(not_found(root)) + " (datasets/README.md says how the tests get it)", pytrace=False)
    return root


@pytest.fixture(scope="session")
def cifar_data_small(cifar_root):
    """50 standardised centre crops of real CIFAR-10 training images and their labels."""
    from scratchnet.cifar10 import load_cifar10
    from scratchnet.transforms import preprocess_eval

    x_train, y_train, _, _ = load_cifar10(cifar_root)
    return preprocess_eval(x_train[:50]), y_train[:50]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, cifar_root):
    """A finished tiny run of the paper's model (its folder): for the commands that read runs."""
    from fakes import TINY

    from scratchnet import train

    out = tmp_path_factory.mktemp("tiny")
    assert train.main([*TINY, "--out", str(out), "--data-dir", str(cifar_root), "--no-download"]) == 0
    return out


# What `python -m pytest -m "not slow"` leaves out, so that the loop between edits takes about a
# minute: whatever trains a network for more than a step or two, runs a notebook, a browser or the
# benchmark, or evaluates all 10,000 test images. Marked here, in one place, by module, fixture or
# name; a test may also carry @pytest.mark.slow itself. The full run (`python -m pytest`) runs all.
SLOW_MODULES = {"test_lessons", "test_report_browser", "test_checkpoint_compat", "test_reproduce",
                "test_evaluate", "test_predict", "test_bench", "test_reporting", "test_report", "test_runs",
                "test_study"}
SLOW_FIXTURES = {"tiny_run", "prepared"}
SLOW_NAMES = ("memorises", "whole_model_gradient", "every_variant_passes", "first_layer_of_the_cnn_lstm",
              "trained_run", "split_holds_out", "recurrent_rows_default", "interrupted_run_resumes",
              "split_across_threads", "another_thread_count", "non_finite_loss", "infinite_gradient")


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if (module in SLOW_MODULES or SLOW_FIXTURES & set(item.fixturenames)
                or any(name in item.name for name in SLOW_NAMES)):
            item.add_marker(pytest.mark.slow)

