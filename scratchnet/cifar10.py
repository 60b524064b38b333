"""CIFAR-10 on disk: where it is, and reading it safely.

CIFAR-10 (Krizhevsky, 2009; https://www.cs.toronto.edu/~kriz/cifar.html) holds 60,000
colour images of 32 x 32 pixels in 10 classes: 50,000 for training in five batches of
10,000 and 10,000 for testing. The official python release, ``cifar-10-python.tar.gz``,
unpacks to ``cifar-10-batches-py/``: ``data_batch_1`` ... ``data_batch_5`` and
``test_batch``, each a pickled dict with

    data    uint8 (10000, 3072): one image a row, the 1024 red values, then the 1024 green,
            then the 1024 blue, each plane 32 x 32 row-major; so a row reshaped to
            (3, 32, 32) is the image in (C, H, W) order
    labels  10000 ints in 0..9, indices into ``CLASSES``

Images come out of this module as uint8 ``(N, 3, H, W)`` and labels as int64 ``(N,)``.
Every batch file the package opens is opened here, by the restricted unpickler below:
nothing else in scratchnet unpickles. ``scratchnet.download`` fetches the archive;
``scratchnet.transforms`` crops, flips and standardises.
"""

import os
import pickle
from pathlib import Path

import numpy as np

CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_SIZE = "163 MB"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
DEFAULT_ROOT = Path("datasets")


class DataNotFound(FileNotFoundError):
    """CIFAR-10 is not where scratchnet looked; the message says where and how to get it."""


# ----------------------------------------------------------------------------- where

def data_root(data_dir=None):
    """The folder that holds ``cifar-10-batches-py/``.

    ``data_dir`` (a command's ``--data-dir``) if given, else the environment variable
    ``SCRATCHNET_DATA``, else ``datasets`` in the working directory. A folder named by the
    user must exist (a typo is an error, never a new empty folder); one that is
    ``cifar-10-batches-py/`` itself is taken to mean the folder above it.
    """
    named, source = (data_dir, "--data-dir") if data_dir is not None else \
        (os.environ.get("SCRATCHNET_DATA"), "SCRATCHNET_DATA")
    if not named:
        return DEFAULT_ROOT
    root = Path(named)
    if root.name == FOLDER and root.is_dir():
        return root.parent
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        raise DataNotFound(f"the data folder {root} (from {source}) {what}; correct {source}, or point it "
                           f"at the folder that holds {FOLDER}/")
    return root


def how_to_get(root):
    """The two ways to get CIFAR-10 into ``root``: every 'no data' message ends with them."""
    return (f"Either download {CIFAR10_URL} ({CIFAR10_SIZE}, MD5 {CIFAR10_MD5}) into {root}/ (python -m "
            f"scratchnet.train does it for you when there is a network), or point --data-dir or "
            f"SCRATCHNET_DATA at a folder that holds {FOLDER}/.")


def missing_files(root):
    """The batch files that ``root/cifar-10-batches-py/`` lacks (empty when complete)."""
    folder = Path(root) / FOLDER
    return [name for name in TRAIN_FILES + (TEST_FILE,) if not (folder / name).is_file()]


def what_is_missing(root):
    """Where scratchnet looked and what it did not find there, in words."""
    folder = Path(root) / FOLDER
    missing = missing_files(root)
    if not folder.is_dir():
        return f"{folder}/ does not exist"
    if len(missing) == len(TRAIN_FILES) + 1:
        return f"{folder}/ holds none of its batch files"
    return f"{folder}/ lacks {', '.join(missing)}"


def not_found(root):
    """The DataNotFound for ``root``: where scratchnet looked, what is missing, how to fix it."""
    return DataNotFound(f"CIFAR-10 not found: {what_is_missing(root)}. {how_to_get(root)}")


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


def _unpickle(path):
    """A batch file as a dict with str keys, through the restricted unpickler."""
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except Exception as e:  # a damaged pickle can fail in almost any way
        raise ValueError(f"{path}: cannot read it as a CIFAR-10 batch ({type(e).__name__}: {e}); "
                         f"the file is damaged or not from the CIFAR-10 archive: download it again") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(batch).__name__}; "
                         f"the file is not a CIFAR-10 batch: download it again")
    # Pickled by Python 2 (the official files) the keys are bytes; by Python 3, often str.
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _read_batch(path):
    """One batch file -> images uint8 (N, 3, 32, 32), labels int64 (N,).

    The official batches hold N = 10,000 images; any N is read, so small test copies work.
    """
    batch = _unpickle(path)
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

    Raises DataNotFound (a FileNotFoundError), saying how to get the data, when a batch file is missing,
    and ValueError naming the file when one is truncated or not a CIFAR-10 batch.
    """
    if missing_files(root):
        raise not_found(root)
    folder = Path(root) / FOLDER
    x_train, y_train = zip(*(_read_batch(folder / name) for name in TRAIN_FILES))
    x_test, y_test = _read_batch(folder / TEST_FILE)
    return np.concatenate(x_train), np.concatenate(y_train), x_test, y_test


def provenance(root):
    """Which copy of CIFAR-10 ``root`` holds: the official release names its images *.png,
    the JPEG-decoded stand-in *.jpg. Read from the test batch's file names."""
    names = _unpickle(Path(root) / FOLDER / TEST_FILE).get("filenames", [])
    name = names[0] if len(names) else b""
    if (name.decode() if isinstance(name, bytes) else str(name)).endswith(".jpg"):
        return "a JPEG-decoded copy of CIFAR-10 (pixels close to, not equal to, the official release)"
    return "the official CIFAR-10 python release"
