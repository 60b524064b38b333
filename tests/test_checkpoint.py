"""Tests for scratchnet.checkpoint: round trip, atomic writes, and refusing bad files."""

import json

import numpy as np
import pytest

from scratchnet.checkpoint import FORMAT_VERSION, load, restore, save


def make_params(rng, dtype=np.float32):
    return {
        "conv1.W": rng.standard_normal((4, 3, 5, 5)).astype(dtype),
        "conv1.b": rng.standard_normal(4).astype(dtype),
        "lstm.b": rng.standard_normal(8).astype(dtype),
    }


@pytest.fixture
def saved(tmp_path):
    """A checkpoint on disk and what was written into it."""
    rng = np.random.default_rng(0)
    params = make_params(rng)
    state = {f"velocity/{k}": rng.standard_normal(v.shape).astype(v.dtype) for k, v in params.items()}
    metadata = {"model": "cnn_lstm", "epoch": 3, "step": 17, "config": {"lr": 0.02, "crop": [24, 24]}}
    path = tmp_path / "run" / "checkpoint.npz"
    save(path, params, state, metadata)
    return path, params, state, metadata


def test_round_trip_is_bit_identical(saved):
    path, params, state, metadata = saved
    loaded = load(path)
    assert loaded.params.keys() == params.keys()
    assert loaded.optimizer_state.keys() == state.keys()
    for original, back in [(params, loaded.params), (state, loaded.optimizer_state)]:
        for name, value in original.items():
            assert back[name].dtype == value.dtype
            assert back[name].tobytes() == value.tobytes()
    assert loaded.metadata == {**metadata, "format_version": FORMAT_VERSION}


def test_file_is_plain_arrays_and_json(saved):
    path = saved[0]
    with np.load(path, allow_pickle=False) as npz:
        assert "param/conv1.W" in npz.files and "optim/velocity/conv1.W" in npz.files
        assert json.loads(str(npz["metadata_json"]))["format_version"] == FORMAT_VERSION


def test_save_leaves_no_temporary_files_and_keeps_the_name_as_given(tmp_path):
    save(tmp_path / "epoch-1.ckpt", {"w": np.ones(2)}, {}, {})
    save(tmp_path / "epoch-1.ckpt", {"w": np.zeros(2)}, {}, {})  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-1.ckpt"]
    assert not load(tmp_path / "epoch-1.ckpt").params["w"].any()


def test_failure_while_writing_leaves_the_previous_checkpoint_intact(saved, monkeypatch):
    path, params, _, _ = saved
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(RuntimeError, match="disk full"):
        save(path, {k: v + 1 for k, v in params.items()}, {}, {"model": "cnn_lstm"})
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    monkeypatch.undo()
    np.testing.assert_array_equal(load(path).params["conv1.W"], params["conv1.W"])


def test_metadata_must_be_json_serialisable(tmp_path):
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        save(tmp_path / "c.npz", {}, {}, {"epoch": np.int64(3)})
    with pytest.raises(ValueError, match="must be a dict"):
        save(tmp_path / "c.npz", {}, {}, ["epoch", 3])
    with pytest.raises(ValueError, match="only numeric arrays"):
        save(tmp_path / "c.npz", {"w": np.array([object()])}, {}, {})
    assert not list(tmp_path.iterdir())


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load(tmp_path / "nothing.npz")


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(ValueError, match="junk.npz is not a scratchnet checkpoint: it is not an .npz"):
        load(path)


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_truncated_file_is_refused(saved, keep):
    path = saved[0]
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match="checkpoint.npz is damaged"):
        load(path)


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.npz is not a scratchnet checkpoint: it is not an .npz"):
        load(tmp_path / "empty.npz")


def test_corrupt_member_is_refused(saved):
    path = saved[0]
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 64] = bytes(64)  # zero a stretch inside an array's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checkpoint.npz is damaged"):
        load(path)


def test_npz_without_metadata_is_refused(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, W=np.ones(3))
    with pytest.raises(ValueError, match="not a scratchnet checkpoint: it holds no 'metadata_json'"):
        load(path)


def test_npy_file_is_refused(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.ones(3))
    with pytest.raises(ValueError, match="weights.npy is not a scratchnet checkpoint: it is not an .npz"):
        load(path)


@pytest.mark.parametrize(
    "metadata_json, message",
    [
        ("{not json", "not valid JSON"),
        ('{"model": "cnn"}', "no 'format_version'"),
        ("[1, 2]", "no 'format_version'"),
        (json.dumps({"format_version": FORMAT_VERSION + 1}), "written by a newer version"),
        (json.dumps({"format_version": 0}), "unknown format version 0"),
    ],
)
def test_bad_metadata_is_refused(tmp_path, metadata_json, message):
    path = tmp_path / "c.npz"
    np.savez(path, **{"param/W": np.ones(2), "metadata_json": np.array(metadata_json)})
    with pytest.raises(ValueError, match=message):
        load(path)


def test_unexpected_entries_are_refused(tmp_path):
    path = tmp_path / "c.npz"
    metadata_json = np.array(json.dumps({"format_version": FORMAT_VERSION}))
    np.savez(path, **{"W": np.ones(2), "metadata_json": metadata_json})
    with pytest.raises(ValueError, match=r"unexpected entries \['W'\]"):
        load(path)


# ---------------------------------------------------------------- restore


def test_restore_copies_in_place(saved):
    path, params, _, _ = saved
    model = make_params(np.random.default_rng(99))
    arrays = dict(model)
    restore(load(path), model, model_name="cnn_lstm")
    for name, value in model.items():
        assert value is arrays[name]  # the optimiser's references stay valid
        np.testing.assert_array_equal(value, params[name])


def mutate(model, change):
    if change == "missing":
        del model["lstm.b"]
        model["lstm.W"] = np.zeros((2, 2), np.float32)
    elif change == "shape":
        model["conv1.b"] = np.zeros(5, np.float32)
    elif change == "dtype":
        model["conv1.b"] = np.zeros(4, np.float64)
    return model


@pytest.mark.parametrize(
    "change, model_name, message",
    [
        ("missing", None, r"missing \['lstm.W'\], unexpected \['lstm.b'\]"),
        ("shape", None, r"conv1.b: got \(4,\) float32, wanted \(5,\) float32"),
        ("dtype", None, r"conv1.b: got \(4,\) float32, wanted \(4,\) float64"),
        (None, "lstm", "holds model 'cnn_lstm', but model 'lstm' was asked for"),
    ],
)
def test_restore_refuses_a_mismatch_and_changes_nothing(saved, change, model_name, message):
    model = mutate(make_params(np.random.default_rng(99)), change)
    before = {name: value.copy() for name, value in model.items()}
    with pytest.raises(ValueError, match=message):
        restore(load(saved[0]), model, model_name=model_name)
    for name, value in model.items():
        np.testing.assert_array_equal(value, before[name])
