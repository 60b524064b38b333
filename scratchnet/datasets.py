"""CIFAR-10: find it, download it safely, read it, split it, augment it.

CIFAR-10 (Krizhevsky, 2009; https://www.cs.toronto.edu/~kriz/cifar.html) holds 60,000
colour images of 32 x 32 pixels in 10 classes: 50,000 for training in five batches of
10,000 and 10,000 for testing. The official python release, ``cifar-10-python.tar.gz``,
unpacks to ``cifar-10-batches-py/``: ``data_batch_1`` ... ``data_batch_5`` and
``test_batch``, each a pickled dict with

    data    uint8 (10000, 3072): one image a row, the 1024 red values, then the 1024 green,
            then the 1024 blue, each plane 32 x 32 row-major; so a row reshaped to
            (3, 32, 32) is the image in (C, H, W) order
    labels  10000 ints in 0..9, indices into ``CLASSES``

Images come out of this module as uint8 ``(N, 3, H, W)`` and labels as int64 ``(N,)``;
the trainer turns them into float32 with ``standardize`` batch by batch.

The augmentation follows the TensorFlow CIFAR-10 tutorial that the paper's set-up
follows: training images are randomly cropped to 24 x 24 and flipped left-right half the
time (``random_crop_flip``), test images are cropped at the centre (``center_crop``),
and every image is standardised on its own (``standardize``).

This module knows nothing of layers or models: arrays in, arrays out.
"""

import hashlib
import http.client
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from tqdm import tqdm

CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"


# ----------------------------------------------------------------------------- where

def data_root(data_dir=None):
    """The folder that holds ``cifar-10-batches-py/``.

    ``data_dir`` (the trainer's ``--data-dir``) if given, else the environment variable
    ``SCRATCHNET_DATA``, else ``datasets`` relative to the working directory.
    """
    if data_dir is not None:
        return Path(data_dir)
    return Path(os.environ.get("SCRATCHNET_DATA") or "datasets")


def _how_to_get(root):
    """The sentence every 'no data' error ends with: the ways to get CIFAR-10 into root."""
    return (
        f"To get CIFAR-10: `python -m scratchnet.train` downloads it when there is a "
        f"network (or call scratchnet.datasets.download_cifar10('{root}')); by hand, "
        f"download {CIFAR10_URL} (MD5 {CIFAR10_MD5}) and put it in {root}/, where the next "
        f"run checks and extracts it, or extract it there yourself; or point --data-dir or "
        f"the environment variable SCRATCHNET_DATA at a folder that already holds {FOLDER}/. "
        f"On this project's offline machines, write a stand-in copy with "
        f"`python ../shared/data/cifar10_from_jpeg.py {root}`."
    )


def _missing(root):
    """The batch files that ``root/cifar-10-batches-py/`` lacks (empty when complete)."""
    folder = Path(root) / FOLDER
    return [name for name in TRAIN_FILES + (TEST_FILE,) if not (folder / name).is_file()]


# ----------------------------------------------------------------------------- read

class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds dicts, lists, numbers and NumPy arrays, and nothing else.

    A pickle can name any Python function and have the loader call it, so reading an
    untrusted pickle can run arbitrary code. The CIFAR-10 batches need only NumPy's
    array constructors; every other global is refused.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),   # pickled by NumPy 1 (the official files)
        ("numpy._core.multiarray", "_reconstruct"),  # pickled by NumPy 2
        ("numpy.core.numeric", "_frombuffer"),       # pickle protocol 5
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.multiarray", "scalar"),         # a NumPy number, e.g. in a list of labels
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes an array's bytes in pickle protocol 2
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")
        return super().find_class(module, name)


def _read_batch(path):
    """One batch file -> images uint8 (N, 3, 32, 32), labels int64 (N,).

    The official batches hold N = 10,000 images; any N is read, so small test copies work.
    """
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except Exception as e:  # a damaged pickle can fail in almost any way
        raise ValueError(f"{path}: cannot unpickle it ({type(e).__name__}: {e}); the file "
                         f"is truncated or not a CIFAR-10 batch") from e
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    # Pickled by Python 2 (the official files) the keys are bytes; by Python 3, often str.
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    for key in ("data", "labels"):
        if key not in batch:
            raise ValueError(f"{path}: missing the key {key!r} (has {sorted(map(str, batch))})")
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: data has shape {data.shape}, wanted (N, 3072)")
    if data.dtype.kind not in "iu" or data.size and not 0 <= data.min() <= data.max() <= 255:
        raise ValueError(f"{path}: data has dtype {data.dtype}, wanted uint8 pixel values")
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu":
        raise ValueError(f"{path}: labels have shape {labels.shape} and dtype {labels.dtype}, "
                         f"wanted {len(data)} integers, one per image")
    if len(labels) and not 0 <= labels.min() <= labels.max() < len(CLASSES):
        raise ValueError(f"{path}: labels range over {labels.min()}..{labels.max()}, "
                         f"wanted 0..{len(CLASSES) - 1}")
    return data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32), labels.astype(np.int64)


