"""Tests for scratchnet/datasets.py: the loader (on the real copy and on tiny fakes), the
download from a local HTTP server (success, bad checksum, broken connection, unsafe
archive, no network), the train/validation split and the augmentation."""

import hashlib
import http.server
import io
import os
import pickle
import socket
import tarfile
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet.datasets import (
    ARCHIVE, CIFAR10_URL, CLASSES, FOLDER, TEST_FILE, TRAIN_FILES, center_crop, data_root,
    download_cifar10, ensure_cifar10, load_cifar10, random_crop_flip, standardize,
    train_val_split,
)


def make_fake(root, n=3, seed=0, str_keys=False, protocol=2):
    """Write a tiny CIFAR-10 (n images a batch) in the official layout under root.

    Returns the arrays load_cifar10 should give back. The rows are built from (H, W, C)
    images straight from the format's definition: the red plane, the green plane, then
    the blue plane, each 32 x 32 row-major.
    """
    rng = np.random.default_rng(seed)
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name in TRAIN_FILES + (TEST_FILE,):
        hwc = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, n)
        data = np.concatenate([hwc[:, :, :, c].reshape(n, 1024) for c in range(3)], axis=1)
        batch = {b"batch_label": name.encode(), b"labels": labels.tolist(), b"data": data}
        if str_keys:
            batch = {key.decode(): value for key, value in batch.items()}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        arrays[name] = hwc.transpose(0, 3, 1, 2), labels
    x_train = np.concatenate([arrays[name][0] for name in TRAIN_FILES])
    y_train = np.concatenate([arrays[name][1] for name in TRAIN_FILES])
    return x_train, y_train, *arrays[TEST_FILE]


def assert_same(loaded, expected):
    for got, want in zip(loaded, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert [a.dtype for a in loaded] == [np.uint8, np.int64, np.uint8, np.int64]


# ----------------------------------------------------------------------------- loader

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


def test_missing_folder_says_how_to_get_the_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="SCRATCHNET_DATA") as info:
        load_cifar10(tmp_path)
    assert "data_batch_1" in str(info.value) and CIFAR10_URL in str(info.value)
    assert "--data-dir" in str(info.value) and "cifar10_from_jpeg" in str(info.value)


def test_truncated_real_file_is_named(tmp_path, cifar_root):
    make_fake(tmp_path)
    with (cifar_root / FOLDER / "data_batch_3").open("rb") as f:
        head = f.read(100_000)
    (tmp_path / FOLDER / "data_batch_3").write_bytes(head)
    with pytest.raises(ValueError, match=r"data_batch_3.*cannot unpickle.*truncated"):
        load_cifar10(tmp_path)


class Exploit:
    def __reduce__(self):
        return os.system, ("echo this must never run",)


def batch(**changes):
    """A pickled two-image batch, with some keys changed (None removes the key)."""
    fields = {"data": np.zeros((2, 3072), np.uint8), "labels": [0, 9], **changes}
    return pickle.dumps({k.encode(): v for k, v in fields.items() if v is not None}, protocol=2)


WRONG_FORMATS = {
    "truncated": (batch()[:-200], "cannot unpickle"),
    "not-a-pickle": (b"<html>Not found</html>", "cannot unpickle"),
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
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path))
    assert str(data_root("elsewhere")) == "elsewhere"
    assert data_root() == tmp_path
    monkeypatch.delenv("SCRATCHNET_DATA")
    assert str(data_root()) == "datasets"


# ----------------------------------------------------------------------------- download

