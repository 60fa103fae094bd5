"""Cloud Storage helpers: gs:// URIs, execution storage paths, streaming reads and atomic streaming writes.

Writes go through a resumable upload in fixed-size chunks: the object only exists once the last chunk
is sent, so a crash or an error midway leaves no partial object (a retry simply starts over).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO

from kfn.errors import FunctionError, NotFound, TaskError, TransientError
from kfn.request import ExecutionRef

if TYPE_CHECKING:
    from google.cloud.storage import Blob, Client
    from google.cloud.storage.fileio import BlobWriter

WRITE_CHUNK = 16 * 1024 * 1024
READ_CHUNK = 8 * 1024 * 1024

_client: Client | None = None
_client_lock = threading.Lock()
_GS = re.compile(r"^gs://([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])/(.+)$")


def client() -> Client:
    """One storage client per instance (STORAGE_EMULATOR_HOST makes it anonymous, locally)."""
    global _client
    with _client_lock:
        if _client is None:
            from google.cloud import storage

            _client = storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT") or None)
        return _client


def reset_client() -> None:
    """Drop the cached client (tests switching emulators)."""
    global _client
    with _client_lock:
        _client = None


def parse_gs_uri(uri: object, what: str = "uri") -> tuple[str, str]:
    """`gs://bucket/path` -> (bucket, path); TaskError otherwise."""
    match = _GS.match(str(uri)) if isinstance(uri, str) else None
    if not match:
        raise TaskError(f"{what}: {uri!r} is not a gs://bucket/object URI")
    return match.group(1), match.group(2)


def state_bucket() -> str:
    bucket = os.environ.get("KESTRA_GCP_BUCKET")
    if not bucket:
        raise FunctionError("KESTRA_GCP_BUCKET is not set (function misconfigured)")
    return bucket


def safe_name(name: str) -> str:
    """A file name usable as the last path segment (no directories, no dot-only names)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = re.sub(r"[\x00-\x1f]", "", base)
    if base in ("", ".", ".."):
        raise TaskError(f"{name!r} is not a usable file name")
    return base


def _segment(value: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise TaskError(f"{value!r} cannot be used in a storage path")
    return value


def execution_prefix(execution: ExecutionRef) -> str:
    """`executions/<namespace>/<flowId>/<execution id>/` (object-name prefix in the state bucket)."""
    return f"executions/{_segment(execution.namespace)}/{_segment(execution.flow_id)}/{_segment(execution.id)}/"


def execution_uri(execution: ExecutionRef, task_id: str, file_name: str) -> str:
    """`gs://<bucket>/executions/<namespace>/<flowId>/<execution id>/<task id>/<file name>`."""
    return f"gs://{state_bucket()}/{execution_prefix(execution)}{_segment(task_id)}/{safe_name(file_name)}"


def blob(uri: str, what: str = "uri") -> Blob:
    bucket, name = parse_gs_uri(uri, what)
    return client().bucket(bucket).blob(name)


def existing_blob(uri: str, what: str = "uri") -> Blob:
    """The blob with its metadata loaded; NotFound naming the URI if it (or its bucket) is missing."""
    from google.api_core import exceptions as gexc

    target = blob(uri, what)
    try:
        target.reload()
    except gexc.NotFound as exc:
        raise NotFound(f"{what}: object {uri} does not exist") from exc
    return target


def open_read(uri: str, what: str = "uri") -> BinaryIO:
    """A streaming reader of one generation of the object (ranged reads of READ_CHUNK bytes)."""
    found = existing_blob(uri, what)
    pinned = found.bucket.blob(found.name, generation=found.generation)
    reader: BinaryIO = pinned.open("rb", chunk_size=READ_CHUNK)
    return reader


@contextmanager
def open_write(
    uri: str, content_type: str | None = None, what: str = "uri", chunk_size: int = WRITE_CHUNK
) -> Iterator[BlobWriter]:
    """A streaming writer sending `chunk_size` pieces (a multiple of 256 KiB; memory ~2x that); the object
    appears only if the block exits normally."""
    from google.cloud.storage.fileio import BlobWriter

    target = blob(uri, what)
    kwargs = {"content_type": content_type} if content_type else {}
    writer = BlobWriter(target, chunk_size=chunk_size, ignore_flush=True, **kwargs)
    try:
        yield writer
    except BaseException:
        # the upload session is abandoned anyway: keep the original error
        with contextlib.suppress(Exception):
            writer.terminate()
        raise
    writer.close()


class _ChunkStream:
    """A forward-only stream over byte pieces for a resumable upload: each full chunk is handed out in
    one reused buffer (urllib3 sends any buffer-protocol body), so memory holds one chunk, not two."""

    def __init__(self, pieces: Iterator[bytes], chunk_size: int) -> None:
        import google_crc32c

        self.crc32c = google_crc32c.Checksum()
        self._pieces = pieces
        self._buffer = bytearray(chunk_size)
        self._pending = memoryview(b"")
        self._position = 0

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0 and offset == self._position:
            return offset
        raise OSError("a streamed upload cannot be rewound")

    def read(self, size: int) -> bytes | memoryview:
        if size > len(self._buffer):
            raise ValueError(f"read({size}) exceeds the chunk size {len(self._buffer)}")
        view = memoryview(self._buffer)
        filled = 0
        while filled < size:
            if not self._pending:
                piece = next(self._pieces, None)
                if piece is None:
                    break
                self.crc32c.update(piece)
                self._pending = memoryview(piece)
                continue
            take = min(size - filled, len(self._pending))
            view[filled : filled + take] = self._pending[:take]
            self._pending = self._pending[take:]
            filled += take
        self._position += filled
        return view[:filled].toreadonly()  # no copy: urllib3 sends any buffer


def upload_pieces(
    pieces: Iterable[bytes],
    uri: str,
    content_type: str | None = None,
    chunk_size: int = WRITE_CHUNK,
    what: str = "uri",
) -> int:
    """Stream `pieces` into `uri` through one resumable upload (crc32c-checked); return the byte count.

    The object appears only when the last chunk is accepted: an exception from `pieces` or from the
    transport cancels the session and leaves nothing behind. Memory: one `chunk_size` buffer. The crc32c
    of the pieces is compared with the stored object's (a mismatch deletes it: TransientError).
    """
    target = blob(uri, what)
    stream = _ChunkStream(iter(pieces), chunk_size)
    # the helper BlobWriter itself uses to open a resumable session (size unknown until the end)
    upload, transport = target._initiate_resumable_upload(
        client(), stream, content_type, None, chunk_size=chunk_size, retry=None, checksum=None
    )
    try:
        response = None
        while not upload.finished:
            response = upload.transmit_next_chunk(transport, timeout=(60, 600))
    except BaseException:
        with contextlib.suppress(Exception):
            transport.delete(upload.upload_url)
        raise
    stored = response.json() if response is not None else {}
    expected = base64.b64encode(stream.crc32c.digest()).decode()
    if stored.get("crc32c") not in (None, expected):
        with contextlib.suppress(Exception):
            target.delete(if_generation_match=int(stored["generation"]))
        raise TransientError(f"{uri}: stored crc32c {stored.get('crc32c')} differs from the sent {expected}")
    return stream.tell()