def load_cifar10(root):
    """Read CIFAR-10 from ``root/cifar-10-batches-py/``.

    Returns ``(x_train, y_train, x_test, y_test)``: images uint8 ``(50000, 3, 32, 32)`` and
    ``(10000, 3, 32, 32)`` in (C, H, W) order, labels int64 in 0..9 (``CLASSES[y]`` names
    the class).

    The files are pickles, the format of the official release. This loader refuses any
    pickle that asks for more than NumPy arrays, but read only files that came from the
    official archive (``download_cifar10`` checks its MD5) or a copy you made yourself.

    Raises FileNotFoundError, saying how to get the data, when a batch file is missing,
    and ValueError naming the file when one is truncated or not a CIFAR-10 batch.
    """
    missing = _missing(root)
    if missing:
        raise FileNotFoundError(f"CIFAR-10 not found: {Path(root) / FOLDER}/ lacks "
                                f"{', '.join(missing)}. {_how_to_get(root)}")
    folder = Path(root) / FOLDER
    x_train, y_train = zip(*(_read_batch(folder / name) for name in TRAIN_FILES))
    x_test, y_test = _read_batch(folder / TEST_FILE)
    return np.concatenate(x_train), np.concatenate(y_train), x_test, y_test


# ----------------------------------------------------------------------------- download

def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url, archive, md5, progress, timeout):
    """Download url to ``archive``; the file appears only once its MD5 is right.

    The bytes go to a hidden temporary file beside ``archive``, which is deleted whatever
    goes wrong (no network, a connection that breaks off, a wrong checksum, Ctrl-C).
    """
    root = archive.parent
    fd, part = tempfile.mkstemp(dir=root, prefix=f".{ARCHIVE}.", suffix=".part")
    try:
        digest, received, expected = hashlib.md5(), 0, None
        with os.fdopen(fd, "wb") as f:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    length = response.headers.get("Content-Length")
                    expected = int(length) if length else None
                    with tqdm(total=expected, unit="B", unit_scale=True, desc=ARCHIVE,
                              disable=not progress) as bar:
                        for chunk in iter(lambda: response.read(1 << 20), b""):
                            f.write(chunk)
                            digest.update(chunk)
                            received += len(chunk)
                            bar.update(len(chunk))
            except urllib.error.HTTPError as e:
                raise ConnectionError(f"Could not download {url}: the server answered "
                                      f"HTTP {e.code} {e.reason}. {_how_to_get(root)}") from e
            except urllib.error.URLError as e:
                raise ConnectionError(f"Could not download {url}: no connection to the server "
                                      f"({e.reason}); is this machine offline? "
                                      f"{_how_to_get(root)}") from e
            except (OSError, http.client.HTTPException) as e:
                raise ConnectionError(f"The download of {url} broke off after {received} "
                                      f"bytes ({type(e).__name__}: {e}); nothing was kept. "
                                      f"Try again. {_how_to_get(root)}") from e
        # urllib treats a server that closes early as the end of the body: count the bytes.
        if expected is not None and received != expected:
            raise ConnectionError(f"The download of {url} broke off: {received} of {expected} "
                                  f"bytes arrived; nothing was kept. Try again. "
                                  f"{_how_to_get(root)}")
        if digest.hexdigest() != md5:
            raise ValueError(f"{url}: MD5 {digest.hexdigest()}, expected {md5}; the download "
                             f"is damaged or not the CIFAR-10 archive, so it was deleted.")
        os.replace(part, archive)
    finally:
        Path(part).unlink(missing_ok=True)


def _check_members(tar):
    """Refuse an archive with a member that could land outside the folder it unpacks into.

    Only regular files and folders are allowed (the official archive has nothing else), so
    no link can point anywhere; names must be relative and free of "..".
    """
    for member in tar.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise ValueError(f"its member {member.name!r} is an absolute path, climbs out "
                             f"with '..', or is not a plain file or folder")


def _extract(archive, root):
    """Unpack ``archive`` into a temporary folder in root, then rename its
    ``cifar-10-batches-py/`` into place (replacing an incomplete one)."""
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{FOLDER}.") as scratch:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                _check_members(tar)
                # Python's own guard as well, where it has one (3.12; backported to 3.8.17+)
                kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(scratch, **kwargs)
            missing = _missing(scratch)
            if missing:
                raise ValueError(f"it has no {FOLDER}/{', '.join(missing)}")
        except (ValueError, tarfile.TarError, EOFError) as e:
            archive.unlink()  # so that no later run extracts it
            raise ValueError(f"{archive}: refused to extract it and deleted it: {e}. It is "
                             f"not the CIFAR-10 python archive.") from e
        target = Path(root) / FOLDER
        if target.exists():
            shutil.rmtree(target)
        os.replace(Path(scratch) / FOLDER, target)