class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``; a path starting /broken promises more bytes than it sends."""

    timeout = 5  # no socket read of the server waits longer than this

    def do_GET(self):
        body = self.server.files.get(self.path.removeprefix("/broken"))
        if body is None:
            self.send_error(404)
            return
        broken = self.path.startswith("/broken")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + 1000 * broken))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2] if broken else body)
        # then the handler returns and the server closes the connection (HTTP/1.0)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """An HTTP server on a free port of 127.0.0.1, in a thread, shut down after the test."""
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    httpd.files = {}
    httpd.url = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: the connection is refused, as offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/{ARCHIVE}"


def tar_gz(source, extra=()):
    """The bytes of a .tar.gz holding source/cifar-10-batches-py/ and the extra members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        if source is not None:
            tar.add(source / FOLDER, arcname=FOLDER)
        for member, content in extra:
            tar.addfile(member, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


@pytest.fixture
def served(server, tmp_path):
    """A tiny CIFAR-10 archive on the server: (url, md5, the arrays it holds)."""
    expected = make_fake(tmp_path / "source")
    archive = tar_gz(tmp_path / "source")
    server.files[f"/{ARCHIVE}"] = archive
    return f"{server.url}/{ARCHIVE}", hashlib.md5(archive).hexdigest(), expected


def leftovers(root):
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_download_checks_extracts_and_loads(tmp_path, served):
    url, md5, expected = served
    root = tmp_path / "data"
    assert download_cifar10(root, url=url, md5=md5, progress=False, timeout=5) == root
    assert_same(load_cifar10(root), expected)
    assert leftovers(root) == sorted([ARCHIVE, FOLDER])


def test_ensure_downloads_only_what_is_missing(tmp_path, served):
    url, md5, expected = served
    root = tmp_path / "data"
    with pytest.raises(FileNotFoundError, match="SCRATCHNET_DATA"):
        ensure_cifar10(root, download=False, url=url, md5=md5)
    (root / FOLDER).mkdir(parents=True)
    (root / FOLDER / "data_batch_1").write_bytes(b"an incomplete copy, replaced")
    assert ensure_cifar10(root, url=url, md5=md5) == root
    assert_same(load_cifar10(root), expected)
    # complete now: no network needed
    assert ensure_cifar10(root, url=closed_port_url(), md5=md5) == root


def test_archive_put_there_by_hand_is_extracted_offline(tmp_path, served):
    url, md5, expected = served
    root = tmp_path / "data"
    root.mkdir()
    archive = tar_gz(tmp_path / "source")
    (root / ARCHIVE).write_bytes(archive)
    download_cifar10(root, url=closed_port_url(), md5=hashlib.md5(archive).hexdigest(),
                     progress=False, timeout=5)
    assert_same(load_cifar10(root), expected)


def test_bad_checksum_leaves_nothing(tmp_path, served):
    url, md5, _ = served
    root = tmp_path / "data"
    with pytest.raises(ValueError, match=f"MD5 {md5}, expected 0{{32}}"):
        download_cifar10(root, url=url, md5="0" * 32, progress=False, timeout=5)
    assert leftovers(root) == []


def test_broken_connection_leaves_nothing(tmp_path, served):
    url, md5, _ = served
    root = tmp_path / "data"
    url = url.replace(f"/{ARCHIVE}", f"/broken/{ARCHIVE}")
    with pytest.raises(ConnectionError, match="broke off"):
        download_cifar10(root, url=url, md5=md5, progress=False, timeout=5)
    assert leftovers(root) == []


def test_no_network_says_what_to_do(tmp_path):
    root = tmp_path / "data"
    with pytest.raises(ConnectionError, match="no connection") as info:
        download_cifar10(root, url=closed_port_url(), progress=False, timeout=5)
    message = str(info.value)
    assert CIFAR10_URL in message and "SCRATCHNET_DATA" in message and "--data-dir" in message
    assert leftovers(root) == []


def test_http_error_is_reported(tmp_path, server):
    with pytest.raises(ConnectionError, match="HTTP 404"):
        download_cifar10(tmp_path, url=f"{server.url}/nothing-here", progress=False, timeout=5)
    assert leftovers(tmp_path) == []


def member(name, kind=tarfile.REGTYPE, linkname="", size=0):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, size
    return info


UNSAFE = {
    "dot-dot": (member(f"{FOLDER}/../../evil.txt", size=4), b"evil"),
    "absolute": (member("/tmp/scratchnet-test-evil.txt", size=4), b"evil"),
    "symlink-out": (member(f"{FOLDER}/evil", tarfile.SYMTYPE, "../../evil.txt"), None),
    "hardlink-out": (member(f"{FOLDER}/evil", tarfile.LNKTYPE, "/etc/passwd"), None),
}


@pytest.mark.parametrize("extra", UNSAFE.values(), ids=UNSAFE.keys())
def test_member_escaping_the_folder_is_refused(tmp_path, server, extra):
    make_fake(tmp_path / "source")
    archive = tar_gz(tmp_path / "source", [extra])
    server.files["/evil.tar.gz"] = archive
    root = tmp_path / "a" / "data"
    with pytest.raises(ValueError, match=r"refused.*evil"):
        download_cifar10(root, url=f"{server.url}/evil.tar.gz",
                         md5=hashlib.md5(archive).hexdigest(), progress=False, timeout=5)
    assert leftovers(root) == []
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "a" / "evil.txt").exists()
    assert not os.path.exists("/tmp/scratchnet-test-evil.txt")


