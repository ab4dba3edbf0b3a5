"""The published Kinetics-400 checkpoints of registry models: where they live (the SlowFast model zoo for X3D,
torchvision's for R3D-18, R(2+1)D-18 and S3D, or the mirror that $AR_ROS_MODEL_ZOO names), the local cache,
and a verified download."""
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
# Where each family's published checkpoints are; OTE's MobileNetV3 snapshots have no stable public URL.
FAMILY_ZOOS = {"x3d": ZOO_URL, "resnet3d": "https://download.pytorch.org/models",
               "s3d": "https://download.pytorch.org/models"}
ZOO_ENV = "AR_ROS_MODEL_ZOO"  # a mirror's base URL, for machines that cannot reach the model zoos
CHUNK_BYTES = 1 << 20


class DownloadError(ValueError):
    """A checkpoint that could not be fetched or failed verification; nothing is left at the target."""


@dataclass(frozen=True)
class Checkpoint:
    name: str
    filename: str
    size: int | None  # bytes; None where unknown
    sha256: str | None  # hex digest; None where unknown
    zoo: str = ZOO_URL  # the base URL it is published under
    sha256_prefix: str | None = None  # torch.hub names files <name>-<first hex digits of the SHA-256>.pth

    @property
    def url(self) -> str:
        """$AR_ROS_MODEL_ZOO/<filename> where that is set, else the publisher's URL."""
        return f"{zoo_url(self.zoo)}/{self.filename}"


def _hash_prefix(filename: str) -> str | None:
    stem = Path(filename).stem
    tail = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    return tail if len(tail) >= 6 and all(c in "0123456789abcdef" for c in tail) else None


def _published() -> dict[str, Checkpoint]:
    from .models import MODEL_SPECS

    return {name: Checkpoint(name, spec.checkpoint, None, None, FAMILY_ZOOS[spec.family],
                             _hash_prefix(spec.checkpoint))
            for name, spec in MODEL_SPECS.items() if spec.checkpoint and spec.family in FAMILY_ZOOS}


# Sizes and full SHA-256 digests are None: the SlowFast model zoo publishes neither, and this project's build
# machines cannot reach the zoos to measure them. torchvision's file names carry a digest prefix, which is
# checked; otherwise the download is checked against the server's Content-Length only.
CHECKPOINTS: dict[str, Checkpoint] = _published()


def zoo_url(default: str = ZOO_URL) -> str:
    """The base URL checkpoints are fetched from: $AR_ROS_MODEL_ZOO, else the publisher's (`default`)."""
    return (os.environ.get(ZOO_ENV) or default).rstrip("/")


def cache_dir() -> Path:
    """Where checkpoints are kept: $AR_ROS_CACHE, else ~/.cache/ar_ros."""
    return Path(os.environ.get("AR_ROS_CACHE") or Path.home() / ".cache" / "ar_ros")


def get_checkpoint(name: str) -> Checkpoint:
    from .models import get_spec

    key = get_spec(name).name
    if key not in CHECKPOINTS:
        raise ValueError(f"no published checkpoint to download for {name!r}; these have one: "
                         f"{', '.join(CHECKPOINTS)}")
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
        if sha256 is None and entry.sha256_prefix and not digest.startswith(entry.sha256_prefix):
            raise DownloadError(f"{url}: SHA-256 {digest} does not start with {entry.sha256_prefix}, "
                                f"the digest prefix its file name {entry.filename} carries")
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
