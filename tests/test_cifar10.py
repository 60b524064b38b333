"""scratchnet.cifar10: where CIFAR-10 is found and reading it safely, on the real copy and on tiny fakes."""

import os
import pickle

import numpy as np
import pytest
from fakes import assert_same, make_fake

from scratchnet.cifar10 import CIFAR10_URL, CLASSES, FOLDER, TEST_FILE, DataNotFound, data_root, load_cifar10


@pytest.fixture(scope="module")
def cifar(cifar_root):
    return load_cifar10(cifar_root)


def test_real_copy_shapes_dtypes_labels_balance(cifar):
    x_train, y_train, x_test, y_test = cifar
    assert x_train.shape == (50000, 3, 32, 32) and x_test.shape == (10000, 3, 32, 32)
    assert x_train.dtype == x_test.dtype == np.uint8
    assert y_train.shape == (50000,) and y_test.shape == (10000,)
    assert y_train.dtype == y_test.dtype == np.int64
    assert 0 <= y_train.min() and y_train.max() == 9 and 0 <= y_test.min() and y_test.max() == 9
    assert np.bincount(y_train).tolist() == [5000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert len(CLASSES) == 10 and CLASSES[0] == "airplane" and CLASSES[9] == "truck"


@pytest.mark.parametrize("str_keys", [False, True], ids=["bytes-keys", "str-keys"])
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_fake_copy_both_key_styles(tmp_path, str_keys, protocol):
    expected = make_fake(tmp_path, str_keys=str_keys, protocol=protocol)
    assert_same(load_cifar10(tmp_path), expected)


def test_planes_are_red_green_blue_row_major(tmp_path):
    make_fake(tmp_path, n=2)
    raw = pickle.loads((tmp_path / FOLDER / TEST_FILE).read_bytes(), encoding="bytes")[b"data"]
    x_test = load_cifar10(tmp_path)[2]
    # green (plane 1) at row 5, column 7 of image 1
    assert x_test[1, 1, 5, 7] == raw[1, 1024 + 32 * 5 + 7]
    assert x_test[1, 2, 31, 0] == raw[1, 2048 + 32 * 31]


def test_missing_folder_says_where_it_looked_and_how_to_get_the_data(tmp_path):
    with pytest.raises(DataNotFound, match="SCRATCHNET_DATA") as info:
        load_cifar10(tmp_path)
    message = str(info.value)
    assert f"{tmp_path / FOLDER}/ does not exist" in message and CIFAR10_URL in message
    assert ("163 MB" in message and "MD5 c58f30108f718f92721af3b95e74349a" in message
            and "--data-dir" in message)
    assert "shared" not in message and "\n" not in message


def test_partial_folder_names_the_missing_files(tmp_path):
    make_fake(tmp_path)
    (tmp_path / FOLDER / "data_batch_3").unlink()
    (tmp_path / FOLDER / TEST_FILE).unlink()
    with pytest.raises(DataNotFound, match=r"lacks data_batch_3, test_batch\. Either download"):
        load_cifar10(tmp_path)


def test_truncated_real_file_is_named(tmp_path, cifar_root):
    make_fake(tmp_path)
    with (cifar_root / FOLDER / "data_batch_3").open("rb") as f:
        head = f.read(100_000)
    (tmp_path / FOLDER / "data_batch_3").write_bytes(head)
    with pytest.raises(ValueError, match=r"data_batch_3.*cannot read it as a CIFAR-10 batch.*damaged"):
        load_cifar10(tmp_path)


class Exploit:
    def __reduce__(self):
        return os.system, ("echo this must never run",)


def batch(**changes):
    """A pickled two-image batch, with some keys changed (None removes the key)."""
    fields = {"data": np.zeros((2, 3072), np.uint8), "labels": [0, 9], **changes}
    return pickle.dumps({k.encode(): v for k, v in fields.items() if v is not None}, protocol=2)


WRONG_FORMATS = {
    "truncated": (batch()[:-200], "cannot read it"),
    "not-a-pickle": (b"<html>Not found</html>", "cannot read it"),
    "code-in-pickle": (batch(data=Exploit()), r"refusing to load the global \w+\.system"),
    "a-list": (pickle.dumps([1, 2, 3]), "expected a pickled dict"),
    "no-labels": (batch(labels=None), "missing the key 'labels'"),
    "data-shape": (batch(data=np.zeros((2, 3, 32, 32), np.uint8)),
                   r"shape \(2, 3, 32, 32\), wanted \(N, 3072\)"),
    "data-float": (batch(data=np.zeros((2, 3072))), "dtype float64"),
    "data-256": (batch(data=np.full((2, 3072), 256)), "dtype int64, wanted uint8 pixel values"),
    "label-10": (batch(labels=[0, 10]), r"0\.\.10, wanted 0\.\.9"),
    "label-count": (batch(labels=[0]), "wanted 2 integers"),
}


@pytest.mark.parametrize("content, message", WRONG_FORMATS.values(), ids=WRONG_FORMATS.keys())
def test_wrong_format_is_named(tmp_path, content, message):
    make_fake(tmp_path)
    (tmp_path / FOLDER / TEST_FILE).write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        load_cifar10(tmp_path)
    assert str(tmp_path / FOLDER / TEST_FILE) in str(info.value)


def test_data_root(monkeypatch, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path))
    assert data_root(tmp_path / "elsewhere") == tmp_path / "elsewhere"
    assert data_root() == tmp_path
    monkeypatch.delenv("SCRATCHNET_DATA")
    assert str(data_root()) == "datasets"


def test_a_folder_named_by_the_user_must_exist_and_is_never_created(monkeypatch, tmp_path):
    with pytest.raises(DataNotFound, match=r"typo \(from --data-dir\) does not exist"):
        data_root(tmp_path / "typo")
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path / "typo"))
    with pytest.raises(DataNotFound, match=r"\(from SCRATCHNET_DATA\) does not exist"):
        data_root()
    assert not (tmp_path / "typo").exists()


def test_the_batches_folder_itself_means_the_folder_above(tmp_path):
    make_fake(tmp_path)
    assert data_root(tmp_path / FOLDER) == tmp_path