def test_archive_without_cifar_is_refused(tmp_path, server):
    archive = tar_gz(None, [(member("readme.txt", size=2), b"hi")])
    server.files["/other.tar.gz"] = archive
    root = tmp_path / "data"
    with pytest.raises(ValueError, match="has no cifar-10-batches-py/data_batch_1"):
        download_cifar10(root, url=f"{server.url}/other.tar.gz",
                         md5=hashlib.md5(archive).hexdigest(), progress=False, timeout=5)
    assert leftovers(root) == []


# ----------------------------------------------------------------------------- split

@given(n=st.integers(1, 40), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_split_partitions_and_is_seeded(n, data, seed):
    val_size = data.draw(st.integers(0, n - 1), label="val_size")
    x = np.arange(n)[:, None, None, None] * np.ones((1, 3, 2, 2), np.uint8)
    y = np.arange(n) % 10
    x_train, y_train, x_val, y_val = train_val_split(x, y, val_size, np.random.default_rng(seed))
    assert len(x_val) == len(y_val) == val_size and len(x_train) == len(y_train) == n - val_size
    ids_train, ids_val = x_train[:, 0, 0, 0], x_val[:, 0, 0, 0]
    assert sorted(np.concatenate([ids_train, ids_val]).tolist()) == list(range(n))
    np.testing.assert_array_equal(y_train, ids_train % 10)  # labels travel with their images
    np.testing.assert_array_equal(y_val, ids_val % 10)
    assert (np.diff(ids_train) > 0).all()  # training part keeps the original order
    again = train_val_split(x, y, val_size, np.random.default_rng(seed))
    np.testing.assert_array_equal(again[2], x_val)


def test_split_zero_and_too_large():
    x, y = np.zeros((5, 3, 2, 2), np.uint8), np.arange(5)
    x_train, y_train, x_val, y_val = train_val_split(x, y, 0, np.random.default_rng(0))
    np.testing.assert_array_equal(y_train, y)
    assert x_val.shape == (0, 3, 2, 2) and y_val.shape == (0,)
    for bad in (5, 6, -1):
        with pytest.raises(ValueError, match=f"val_size={bad}"):
            train_val_split(x, y, bad, np.random.default_rng(0))
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        train_val_split(x, y[:4], 1, np.random.default_rng(0))


def test_split_differs_between_seeds():
    x, y = np.zeros((100, 1, 1, 1), np.uint8), np.arange(100)
    val_a = train_val_split(x, y, 10, np.random.default_rng(0))[3]
    val_b = train_val_split(x, y, 10, np.random.default_rng(1))[3]
    assert set(val_a) != set(val_b)


# ----------------------------------------------------------------------------- augmentation

def coordinate_images(n, h, w, rng):
    """uint8 (n, 3, h, w): channel 0 holds each pixel's row, channel 1 its column, channel 2
    random values, so a crop tells where it came from and whether it was flipped."""
    rows, cols = np.indices((h, w))
    images = np.empty((n, 3, h, w), np.uint8)
    images[:, 0], images[:, 1] = rows, cols
    images[:, 2] = rng.integers(0, 256, (n, h, w))
    return images


def crop_origin(out):
    """(top, left, flipped) of every crop of coordinate images."""
    top, left = out[:, 0, 0, 0], out[:, 1, 0, :].min(axis=1)
    return top, left, out[:, 1, 0, 0] > out[:, 1, 0, -1]


@given(n=st.integers(1, 6), h=st.integers(1, 12), w=st.integers(1, 12), data=st.data(),
       seed=st.integers(0, 2**32 - 1))
def test_random_crop_flip_is_a_crop_in_bounds_maybe_flipped(n, h, w, data, seed):
    size = data.draw(st.integers(1, min(h, w)), label="size")
    images = coordinate_images(n, h, w, np.random.default_rng(seed))
    out = random_crop_flip(images, size, np.random.default_rng(seed))
    assert out.shape == (n, 3, size, size) and out.dtype == np.uint8
    for i, (top, left, flipped) in enumerate(zip(*crop_origin(out))):
        assert 0 <= top <= h - size and 0 <= left <= w - size
        crop = images[i, :, top:top + size, left:left + size]
        np.testing.assert_array_equal(out[i], crop[:, :, ::-1] if flipped else crop)
    np.testing.assert_array_equal(random_crop_flip(images, size, np.random.default_rng(seed)), out)


def test_random_crop_flip_statistics():
    images = coordinate_images(4000, 32, 32, np.random.default_rng(0))
    out = random_crop_flip(images, 24, np.random.default_rng(1))
    top, left, flipped = crop_origin(out)
    assert 0.45 < flipped.mean() < 0.55
    assert set(top.tolist()) == set(left.tolist()) == set(range(9))  # every offset is used
    other = random_crop_flip(images, 24, np.random.default_rng(2))
    assert not np.array_equal(out, other)


def test_flip_really_flips():
    image = np.arange(12, dtype=np.uint8).reshape(1, 1, 3, 4)
    out = random_crop_flip(np.repeat(image, 64, axis=0), 3, np.random.default_rng(0))
    cropped = [image[0, :, :, j:j + 3] for j in (0, 1)]
    flipped = [crop[:, :, ::-1] for crop in cropped]
    kinds = [[np.array_equal(o, c) for c in cropped + flipped].index(True) for o in out]
    assert set(kinds) == {0, 1, 2, 3}
    assert flipped[0].tolist() == [[[2, 1, 0], [6, 5, 4], [10, 9, 8]]]


def test_center_crop_exact():
    images = coordinate_images(2, 32, 32, np.random.default_rng(0))
    out = center_crop(images, 24)
    np.testing.assert_array_equal(out, images[:, :, 4:28, 4:28])
    assert out.shape == (2, 3, 24, 24) and out[0, 0, 0, 0] == 4 and out[0, 1, 0, 0] == 4


@given(h=st.integers(1, 12), w=st.integers(1, 12), data=st.data())
def test_center_crop_margins_balance(h, w, data):
    size = data.draw(st.integers(1, min(h, w)), label="size")
    images = coordinate_images(1, h, w, np.random.default_rng(0))
    top, left, flipped = crop_origin(center_crop(images, size))
    bottom, right = h - size - top[0], w - size - left[0]
    assert 0 <= bottom - top[0] <= 1 and 0 <= right - left[0] <= 1 and not flipped[0]


@given(n=st.integers(1, 4), c=st.integers(1, 3), h=st.integers(1, 8), w=st.integers(1, 8),
       seed=st.integers(0, 2**32 - 1), high=st.sampled_from([1, 2, 256]))
def test_standardize_matches_the_formula(n, c, h, w, seed, high):
    images = np.random.default_rng(seed).integers(0, high, (n, c, h, w)).astype(np.uint8)
    out = standardize(images)
    assert out.dtype == np.float32 and out.shape == images.shape
    x = images.astype(np.float64)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = x.std(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.maximum(std, 1 / np.sqrt(c * h * w)),
                               rtol=1e-5, atol=1e-5)


def test_standardize_mean_zero_std_one_and_constant_safe():
    images = np.random.default_rng(0).integers(0, 256, (8, 3, 24, 24)).astype(np.uint8)
    images[3] = 7  # a constant image
    out = standardize(images)
    assert np.isfinite(out).all() and (out[3] == 0).all()
    others = np.delete(out, 3, axis=0)
    np.testing.assert_allclose(others.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(others.std(axis=(1, 2, 3)), 1, rtol=1e-5)
    assert standardize(np.array([[[[0, 2]]]], np.uint8)).tolist() == [[[[-1.0, 1.0]]]]


def test_augmentation_refuses_bad_input():
    images = np.zeros((2, 3, 32, 32), np.uint8)
    with pytest.raises(ValueError, match=r"random_crop_flip: got \(3, 32, 32\), wanted .*\(N, C"):
        random_crop_flip(images[0], 24, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"center_crop: cannot crop 33 x 33 .*\(2, 3, 32, 32\)"):
        center_crop(images, 33)
    with pytest.raises(ValueError, match="random_crop_flip: cannot crop 0 x 0"):
        random_crop_flip(images, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"standardize: got \(32, 32\)"):
        standardize(images[0, 0])