def download_cifar10(root, url=CIFAR10_URL, md5=CIFAR10_MD5, progress=True, timeout=30):
    """Download the CIFAR-10 python archive into ``root`` and extract it there.

    Steps: download ``url`` to a temporary file in ``root`` with a progress bar (skipped
    when ``root/cifar-10-python.tar.gz`` is already there with the right MD5, e.g. put
    there by hand); check the MD5 and only then rename it to ``cifar-10-python.tar.gz``;
    check every member of the archive (no absolute paths, no "..", no links or devices)
    and extract into a temporary folder with tarfile's ``"data"`` filter; rename
    ``cifar-10-batches-py/`` into place, replacing any folder of that name. Whatever
    fails, nothing half-written is left in ``root``. ``timeout`` (seconds) bounds each
    network wait.

    Returns ``root`` as a Path (the folder that ``load_cifar10`` reads).

    Raises ConnectionError when there is no network or the download breaks off (with
    how to get the data by hand), and ValueError for a wrong MD5 or an unsafe or
    wrong archive.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    archive = root / ARCHIVE
    if not (archive.is_file() and _md5(archive) == md5):
        _fetch(url, archive, md5, progress, timeout)
    _extract(archive, root)
    return root


def ensure_cifar10(root, download=True, url=CIFAR10_URL, md5=CIFAR10_MD5):
    """Return ``Path(root)`` once ``root/cifar-10-batches-py/`` holds every batch file,
    downloading it first when it does not (FileNotFoundError if ``download`` is False)."""
    root = Path(root)
    if not _missing(root):
        return root
    if not download:
        raise FileNotFoundError(f"CIFAR-10 not found in {root / FOLDER}/. {_how_to_get(root)}")
    return download_cifar10(root, url=url, md5=md5)


# ----------------------------------------------------------------------------- split

def train_val_split(x, y, val_size, rng):
    """Hold out ``val_size`` random examples for validation.

    Returns ``(x_train, y_train, x_val, y_val)``; the training part keeps the original
    order, so ``val_size=0`` gives back all of ``x`` (and empty validation arrays).
    ``rng`` is a ``np.random.Generator``: the same seed gives the same split.
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"train_val_split: {n} images but {len(y)} labels")
    if not 0 <= val_size < n:
        raise ValueError(f"train_val_split: val_size={val_size}, wanted 0 <= val_size < {n} "
                         f"(the number of examples), so some are left to train on")
    order = rng.permutation(n)
    val, train = order[:val_size], np.sort(order[val_size:])
    return x[train], y[train], x[val], y[val]


# ----------------------------------------------------------------------------- augment

def _check_images(images, size, where):
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        raise ValueError(f"{where}: got {getattr(images, 'shape', type(images).__name__)}, "
                         f"wanted an array of images (N, C, H, W)")
    if not 1 <= size <= min(images.shape[2:]):
        raise ValueError(f"{where}: cannot crop {size} x {size} from images of shape "
                         f"{images.shape}; wanted 1 <= size <= min(H, W)")


def random_crop_flip(images, size, rng):
    """Training augmentation: a random ``size x size`` crop of each image, flipped
    left-right with probability 1/2.

    Each image gets its own offset, uniform over every position where the crop fits, and
    its own coin for the flip; ``rng`` (a ``np.random.Generator``) draws them all, so the
    same seed gives the same batch.

    images (N, C, H, W) of any dtype (uint8 from ``load_cifar10``) -> (N, C, size, size),
    same dtype, a new array.
    """
    _check_images(images, size, "random_crop_flip")
    N, C, H, W = images.shape
    top = rng.integers(0, H - size + 1, N)
    left = rng.integers(0, W - size + 1, N)
    flip = rng.random(N) < 0.5
    # windows[n, c, i, j] is the size x size view whose top-left corner is (i, j)
    windows = np.lib.stride_tricks.sliding_window_view(images, (size, size), axis=(2, 3))
    out = windows[np.arange(N), :, top, left]
    out[flip] = out[flip, :, :, ::-1]
    return out


def center_crop(images, size):
    """Test-time crop: the central ``size x size`` of each image, the extra row or column
    of an odd margin going to the bottom and right (as TensorFlow's
    ``resize_image_with_crop_or_pad``).

    images (N, C, H, W) -> (N, C, size, size), a view of ``images``.
    """
    _check_images(images, size, "center_crop")
    top, left = (images.shape[2] - size) // 2, (images.shape[3] - size) // 2
    return images[:, :, top:top + size, left:left + size]


def standardize(images):
    """Per-image standardisation, as TensorFlow's ``per_image_standardization``:

        x' = (x - mean(x)) / max(std(x), 1 / sqrt(C * H * W))

    with the mean and standard deviation over all pixels and channels of one image. The
    floor on the divisor keeps a constant image finite (it becomes all zeros).

    images (N, C, H, W), any real dtype -> float32 (N, C, H, W).
    """
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        raise ValueError(f"standardize: got {getattr(images, 'shape', type(images).__name__)}, "
                         f"wanted an array of images (N, C, H, W)")
    x = images.astype(np.float32)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = x.std(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / np.maximum(std, np.float32(1 / np.sqrt(np.prod(x.shape[1:]))))
