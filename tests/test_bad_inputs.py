"""Every command on a catalogue of bad inputs: exit code 2, one line naming the problem and the
fix, no traceback, and no file that existed before changed or gone.

Each command runs in-process through its ``main(argv)`` on a fresh folder holding a tiny fake
CIFAR-10, a finished run and a stopped one. Tests run as root here, so a read-only folder or a
full disk cannot be made with chmod: they are simulated by making ``scratchnet.files.atomic_write``
(every file the project writes goes through it) raise the OSError the system would.
"""

import errno
import hashlib
import http.server
import os
import pickle
import shutil
import struct
import threading
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from fakes import make_fake

from scratchnet import bench, checkpoint, evaluate, files, predict, reproduce, train
from scratchnet.cifar10 import FOLDER

# A tiny real run on the fake data (3 images a batch file, so 15 training images): 2 steps an epoch.
TINY = ["--model", "lstm", "--val-size", "0", "--epochs", "2", "--batch-size", "8", "--threads", "1",
        "--no-progress", "--no-download"]


def exit_code(main, argv):
    """A command's exit code, whether it returned it or argparse raised SystemExit."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A fake CIFAR-10, a finished tiny run and a run stopped after its first step."""
    base = tmp_path_factory.mktemp("prepared")
    make_fake(base / "data")
    data = ["--data-dir", str(base / "data")]
    assert train.main([*TINY, *data, "--out", str(base / "run")]) == 0
    assert train.main([*TINY, *data, "--out", str(base / "stopped"), "--stop-after-steps", "1"]) == 130
    return base


@pytest.fixture
def place(prepared, tmp_path, monkeypatch):
    """A fresh copy of the prepared folder as the working directory, with no SCRATCHNET_DATA."""
    for name in ("data", "run", "stopped"):
        shutil.copytree(prepared / name, tmp_path / name)
    (tmp_path / "file.txt").write_text("a plain file\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)

    def offline(*args, **kwargs):  # no test reaches the network: a download fails as on an offline machine
        raise urllib.error.URLError("no network in the tests")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return tmp_path


# ----------------------------------------------------------------------------- making bad inputs

def malicious_pickle(place):
    """A batch file whose pickle would create a file when loaded by plain pickle.load."""
    class Payload:
        def __reduce__(self):
            return open, (str(place / "pwned"), "w")

    (place / "data" / FOLDER / "data_batch_1").write_bytes(pickle.dumps(Payload()))


def partial_data(place):
    (place / "data" / FOLDER / "data_batch_3").unlink()


def edit_checkpoint(path, metadata=None, params=None):
    """Rewrite a checkpoint with its metadata and parameters changed (as a crafted file would be)."""
    ckpt = checkpoint.load(path)
    checkpoint.save(path, params(ckpt.params) if params else ckpt.params, ckpt.optimizer_state,
                    metadata(ckpt.metadata) if metadata else ckpt.metadata)


def with_metadata(run, **changes):
    def edit(place):
        edit_checkpoint(place / run / "checkpoint.npz", metadata=lambda m: {
            **{key: value for key, value in m.items() if key not in changes or changes[key] is not DROP},
            **{key: value for key, value in changes.items() if value is not DROP}})
    return edit


DROP = object()


def non_finite_weights(run):
    def edit(place):
        def poison(params):
            name = sorted(params)[0]
            params[name] = params[name].copy()
            params[name].flat[0] = np.nan
            return params
        edit_checkpoint(place / run / "checkpoint.npz", params=poison)
    return edit


def claims_too_much(run):
    """A checkpoint whose first array's header claims 1.2 GB it does not hold."""
    def edit(place):
        path = place / run / "checkpoint.npz"
        with zipfile.ZipFile(path) as archive:
            entries = {info.filename: archive.read(info) for info in archive.infolist()}
        name = next(name for name in entries if name.startswith("param/"))
        header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (300000000,), }"
        header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
        entries[name] = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 64
        with zipfile.ZipFile(path, "w") as archive:
            for key, data in entries.items():
                archive.writestr(key, data)
    return edit


def random_bytes(name):
    def edit(place):
        (place / name).write_bytes(np.random.default_rng(0).bytes(2000))
    return edit


