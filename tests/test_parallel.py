"""Data parallelism: shards, replicas, and the gradient of a split batch equal to the whole batch's."""

import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.gradcheck import relative_error
from scratchnet.models import MODEL_NAMES, build_model
from scratchnet.parallel import DataParallel, check_threads, shard_bounds, usable_cores


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


def test_replica_shares_parameters_but_not_gradients():
    model = build_model("lstm", rng=np.random.default_rng(6))
    twin = model.replica()
    for key, param in model.params.items():
        assert twin.params[key] is param  # an optimiser step moves both
        assert twin.grads[key] is not model.grads[key]
    model.params["rnn.W"][0, 0] += 1.0
    assert twin.params["rnn.W"][0, 0] == model.params["rnn.W"][0, 0]


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


def test_a_failing_shard_leaves_no_replica_busy(monkeypatch):
    # shard 0 fails at once while shard 1 is still working: the call must wait for it before it raises,
    # or the next call could hand that replica to a second thread
    monkeypatch.setattr("scratchnet.parallel.usable_cores", lambda: 2)
    model = build_model("lstm", rng=np.random.default_rng(9))
    parallel = DataParallel(model, threads=2)
    finished = threading.Event()

    def shard(replica, part):
        if replica is model:
            raise ValueError("shard 0 failed")
        time.sleep(0.2)
        finished.set()

    with pytest.raises(ValueError, match="shard 0 failed"):
        parallel._map(shard, (np.zeros((4, 3, 24, 24)),))
    assert finished.is_set()
