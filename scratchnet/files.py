"""Writing files so that a reader never sees half of one: every file scratchnet writes comes here.

A file is written to a temporary name beside its target, flushed to disk, and renamed into
place. ``os.replace`` is atomic when both names are in one folder, so a crash, a full disk,
Ctrl-C or a browser reloading a page mid-write sees either the old file or the new one,
never a mixture. The temporary name carries the writer's process id
(``.NAME.PID.tmp``): a temporary left behind by a process that was killed (kill -9 leaves
no chance to clean up) is recognised and removed by ``remove_stale_temporaries``.
"""

import contextlib
import json
import os
import re
import shutil
from pathlib import Path

_TEMPORARY = re.compile(r"^\..+\.(\d+)\.(tmp|part)$")


def temporary_name(path):
    """The hidden name ``path`` is written under before the rename: ``.NAME.PID.tmp``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """``with atomic_write(path) as file:`` writes ``file``; ``path`` appears only if the block succeeds.

    ``mode`` is ``"wb"`` or ``"w"`` (text, UTF-8, ``\\n`` line ends). The folder must exist.
    """
    path = Path(path)
    temporary = temporary_name(path)
    try:
        with open(temporary, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(temporary, path)
    except BaseException:  # Ctrl-C and a full disk included: leave no half-written file behind
        temporary.unlink(missing_ok=True)
        raise


def write_bytes(path, data):
    with atomic_write(path, "wb") as file:
        file.write(data)


def write_text(path, text):
    with atomic_write(path, "w") as file:
        file.write(text)


def append_line(path, line):
    """Add one line at the end of a text file (a history): the whole file is written again, atomically."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    write_text(path, old + ("" if not old or old.endswith("\n") else "\n") + line + "\n")


def write_json(path, data):
    """JSON with sorted keys and a final newline: the same data gives the same bytes."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def save_figure(figure, path, dpi=100):
    """A matplotlib figure as PNG, with no date or version in it: the same picture, the same bytes."""
    with atomic_write(path, "wb") as file:
        figure.savefig(file, format="png", dpi=dpi, metadata={"Software": None})


def check_writable(folder):
    """Create ``folder`` and write a file in it: a command that will write there fails now, not later."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / ".write-test"
    write_text(probe, "")
    probe.unlink()


def process_alive(pid):
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; no such process id at all
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_temporaries(folder):
    """Delete ``.NAME.PID.tmp`` and ``.NAME.PID.part`` files and folders in ``folder`` whose process is gone.

    Returns the paths removed. A temporary whose process still runs belongs to a writer at work.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TEMPORARY.match(entry.name)
        if match and not process_alive(int(match.group(1))):
            try:
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink(missing_ok=True)
            except OSError:  # a folder we may read but not write (a shared copy of the data): leave it
                continue
            removed.append(entry)
    return removed
