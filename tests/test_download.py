"""scratchnet.download, against a local HTTP server: success, bad checksum, broken or stalled
connection, unsafe archive, no network."""

import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading

import pytest
from fakes import assert_same, make_fake

from scratchnet.cifar10 import ARCHIVE, CIFAR10_URL, FOLDER, load_cifar10
from scratchnet.download import download_cifar10, ensure_cifar10


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

