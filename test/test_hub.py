"""Checkpoint downloads against a real HTTP server on 127.0.0.1."""
import hashlib
import http.server
import socket
import threading

import pytest

from ar_core import hub
from ar_core.hub import DownloadError, cached_checkpoint, download_checkpoint

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: several read chunks
PREFIX = hashlib.sha256(PAYLOAD).hexdigest()[:8]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path in ("/good.pyth", "/mirror/x3d_s.pyth", f"/tv/r3d_18-{PREFIX}.pth", "/tv/r2plus1d_18-91a641e6.pth"):
            self._send(PAYLOAD, len(PAYLOAD))
        elif self.path == "/truncated.pyth":
            self._send(PAYLOAD[:1000], len(PAYLOAD))  # announces more than it sends, then hangs up
        else:
            self.send_error(404)

    def _send(self, body: bytes, announced: int):
        self.send_response(200)
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_good_file_is_verified_and_written(server, tmp_path):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    path = download_checkpoint("xs", tmp_path, url=f"{server}/good.pyth", sha256=digest, size=len(PAYLOAD))
    assert path == tmp_path / "x3d_xs.pyth"
    assert path.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["x3d_xs.pyth"]


def test_wrong_hash_raises_and_leaves_nothing(server, tmp_path):
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download_checkpoint("s", tmp_path, url=f"{server}/good.pyth", sha256="0" * 64)
    assert _leftovers(tmp_path) == []


def test_wrong_size_raises(server, tmp_path):
    with pytest.raises(DownloadError, match=f"expected 5 bytes, received {len(PAYLOAD)}"):
        download_checkpoint("s", tmp_path, url=f"{server}/good.pyth", size=5)
    assert _leftovers(tmp_path) == []


def test_truncated_download_raises_and_leaves_nothing(server, tmp_path):
    with pytest.raises(DownloadError, match="truncated|interrupted"):
        download_checkpoint("m", tmp_path, url=f"{server}/truncated.pyth")
    assert _leftovers(tmp_path) == []


def test_http_error_is_named(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_checkpoint("l", tmp_path, url=f"{server}/missing.pyth")


def test_present_file_is_skipped(server, tmp_path):
    (tmp_path / "x3d_xs.pyth").write_bytes(b"already here")
    # The URL would 404: a request at all would fail the test.
    path = download_checkpoint("xs", tmp_path, url=f"{server}/missing.pyth")
    assert path.read_bytes() == b"already here"


def test_server_down_is_a_clear_error(tmp_path):
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadError, match="cannot connect"):
        download_checkpoint("xs", tmp_path, url=f"http://127.0.0.1:{port}/x3d_xs.pyth", timeout=2)
    assert _leftovers(tmp_path) == []


def test_cache_dir_and_cached_checkpoint(monkeypatch, tmp_path):
    monkeypatch.setenv("AR_ROS_CACHE", str(tmp_path))
    assert hub.cache_dir() == tmp_path
    assert cached_checkpoint("x3d_s") is None
    (tmp_path / "x3d_s.pyth").write_bytes(b"weights")
    assert cached_checkpoint("X3D-S") == tmp_path / "x3d_s.pyth"
    monkeypatch.delenv("AR_ROS_CACHE")
    assert hub.cache_dir().parts[-2:] == (".cache", "ar_ros")


def test_model_zoo_variable_moves_every_download_to_a_mirror(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AR_ROS_MODEL_ZOO", f"{server}/mirror/")  # a trailing slash is allowed
    assert hub.CHECKPOINTS["s"].url == f"{server}/mirror/x3d_s.pyth"
    assert download_checkpoint("s", tmp_path).read_bytes() == PAYLOAD
    with pytest.raises(DownloadError, match=f"{server}/mirror/x3d_m.pyth: server answered HTTP 404"):
        download_checkpoint("m", tmp_path)  # the mirror lacks it: no fallback to the public zoo
    assert _leftovers(tmp_path) == ["x3d_s.pyth"]


def test_table_points_at_the_publishers_zoos(monkeypatch):
    monkeypatch.delenv("AR_ROS_MODEL_ZOO", raising=False)
    assert set(hub.CHECKPOINTS) == {"xs", "s", "m", "l", "r3d_18", "r2plus1d_18", "s3d"}
    assert hub.CHECKPOINTS["m"].url == "https://dl.fbaipublicfiles.com/pyslowfast/x3d_models/x3d_m.pyth"
    assert hub.CHECKPOINTS["r2plus1d_18"].url == "https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth"
    assert hub.CHECKPOINTS["r2plus1d_18"].sha256_prefix == "91a641e6"
    with pytest.raises(ValueError, match="unknown model 'xxl'; the registry has"):
        hub.get_checkpoint("xxl")
    with pytest.raises(ValueError, match="no published checkpoint to download for 'lrcn'"):
        hub.get_checkpoint("lrcn")


def test_a_torchvision_checkpoint_is_checked_against_the_digest_prefix_of_its_name(server, tmp_path, monkeypatch):
    """torch.hub names files <name>-<SHA-256 prefix>.pth: a download whose digest does not start with it fails."""
    monkeypatch.setenv("AR_ROS_MODEL_ZOO", f"{server}/tv")
    monkeypatch.setitem(hub.CHECKPOINTS, "r3d_18", hub.Checkpoint("r3d_18", "r3d_18-PREFIX.pth".replace(
        "PREFIX", PREFIX), None, None, hub.FAMILY_ZOOS["resnet3d"], PREFIX))
    assert download_checkpoint("r3d_18", tmp_path).read_bytes() == PAYLOAD
    with pytest.raises(DownloadError, match="does not start with 91a641e6"):
        download_checkpoint("r2plus1d_18", tmp_path)  # the same bytes under R(2+1)D-18's real name
    assert _leftovers(tmp_path) == [f"r3d_18-{PREFIX}.pth"]
