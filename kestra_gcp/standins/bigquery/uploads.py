"""Media uploads for load jobs (`load_table_from_file`): multipart uploads and resumable sessions whose chunks are
streamed to a local file; the load job starts when the last byte has arrived."""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import BigQueryError, invalid, not_found

_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_CHUNK = 1024 * 1024


@dataclass
class Session:
    """A resumable upload in progress: the job metadata and the bytes received so far."""

    project: str
    metadata: dict[str, Any]
    path: Path
    received: int = 0


class Uploads:
    """Upload sessions; files live under `root` until their load job has run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new_file(self) -> Path:
        return self.root / f"upload-{uuid.uuid4().hex}"

    def multipart(self, content_type: str, body: bytes) -> tuple[dict[str, Any], Path]:
        """Split a multipart/related body into the job metadata and a file holding the data part."""
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        if not match:
            raise invalid("multipart upload without a boundary")
        delimiter = b"--" + match.group(1).encode()
        parts = [p for p in body.split(delimiter) if p.strip() not in (b"", b"--")]
        if len(parts) < 2:
            raise invalid("multipart upload needs a metadata part and a media part")
        metadata = json.loads(_part_body(parts[0]))
        path = self.new_file()
        path.write_bytes(_part_body(parts[1]))
        return metadata, path

    def start(self, project: str, metadata: dict[str, Any]) -> str:
        upload_id = uuid.uuid4().hex
        session = Session(project, metadata, self.new_file())
        session.path.touch()
        with self._lock:
            self._sessions[upload_id] = session
        return upload_id

    def received(self, upload_id: str) -> int:
        with self._lock:
            session = self._sessions.get(upload_id)
        return session.received if session else 0

    def put(self, upload_id: str, content_range: str | None, stream: IO[bytes]) -> Session | None:
        """Append one chunk; returns the session once complete, None while more bytes are expected."""
        with self._lock:
            session = self._sessions.get(upload_id)
        if session is None:
            raise not_found(f"Not found: upload session {upload_id}")
        total: int | None = None
        if content_range:
            match = _RANGE.match(content_range)
            if match:
                start, total = int(match.group(1)), None if match.group(3) == "*" else int(match.group(3))
                if start != session.received:
                    raise BigQueryError(400, "invalid", f"Upload chunk starts at {start}, expected "
                                                        f"{session.received}")
            elif content_range.startswith("bytes */"):
                total = int(content_range.split("/")[1])
        with session.path.open("ab") as out:
            while chunk := stream.read(_CHUNK):
                out.write(chunk)
                session.received += len(chunk)
        if total is not None and session.received >= total:
            with self._lock:
                self._sessions.pop(upload_id, None)
            return session
        return None


def _part_body(part: bytes) -> bytes:
    _head, found, rest = part.partition(b"\r\n\r\n")
    if not found:
        _head, found, rest = part.partition(b"\n\n")
    return rest.removesuffix(b"\r\n").removesuffix(b"\n")