def bomb_png(place):
    """A PNG that claims 100,000 x 100,000 pixels in a few bytes (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    (place / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                                     + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


def float_tiff(place):
    from PIL import Image

    Image.fromarray(np.linspace(0, 1, 4096, dtype=np.float32).reshape(64, 64), mode="F").save(place / "f.tif")


def disk_full(after_name=None):
    """Make every atomic write of a file other than the write test raise ENOSPC, as a full disk does."""
    real = files.atomic_write

    def full(path, mode="wb"):
        if Path(path).name == ".write-test":
            return real(path, mode)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return full


def read_only():
    def refuse(path, mode="wb"):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
    return refuse


def locked(folder):
    """A folder locked by a live process (this one) as a run writing into it would."""
    def edit(place):
        (place / folder).mkdir(parents=True, exist_ok=True)
        (place / folder / ".lock").write_text(str(os.getpid()))
    return edit


def damaged_summary(place):
    (place / "table" / "cnn-seed0").mkdir(parents=True)
    (place / "table" / "cnn-seed0" / "summary.json").write_text('{"test_accuracy": ')


def empty_summary(place):
    (place / "table" / "cnn-seed0").mkdir(parents=True)
    (place / "table" / "cnn-seed0" / "summary.json").write_text("{}")


# ----------------------------------------------------------------------------- the catalogue

DATA = ["--data-dir", "data"]
TRAIN = [*TINY, *DATA]
NEW = [*TRAIN, "--out", "new"]  # a new run, good but for the option added
CKPT = "run/checkpoint.npz"
REPORT = ["--models", "cnn", "--seeds", "0", "--small", "--runs", "table", "--out", "results", *DATA]


def case(name, command, argv, words, setup=None, writes=None):
    """One bad input: the message must hold ``words``; ``setup(place)`` makes the input,
    ``writes`` stands in for ``files.atomic_write`` (a read-only folder, a full disk)."""
    return pytest.param(command, argv, words, setup, writes, id=name)


CATALOGUE = [
    # train: options
    case("train --clip nan", train, [*NEW, "--clip", "nan"], ["--clip"]),
    case("train --weight-decay nan", train, [*NEW, "--weight-decay", "nan"], ["--weight-decay"]),
    case("train --weight-decay inf", train, [*NEW, "--weight-decay", "inf"], ["--weight-decay"]),
    case("train --lr nan", train, [*NEW, "--lr", "nan"], ["--lr"]),
    case("train --momentum nan", train, [*NEW, "--momentum", "nan"], ["--momentum"]),
    case("train --seed -1", train, [*NEW, "--seed", "-1"], ["--seed", ">= 0"]),
    case("train --threads 0", train, [*NEW, "--threads", "0"], ["--threads"]),
    # train: where the run goes
    case("train --out a file", train, [*TRAIN, "--out", "file.txt"], ["file.txt", "is a file", "--out"]),
    case("train --out inside a file", train, [*TRAIN, "--out", "file.txt/run"],
         ["cannot write into", "--out"]),
    case("train --out read-only", train, NEW, ["cannot write into new", "--out"], writes=read_only()),
    case("train --out holds a run", train, [*TRAIN, "--out", "run"],
         ["already holds a run", "--resume run", "--overwrite", "--out"]),
    case("train disk full while saving", train, NEW, ["cannot write", "free space", "--resume"],
         writes=disk_full()),
    case("train --out being written", train, NEW, ["being written by another process", "--out"],
         locked("new")),
    # train: resuming
    case("train --resume with a default typed that differs", train,
         ["--resume", "stopped", "--batch-size", "128", *DATA], ["--batch-size 128", "has 8"]),
    case("train --resume with --out", train, ["--resume", "stopped", "--out", "elsewhere", *DATA],
         ["drop --out"]),
    case("train --resume a folder without a checkpoint", train, ["--resume", "data", *DATA],
         ["no checkpoint.npz there"]),
    case("train --resume random bytes", train, ["--resume", "data/checkpoint.npz", *DATA],
         ["not a scratchnet checkpoint"], random_bytes("data/checkpoint.npz")),
    case("train --resume no history", train, ["--resume", "stopped", *DATA], ["damaged", "history"],
         with_metadata("stopped", history=DROP)),
    case("train --resume a step as text", train, ["--resume", "stopped", *DATA], ["damaged", "step"],
         with_metadata("stopped", step="1")),
    case("train --resume options not a dict", train, ["--resume", "stopped", *DATA], ["no training options"],
         with_metadata("stopped", config=[1, 2])),
    case("train --resume non-finite weights", train, ["--resume", "stopped", *DATA], ["NaN or infinity"],
         non_finite_weights("stopped")),
    case("train --resume a size claim", train, ["--resume", "stopped", *DATA], ["claims 1,200,000,000 bytes"],
         claims_too_much("stopped")),
    # train: the data
    case("train --data-dir missing", train, [*TINY, "--data-dir", "no/such"],  # --out: runs/lstm-seed0
         ["no/such", "does not exist", "--data-dir"]),
    case("train --data-dir a file", train, [*TINY, "--data-dir", "file.txt", "--out", "new"],
         ["file.txt", "is a file"]),
    case("train partial data", train, NEW, ["data_batch_3", "MD5", "SCRATCHNET_DATA"], partial_data),
    case("train malicious pickle", train, NEW, ["refusing to load the global"], malicious_pickle),
    # evaluate
    case("evaluate no data at all", evaluate, [CKPT],
         ["CIFAR-10 not found", "datasets", "MD5", "--data-dir"]),
    case("evaluate --data-dir missing", evaluate, [CKPT, "--data-dir", "no/such"],
         ["no/such", "does not exist"]),
    case("evaluate partial data", evaluate, [CKPT, *DATA], ["data_batch_3"], partial_data),
    case("evaluate malicious pickle", evaluate, [CKPT, *DATA], ["refusing to load the global"],
         malicious_pickle),
    case("evaluate --out a file", evaluate, [CKPT, *DATA, "--out", "file.txt"], ["is a file"]),
    case("evaluate --out inside a file", evaluate, [CKPT, *DATA, "--out", "file.txt/x"],
         ["cannot write into", "--out"]),
    case("evaluate --out read-only", evaluate, [CKPT, *DATA], ["cannot write into", "--out"],
         writes=read_only()),
    case("evaluate disk full", evaluate, [CKPT, *DATA, "--out", "new"], ["cannot write into new", "--out"],
         writes=disk_full()),
    case("evaluate no checkpoint", evaluate, ["data", *DATA], ["no checkpoint at", "run's folder"]),
    case("evaluate random bytes", evaluate, ["junk.npz", *DATA], ["not a scratchnet checkpoint"],
         random_bytes("junk.npz")),
    case("evaluate no model named", evaluate, [CKPT, *DATA], ["names no model"],
         with_metadata("run", model=DROP)),
    case("evaluate model options a list", evaluate, [CKPT, *DATA], ["model options"],
         with_metadata("run", model_options=[1])),
    case("evaluate unknown dtype", evaluate, [CKPT, *DATA], ["cannot rebuild"],
         with_metadata("run", dtype="f7")),
    case("evaluate unknown model", evaluate, [CKPT, *DATA], ["cannot rebuild"],
         with_metadata("run", model="vgg")),
    case("evaluate non-finite weights", evaluate, [CKPT, *DATA], ["NaN or infinity"],
         non_finite_weights("run")),
    case("evaluate a size claim", evaluate, [CKPT, *DATA], ["claims"], claims_too_much("run")),
    # predict
    case("predict a decompression bomb", predict, [CKPT, "bomb.png"], ["bomb.png", "too large"], bomb_png),
    case("predict a float image", predict, [CKPT, "f.tif"], ["floating-point"], float_tiff),
    case("predict not an image", predict, [CKPT, "file.txt"], ["not a readable PNG or JPEG"]),
    case("predict no such image", predict, [CKPT, "no.png"], ["no such image file"]),
    case("predict no model named", predict, [CKPT, "file.txt"], ["names no model"],
         with_metadata("run", model=DROP)),
    case("predict non-finite weights", predict, [CKPT, "file.txt"], ["NaN or infinity"],
         non_finite_weights("run")),
    # reproduce
    case("reproduce --runs a file", reproduce, [*REPORT, "--runs", "file.txt"],
         ["--runs file.txt is a file"]),
    case("reproduce --out a file", reproduce, [*REPORT, "--out", "file.txt"], ["--out file.txt is a file"]),
    case("reproduce --runs inside a file", reproduce, [*REPORT, "--runs", "file.txt/x"],
         ["cannot write into --runs"]),
    case("reproduce --runs read-only", reproduce, REPORT, ["cannot write into --runs"], writes=read_only()),
    case("reproduce --seeds -1", reproduce, [*REPORT, "--seeds", "-1"], ["--seeds", ">= 0"]),
    case("reproduce --data-dir missing", reproduce, [*REPORT, "--data-dir", "no/such"],
         ["no/such", "does not exist"]),
    case("reproduce partial data", reproduce, REPORT, ["data_batch_3", "offline", "MD5"], partial_data),
    case("reproduce malicious pickle", reproduce, REPORT, ["refusing to load the global"], malicious_pickle),
    case("reproduce a run being written", reproduce, REPORT, ["being written by another process"],
         locked("table/cnn-seed0")),
    case("reproduce --report-only with no runs", reproduce, [*REPORT, "--report-only"], ["no finished run"]),
    case("reproduce a damaged summary", reproduce, [*REPORT, "--report-only"], ["summary.json is damaged"],
         damaged_summary),
    case("reproduce an empty summary", reproduce, [*REPORT, "--report-only"], ["summary.json", "damaged"],
         empty_summary),
    # bench
    case("bench --append a folder", bench, ["--quick", "--append", "data"], ["--append data is a folder"]),
    case("bench --append inside a file", bench, ["--quick", "--append", "file.txt/h.jsonl"],
         ["cannot append"]),
    case("bench --append not text", bench, ["--quick", "--append", "junk.jsonl"], ["cannot append"],
         random_bytes("junk.jsonl")),
    case("bench --threads 0", bench, ["--quick", "--threads", "0"], ["--threads"]),
    # report (python -m scratchnet.report): its bad inputs go here, as case("report ...", report, argv, words)
]


def snapshot(folder):
    return {path: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("command, argv, words, setup, writes", CATALOGUE)
def test_bad_input_gets_one_clear_line(command, argv, words, setup, writes, place, capsys, monkeypatch):
    if setup is not None:
        setup(place)
    before = snapshot(place)
    before_folders = {path.name for path in place.iterdir()}
    if writes is not None:
        monkeypatch.setattr(files, "atomic_write", writes)
    assert exit_code(command.main, argv) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    message = err.strip().splitlines()[-1]
    for word in words:
        assert word in message, message
    after = snapshot(place)
    changed = [str(path.relative_to(place)) for path, digest in before.items() if after.get(path) != digest]
    assert not changed, f"changed or removed: {changed}"
    assert not (place / "pwned").exists()  # the malicious pickle ran no code
    assert not (place / "no").exists()  # a --data-dir that does not exist is never created
    if command is train:
        # a run that never started leaves no folder behind
        assert (place / "new").exists() == ("new" in before_folders) and not (place / "runs").exists()


# ----------------------------------------------------------------------------- Ctrl-C while starting

@pytest.mark.parametrize("command, argv, where", [
    (train, NEW, "scratchnet.train.load_cifar10"),
    (evaluate, [CKPT, *DATA], "scratchnet.evaluate.load_cifar10"),
    (predict, [CKPT, "file.txt"], "scratchnet.predict.load_model"),
    (reproduce, REPORT, "scratchnet.reproduce.load_cifar10"),
    (bench, ["--quick"], "scratchnet.bench.run"),
])
def test_ctrl_c_while_starting_up_ends_with_one_line(command, argv, where, place, capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(where, interrupt)
    try:
        code = command.main(argv)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped from main: a traceback")
    assert code == 130
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "interrupted" in err.strip().splitlines()[-1]


# ----------------------------------------------------------------------------- a slow server

class Trickle(http.server.BaseHTTPRequestHandler):
    """Promises a large file and sends it one byte every 0.05 s."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        try:
            for _ in range(200):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:  # the client gave up
            pass

    def log_message(self, *args):
        pass


def test_a_download_has_an_overall_deadline(tmp_path):
    from scratchnet.download import download_cifar10

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        # each byte comes well within the per-read timeout: only the deadline can stop it
        with pytest.raises(ConnectionError, match="too slow"):
            download_cifar10(tmp_path, url=f"http://127.0.0.1:{httpd.server_port}/x", progress=False,
                             timeout=5, deadline=1)
        assert time.monotonic() - started < 5
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert list(tmp_path.iterdir()) == []  # no .part left behind


def test_a_size_claim_is_refused_before_allocating(prepared, tmp_path):
    shutil.copytree(prepared / "run", tmp_path / "run")
    claims_too_much("run")(tmp_path)
    assert (tmp_path / "run" / "checkpoint.npz").stat().st_size < 1_000_000
    with pytest.raises(ValueError, match="claims 1,200,000,000 bytes but holds 64"):
        checkpoint.load(tmp_path / "run" / "checkpoint.npz")
