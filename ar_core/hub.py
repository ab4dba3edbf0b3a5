"""The official Kinetics-400 X3D checkpoints: where they live (the SlowFast model zoo, or the mirror that
$AR_ROS_MODEL_ZOO names), the local cache, and a verified download."""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_path

log = logging.getLogger(__name__)

ZOO_URL = "https://dl.fbaipublicfiles.com/pyslowfast/x3d_models"
ZOO_ENV = "AR_ROS_MODEL_ZOO"  # a mirror's base URL, for machines that cannot reach the SlowFast model zoo
CHUNK_BYTES = 1 << 20


class DownloadError(ValueError):
    """A checkpoint that could not be fetched or failed verification; nothing is left at the target."""


@dataclass(frozen=True)
class Checkpoint:
    name: str
    filename: str
    size: int | None  # bytes; None where unknown
    sha256: str | None  # hex digest; None where unknown

    @property
    def url(self) -> str:
        """$AR_ROS_MODEL_ZOO/<filename> where that is set, else the SlowFast model zoo's URL."""
        return f"{zoo_url()}/{self.filename}"


# Sizes and SHA-256 digests are None: the SlowFast model zoo publishes neither, and this project's build
# machines cannot reach dl.fbaipublicfiles.com to measure them. Fill them in once measured; until then the
# download is checked against the server's Content-Length only.
CHECKPOINTS: dict[str, Checkpoint] = {
    name: Checkpoint(name, f"x3d_{name}.pyth", size=None, sha256=None) for name in ("xs", "s", "m", "l")
}


def zoo_url() -> str:
    """The base URL checkpoints are fetched from: $AR_ROS_MODEL_ZOO, else the SlowFast model zoo."""
    return (os.environ.get(ZOO_ENV) or ZOO_URL).rstrip("/")


def cache_dir() -> Path:
    """Where checkpoints are kept: $AR_ROS_CACHE, else ~/.cache/ar_ros."""
    return Path(os.environ.get("AR_ROS_CACHE") or Path.home() / ".cache" / "ar_ros")


def get_checkpoint(name: str) -> Checkpoint:
    key = name.lower().replace("-", "_").removeprefix("x3d_")
    if key not in CHECKPOINTS:
        raise ValueError(f"unknown checkpoint {name!r}; available: {', '.join(CHECKPOINTS)}")
    return CHECKPOINTS[key]


def cached_checkpoint(name: str) -> Path | None:
    """The cached file for checkpoint `name`, or None when it has not been downloaded."""
    path = cache_dir() / get_checkpoint(name).filename
    return path if path.is_file() else None


def download_checkpoint(name: str, dest_dir: str | os.PathLike | None = None, url: str | None = None,
                        sha256: str | None = None, size: int | None = None, timeout: float = 10) -> Path:
    """Fetch checkpoint `name` into `dest_dir` (default: the cache) and return its path.

    A file already there is kept as it is. `url`, `sha256` and `size` override the table's entries.
    The file appears only once complete and verified; any failure raises DownloadError.
    """
    entry = get_checkpoint(name)
    target = Path(dest_dir if dest_dir is not None else cache_dir()) / entry.filename
    if target.is_file():
        log.info("%s already present, not downloading", target)
        return target
    url = url or entry.url
    sha256 = (sha256 or entry.sha256 or "").lower() or None
    size = size if size is not None else entry.size
    with atomic_path(target) as tmp:
        digest, received = _fetch(url, tmp, timeout)
        if size is not None and received != size:
            raise DownloadError(f"{url}: expected {size} bytes, received {received}")
        if sha256 is not None and digest != sha256:
            raise DownloadError(f"{url}: SHA-256 mismatch, expected {sha256}, got {digest}")
    log.info("downloaded %s (%d bytes, sha256 %s)", target, received, digest)
    return target


def _fetch(url: str, dest: Path, timeout: float) -> tuple[str, int]:
    """Stream `url` into `dest` with a progress bar; returns (sha256 hex digest, bytes received)."""
    from tqdm import tqdm

    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
            announced = response.headers.get("Content-Length")
            expected = int(announced) if announced else None
            with tqdm(total=expected, unit="B", unit_scale=True, desc=Path(url).name, leave=False) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        raise DownloadError(f"{url}: server answered HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise DownloadError(f"{url}: cannot connect ({err.reason})") from None
    except (OSError, http.client.HTTPException) as err:  # timeouts, resets, IncompleteRead
        raise DownloadError(f"{url}: download interrupted after {received} bytes ({type(err).__name__}: "
                            f"{err})") from None
    if expected is not None and received != expected:
        raise DownloadError(f"{url}: truncated, received {received} of {expected} bytes")
    return digest.hexdigest(), received
