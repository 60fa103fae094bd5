"""Local copies of `gs://` objects for external tables and load jobs, fetched with google-cloud-storage.

Objects are streamed to a cache file named after bucket, object and generation (written under a temporary name
and renamed, so a copy is either complete or absent); a copy is reused while the object's generation is unchanged.
Gzipped objects are kept compressed with a `.gz` suffix so that DuckDB decompresses them while reading.
The cache is bounded (`max_bytes`, least recently used copies go first); an evicted copy is fetched again
when a query needs it."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import threading
from pathlib import Path

from google.api_core import exceptions as gexc
from google.cloud import storage  # type: ignore[attr-defined,unused-ignore]

from .errors import BigQueryError, invalid, not_found

_GZIP_MAGIC = b"\x1f\x8b"


def split_uri(uri: str) -> tuple[str, str]:
    """`gs://bucket/name` -> (bucket, name)."""
    if not uri.startswith("gs://") or "/" not in uri[5:]:
        raise invalid(f"Invalid source URI {uri!r}: expected gs://bucket/object")
    bucket, name = uri[5:].split("/", 1)
    if not bucket or not name:
        raise invalid(f"Invalid source URI {uri!r}: expected gs://bucket/object")
    return bucket, name


class ObjectCache:
    """Fetches the objects behind `gs://` URIs (one `*` wildcard allowed, as in BigQuery) into `root`."""

    def __init__(self, root: Path, max_bytes: int = 2 * 1024**3) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)
        self._client: storage.Client | None = None
        self._lock = threading.Lock()

    def _storage(self) -> storage.Client:
        with self._lock:
            if self._client is None:
                if os.environ.get("STORAGE_EMULATOR_HOST"):
                    from google.auth.credentials import AnonymousCredentials

                    self._client = storage.Client(project="standin", credentials=AnonymousCredentials())
                else:
                    self._client = storage.Client()
            return self._client

    def fetch(self, uris: list[str]) -> list[Path]:
        """Local files holding the current content of every object the URIs name."""
        if not uris:
            raise invalid("No source URIs given")
        paths: list[Path] = []
        try:
            for uri in uris:
                for blob in self._blobs(uri):
                    paths.append(self._local_copy(blob))
        except gexc.NotFound as err:
            raise not_found(f"Not found: {err.message}") from None
        except gexc.GoogleAPICallError as err:
            raise BigQueryError(503, "backendError", f"Error while reading data: {err.message}") from None
        return paths

    def upload(self, path: Path, uri: str, content_type: str) -> int:
        """Stream a local file to `uri` (resumable upload; the object appears only when complete)."""
        bucket_name, name = split_uri(uri)
        blob = self._storage().bucket(bucket_name).blob(name, chunk_size=8 * 1024 * 1024)
        try:
            blob.upload_from_filename(str(path), content_type=content_type)
        except gexc.NotFound:
            raise not_found(f"Not found: Bucket {bucket_name}") from None
        except gexc.GoogleAPICallError as err:
            raise BigQueryError(503, "backendError", f"Error while writing {uri}: {err.message}") from None
        return path.stat().st_size

    def trim(self) -> None:
        """Evict the least recently used copies until the cache fits in `max_bytes`."""
        files = [p for p in self.root.iterdir() if p.is_file() and ".partial-" not in p.name]
        stats = sorted(((p.stat().st_mtime, p.stat().st_size, p) for p in files), key=lambda t: t[0])
        total = sum(size for _, size, _ in stats)
        for _, size, path in stats:
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    def _blobs(self, uri: str) -> list[storage.Blob]:
        bucket_name, name = split_uri(uri)
        client = self._storage()
        if "*" not in name:
            blob = client.bucket(bucket_name).get_blob(name)
            if blob is None:
                raise not_found(f"Not found: URI {uri}")
            return [blob]
        prefix = name.split("*", 1)[0]
        matches = [b for b in client.list_blobs(bucket_name, prefix=prefix) if fnmatch.fnmatchcase(b.name, name)]
        if not matches:
            raise not_found(f"Not found: URI {uri}")
        return sorted(matches, key=lambda b: b.name)

    def _local_copy(self, blob: storage.Blob) -> Path:
        key = hashlib.sha256(f"{blob.bucket.name}/{blob.name}".encode()).hexdigest()[:24]
        stem = f"{key}-{blob.generation}"
        for suffix in (".gz", ""):
            existing = self.root / (stem + suffix)
            if existing.exists():
                existing.touch()  # recently used: evicted last
                return existing
        partial = self.root / f"{stem}.partial-{threading.get_ident()}"
        try:
            with partial.open("wb") as out:
                blob.download_to_file(out, raw_download=True)
            with partial.open("rb") as head:
                gzipped = head.read(2) == _GZIP_MAGIC
            final = self.root / (stem + (".gz" if gzipped else ""))
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        for stale in self.root.glob(f"{key}-*"):
            if not stale.name.startswith(stem):
                stale.unlink(missing_ok=True)
        return final
