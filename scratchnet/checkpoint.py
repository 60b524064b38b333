"""Checkpoints: a model's parameters, the optimiser's state and JSON metadata in one ``.npz``.

Layout of the file (a zip of ``.npy`` arrays, readable with ``np.load(allow_pickle=False)``):

    "param/<name>"    one array per model parameter, e.g. "param/conv1.W"
    "optim/<name>"    one array per optimiser state entry, e.g. "optim/velocity/conv1.W"
    "metadata_json"   a 0-d unicode array holding a JSON object: "format_version" plus
                      whatever the trainer records (model name and configuration, epoch,
                      step, random generator states, normalisation settings, ...)

No pickles: a pickled object runs code when loaded and breaks when the class that made it
changes, while arrays and JSON text read the same in any version of NumPy or Python.

``save`` writes through ``scratchnet.files.atomic_write`` (a temporary file beside the target,
renamed into place), so a crash, a full disk or Ctrl-C halfway leaves the previous checkpoint whole.
"""

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet import files
from scratchnet.optim import check_same_arrays

FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """What ``load`` returns: arrays keyed by parameter / state name, and the metadata dict."""

    params: dict
    optimizer_state: dict
    metadata: dict


def save(path, params, optimizer_state, metadata):
    """Write one checkpoint to ``path`` atomically (the name is used as given, folder created).

    params, optimizer_state:  dicts name -> np.ndarray (numeric, not object arrays).
    metadata:                 a JSON-serialisable dict; "format_version" is added.
    """
    path = Path(path)
    if not isinstance(metadata, dict):
        raise ValueError(f"checkpoint.save: metadata must be a dict, got {type(metadata).__name__}")
    try:
        metadata_json = json.dumps({**metadata, "format_version": FORMAT_VERSION})
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"checkpoint.save: metadata is not JSON-serialisable ({error}); store plain "
            "Python values (int(x), float(x), x.tolist() for NumPy values)"
        ) from error
    arrays = {f"param/{name}": np.asarray(value) for name, value in params.items()}
    arrays.update({f"optim/{name}": np.asarray(value) for name, value in optimizer_state.items()})
    for key, value in arrays.items():
        if value.dtype.kind not in "biuf":
            raise ValueError(f"checkpoint.save: {key!r} has dtype {value.dtype}; "
                             "only numeric arrays are stored")
    arrays["metadata_json"] = np.array(metadata_json)

    path.parent.mkdir(parents=True, exist_ok=True)
    # Through a file object, because np.savez appends ".npz" to a bare file name.
    with files.atomic_write(path) as file:
        np.savez(file, **arrays)


def load(path):
    """Read a checkpoint written by ``save``; refuse anything else with a clear ValueError."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint.load: no checkpoint at {path}; name a run's folder or its "
                                "checkpoint.npz (python -m scratchnet.train writes one every epoch)")

    def not_ours(problem):
        return ValueError(
            f"checkpoint.load: {path} is not a scratchnet checkpoint: {problem}. Pass a file "
            "written by scratchnet.checkpoint.save (python -m scratchnet.train writes one every epoch)"
        )

    with open(path, "rb") as file:
        if file.read(4) != b"PK\x03\x04":  # how every zip, and so every .npz, begins
            raise not_ours("it is not an .npz (zip) archive")
    try:
        _check_sizes(path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"checkpoint.load: {path} is damaged (truncated or corrupt: {error}); "
            "use another checkpoint, or train again to write a new one"
        ) from error

    if "metadata_json" not in arrays:
        raise not_ours("it holds no 'metadata_json' entry")
    metadata_json = arrays.pop("metadata_json")
    try:
        metadata = json.loads(str(metadata_json[()]))
    except (ValueError, IndexError) as error:
        raise not_ours(f"its metadata is not valid JSON ({error})") from error
    if not isinstance(metadata, dict) or "format_version" not in metadata:
        raise not_ours("its metadata has no 'format_version'")
    version = metadata["format_version"]
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise ValueError(
            f"checkpoint.load: {path} has format version {version}, written by a newer version "
            f"of scratchnet than this one (which reads version {FORMAT_VERSION}); upgrade scratchnet"
        )
    if version != FORMAT_VERSION:
        raise not_ours(f"unknown format version {version!r} (this one reads {FORMAT_VERSION})")

    unexpected = sorted(key for key in arrays if not key.startswith(("param/", "optim/")))
    if unexpected:
        raise not_ours(f"unexpected entries {unexpected}")
    params = {key[len("param/"):]: value for key, value in arrays.items() if key.startswith("param/")}
    optimizer_state = {key[len("optim/"):]: value for key, value in arrays.items()
                       if key.startswith("optim/")}
    return Checkpoint(params, optimizer_state, metadata)


def _check_sizes(path):
    """Refuse an entry whose header claims more bytes than the file holds, before allocating them.

    Each ``.npy`` entry starts with a header giving its shape and dtype; a damaged or crafted
    file could claim gigabytes in a few bytes, and ``np.load`` would try to allocate them.
    """
    with zipfile.ZipFile(path) as archive:
        for entry in archive.infolist():
            with archive.open(entry) as file:
                version = np.lib.format.read_magic(file)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(file)
                header = file.tell()
            claimed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            if claimed > entry.file_size - header:
                raise ValueError(f"its entry {entry.filename!r} claims {claimed:,} bytes but holds "
                                 f"{entry.file_size - header:,}")


def restore(checkpoint, params, model_name=None):
    """Copy ``checkpoint.params`` into ``params`` in place, after checking that they fit.

    ``params`` is a model's dict name -> array; each array keeps its identity (the optimiser
    holds the same arrays). Refused, with nothing modified, unless the key sets, shapes and
    dtypes match and, when ``model_name`` is given, ``checkpoint.metadata["model"]`` equals it.
    """
    if model_name is not None and checkpoint.metadata.get("model") != model_name:
        raise ValueError(
            f"checkpoint.restore: the checkpoint holds model {checkpoint.metadata.get('model')!r}, "
            f"but model {model_name!r} was asked for"
        )
    saved = checkpoint.params
    check_same_arrays(saved, params, "checkpoint.restore", "the checkpoint's parameter", "the model's",
                      dtypes=True)
    for name, value in params.items():
        value[...] = saved[name]
