"""Data parallelism: shards, worker processes, and a split batch's gradient equal to the whole batch's."""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.gradcheck import relative_error
from scratchnet.layers.base import NonFiniteError
from scratchnet.models import MODEL_NAMES, build_model
from scratchnet.parallel import DataParallel, WorkerStopped, check_threads, shard_bounds, usable_cores


@given(n=st.integers(1, 300), shards=st.integers(1, 9))
def test_shards_cover_the_batch_in_order_and_differ_by_at_most_one(n, shards):
    bounds = shard_bounds(n, shards)
    assert len(bounds) == min(n, shards)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))  # contiguous
    sizes = [stop - start for start, stop in bounds]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("batch", [5, 1])  # uneven shards (2 + 3), and fewer images than threads
def test_split_batch_gives_the_whole_batch_gradient(name, batch):
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch, 3, 24, 24))
    labels = rng.integers(0, 10, batch)
    whole = build_model(name, rng=np.random.default_rng(1), dtype=np.float64)
    split = build_model(name, rng=np.random.default_rng(1), dtype=np.float64)
    loss, logits = DataParallel(whole, threads=1).loss_and_backward(images, labels)
    split_loss, split_logits = DataParallel(split, threads=2).loss_and_backward(images, labels)
    assert split_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(split_logits, logits, rtol=1e-12, atol=1e-14)
    for key, grad in whole.grads.items():
        assert relative_error(split.grads[key], grad) < 1e-10, key


def test_data_parallel_with_one_thread_is_the_plain_model():
    rng = np.random.default_rng(2)
    images, labels = rng.standard_normal((4, 3, 24, 24)), rng.integers(0, 10, 4)
    plain = build_model("cnn", rng=np.random.default_rng(3), dtype=np.float64)
    wrapped = build_model("cnn", rng=np.random.default_rng(3), dtype=np.float64)
    loss, logits, dlogits = plain.loss(images, labels)
    plain.backward(dlogits)
    assert DataParallel(wrapped).loss_and_backward(images, labels)[0] == loss
    for key, grad in plain.grads.items():
        np.testing.assert_array_equal(wrapped.grads[key], grad)


def test_forward_splits_and_concatenates_in_order():
    model = build_model("cnn_lstm", rng=np.random.default_rng(4), dtype=np.float64)
    images = np.random.default_rng(5).standard_normal((7, 3, 24, 24))
    np.testing.assert_allclose(DataParallel(model, threads=2).forward(images), model.forward(images),
                               rtol=1e-12)


def test_skipping_the_image_gradient_changes_no_parameter_gradient():
    rng = np.random.default_rng(7)
    images, labels = rng.standard_normal((3, 3, 24, 24)), rng.integers(0, 10, 3)
    model = build_model("cnn_lstm", rng=np.random.default_rng(8), dtype=np.float64)
    _, _, dlogits = model.loss(images, labels)
    assert model.backward(dlogits).shape == images.shape
    with_dx = {key: grad.copy() for key, grad in model.grads.items()}
    assert model.backward(dlogits, input_grad=False) is None
    for key, grad in with_dx.items():
        np.testing.assert_array_equal(model.grads[key], grad)


@pytest.mark.parametrize("threads", [0, -1, usable_cores() + 1, 1.5])
def test_impossible_thread_counts_are_refused(threads):
    with pytest.raises(ValueError, match="--threads .*: must be a whole number from 1 to"):
        check_threads(threads)


def nan_in(images, part):
    images = images.copy()
    images[part, 0, 0, 0] = np.nan
    return images


@pytest.mark.parametrize("failing", ["worker", "caller"])
def test_a_failing_shard_raises_its_error_and_the_next_call_is_right(monkeypatch, failing):
    # the error of either shard reaches the caller; the worker's reply is read either way, so the
    # next call gets the reply to its own request and the whole batch's gradient
    monkeypatch.setattr("scratchnet.parallel.usable_cores", lambda: 2)
    rng = np.random.default_rng(9)
    images, labels = rng.standard_normal((4, 3, 24, 24)), rng.integers(0, 10, 4)
    model = build_model("cnn", rng=np.random.default_rng(10), dtype=np.float64)
    parallel = DataParallel(model, threads=2)
    with pytest.raises(NonFiniteError, match=r"Conv2DNCHW.*\(2, 3, 24, 24\) contains NaN or infinity"):
        parallel.loss_and_backward(nan_in(images, 3 if failing == "worker" else 0), labels)
    loss, _ = parallel.loss_and_backward(images, labels)
    whole = build_model("cnn", rng=np.random.default_rng(10), dtype=np.float64)
    assert loss == pytest.approx(DataParallel(whole).loss_and_backward(images, labels)[0], rel=1e-12)
    for key, grad in whole.grads.items():
        assert relative_error(model.grads[key], grad) < 1e-10, key


def test_a_reply_to_an_interrupted_call_is_dropped(monkeypatch):
    monkeypatch.setattr("scratchnet.parallel.usable_cores", lambda: 2)
    images = np.random.default_rng(11).standard_normal((4, 3, 24, 24))
    model = build_model("cnn", rng=np.random.default_rng(12), dtype=np.float64)
    parallel = DataParallel(model, threads=2)
    worker = parallel.workers[0]
    worker.send("forward", images[:1])  # as if Ctrl-C had stopped the caller before it read the reply
    np.testing.assert_allclose(parallel.forward(images), model.forward(images), rtol=1e-12)


def test_a_stopped_worker_gives_a_clear_error_and_workers_end_with_the_caller(monkeypatch):
    monkeypatch.setattr("scratchnet.parallel.usable_cores", lambda: 2)
    images, labels = np.zeros((4, 3, 24, 24)), np.zeros(4, dtype=int)
    parallel = DataParallel(build_model("lstm", rng=np.random.default_rng(13), dtype=np.float64), threads=2)
    process = parallel.workers[0].process
    process.kill()
    with pytest.raises(WorkerStopped, match=r"a worker process stopped \(exit status -9; its message"):
        parallel.loss_and_backward(images, labels)
    live = DataParallel(build_model("lstm", rng=np.random.default_rng(13), dtype=np.float64), threads=2)
    process = live.workers[0].process
    del live  # the worker's input closes, and it ends
    assert process.wait(timeout=30) == 0


def test_the_shared_file_is_gone_once_the_worker_has_it(monkeypatch, tmp_path):
    monkeypatch.setattr("scratchnet.parallel.usable_cores", lambda: 2)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr("os.path.isdir", lambda path: False if path == "/dev/shm" else os.path.isdir(path))
    DataParallel(build_model("lstm", rng=np.random.default_rng(14)), threads=2)
    assert list(tmp_path.iterdir()) == []
