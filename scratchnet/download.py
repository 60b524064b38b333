"""Downloading CIFAR-10: the official archive, checked before anything is kept.

``ensure_cifar10(root)`` returns ``root`` once ``root/cifar-10-batches-py/`` is complete,
downloading and extracting the archive first when it is not. Whatever fails (no network,
a connection that breaks off or stalls, a wrong checksum, an unsafe archive, Ctrl-C),
nothing half-written is left behind: the download goes to a hidden ``.part`` file and the
extraction to a hidden folder, each renamed into place only when whole, and those left by
a process that was killed are removed by the next run.
"""

import hashlib
import http.client
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from scratchnet.cifar10 import (
    ARCHIVE,
    CIFAR10_MD5,
    CIFAR10_URL,
    DEFAULT_ROOT,
    FOLDER,
    how_to_get,
    missing_files,
    not_found,
    what_is_missing,
)
from scratchnet.files import remove_stale_temporaries


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url, archive, md5, progress, timeout, deadline):
    """Download url to ``archive``; the file appears only once its MD5 is right.

    The bytes go to a hidden temporary file beside ``archive``, which is deleted whatever
    goes wrong (no network, a connection that breaks off, a wrong checksum, Ctrl-C).
    ``timeout`` bounds each wait for the server, ``deadline`` (seconds) the whole download:
    a server that sends a byte a second would otherwise hold it forever.
    """
    root = archive.parent
    part = root / f".{ARCHIVE}.{os.getpid()}.part"
    started = time.monotonic()
    try:
        digest, received, expected = hashlib.md5(), 0, None
        with open(part, "wb") as f:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    length = response.headers.get("Content-Length")
                    expected = int(length) if length else None
                    with tqdm(total=expected, unit="B", unit_scale=True, desc=ARCHIVE,
                              disable=not progress) as bar:
                        # read1: what has arrived (read() would wait for 64 kB, at a byte a second 18 hours)
                        for chunk in iter(lambda: response.read1(1 << 16), b""):
                            if time.monotonic() - started > deadline:
                                raise TimeoutError(f"the download took more than {deadline:.0f} s")
                            f.write(chunk)
                            digest.update(chunk)
                            received += len(chunk)
                            bar.update(len(chunk))
            except urllib.error.HTTPError as e:
                raise ConnectionError(f"Could not download {url}: the server answered "
                                      f"HTTP {e.code} {e.reason}. {how_to_get(root)}") from e
            except urllib.error.URLError as e:
                raise ConnectionError(f"Could not download {url}: no connection to the server "
                                      f"({e.reason}); is this machine offline? "
                                      f"{how_to_get(root)}") from e
            except TimeoutError as e:
                raise ConnectionError(f"The download of {url} was too slow and was stopped after "
                                      f"{received} bytes ({e}); nothing was kept. Try again later. "
                                      f"{how_to_get(root)}") from None
            except (OSError, http.client.HTTPException) as e:
                raise ConnectionError(f"The download of {url} broke off after {received} "
                                      f"bytes ({type(e).__name__}: {e}); nothing was kept. "
                                      f"Try again. {how_to_get(root)}") from e
        # urllib treats a server that closes early as the end of the body: count the bytes.
        if expected is not None and received != expected:
            raise ConnectionError(f"The download of {url} broke off: {received} of {expected} "
                                  f"bytes arrived; nothing was kept. Try again. "
                                  f"{how_to_get(root)}")
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
    scratch = Path(root) / f".{FOLDER}.{os.getpid()}.tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                _check_members(tar)
                # Python's own guard as well, where it has one (3.12; backported to 3.8.17+)
                kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(scratch, **kwargs)
            missing = missing_files(scratch)
            if missing:
                raise ValueError(f"it has no {FOLDER}/{', '.join(missing)}")
        except (ValueError, tarfile.TarError, EOFError) as e:
            archive.unlink()  # so that no later run extracts it
            raise ValueError(f"{archive}: refused to extract it and deleted it: {e}. It is "
                             f"not the CIFAR-10 python archive.") from e
        target = Path(root) / FOLDER
        if target.exists():
            shutil.rmtree(target)
        os.replace(scratch / FOLDER, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def download_cifar10(root, url=CIFAR10_URL, md5=CIFAR10_MD5, progress=True, timeout=30, deadline=3600):
    """Download the CIFAR-10 python archive into ``root`` and extract it there.

    Steps: download ``url`` to a temporary file in ``root`` with a progress bar (skipped
    when ``root/cifar-10-python.tar.gz`` is already there with the right MD5, e.g. put
    there by hand); check the MD5 and only then rename it to ``cifar-10-python.tar.gz``;
    check every member of the archive (no absolute paths, no "..", no links or devices)
    and extract into a temporary folder with tarfile's ``"data"`` filter; rename
    ``cifar-10-batches-py/`` into place, replacing any folder of that name. Whatever
    fails, nothing half-written is left in ``root``. ``timeout`` (seconds) bounds each
    network wait, ``deadline`` the whole download.

    Returns ``root`` as a Path (the folder that ``load_cifar10`` reads).

    Raises ConnectionError when there is no network or the download breaks off (with
    how to get the data by hand), and ValueError for a wrong MD5 or an unsafe or
    wrong archive.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(root)
    archive = root / ARCHIVE
    if not (archive.is_file() and _md5(archive) == md5):
        _fetch(url, archive, md5, progress, timeout, deadline)
    _extract(archive, root)
    return root


def ensure_cifar10(root, download=True, **options):
    """Return ``Path(root)`` once ``root/cifar-10-batches-py/`` holds every batch file,
    downloading it first when it does not (``DataNotFound`` if ``download`` is False).

    Only the default folder (``datasets``) is created for a download: a folder the user
    named must exist already (``scratchnet.cifar10.data_root`` checks it).
    """
    root = Path(root)
    remove_stale_temporaries(root)  # a download or an extraction cut short by kill -9
    if not missing_files(root):
        return root
    if not download or not (root.is_dir() or root == DEFAULT_ROOT):
        raise not_found(root)
    try:
        return download_cifar10(root, **options)
    except (ConnectionError, ValueError) as error:  # say what was missing, then why the download failed
        raise type(error)(f"CIFAR-10 not found: {what_is_missing(root)}. {error}") from None
