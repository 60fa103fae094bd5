"""The local state directory `.kestra-gcp/` in the current working directory.

Layout:
    .kestra-gcp/
      config.json            project, bucket, Postgres connection mappings (`host:port` -> postgresql:// URL)
      secrets.json           secret name -> value (mode 0600), given to functions as KESTRA_GCP_SECRETS_FILE
      services/<name>/       data dir of each embedded service (gcs, postgres, bigquery), pid/port record
      backfills/<key>.json   resumable backfill records (tick -> state)
      testdata/              cache of generated taxi months
KV values live where the functions keep them: objects `kv/<namespace>/<key>` in the local state bucket.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from kestra_gcp.errors import UserError

STATE_DIR_NAME = ".kestra-gcp"
_CONNECTION_KEY = re.compile(r"^[A-Za-z0-9_.\-]+:\d{1,5}$")
_SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


class LocalConfig(BaseModel):
    """`.kestra-gcp/config.json`; every key is optional."""

    model_config = {"extra": "forbid"}

    project: str = "local-project"
    region: str = "local"
    bucket: str = "kestra-gcp-local"
    connections: dict[str, str] = Field(default_factory=dict)

    @field_validator("connections")
    @classmethod
    def _check_connections(cls, value: dict[str, str]) -> dict[str, str]:
        for key, target in value.items():
            if not _CONNECTION_KEY.match(key):
                raise ValueError(f"connection key {key!r} must be host:port")
            if not (target.startswith(("postgresql://", "postgres://")) or target.startswith("secret:")):
                raise ValueError(f"connection {key!r} must map to a postgresql:// URL or secret:NAME")
        return value


def parse_connection(text: str) -> tuple[str, str]:
    """`host:port=postgresql://...` -> (`host:port`, URL); raises UserError on a malformed mapping."""
    key, sep, target = text.partition("=")
    if not sep or not _CONNECTION_KEY.match(key) or not target.startswith(("postgresql://", "postgres://")):
        raise UserError(f"--connection {text.split('=')[0]!r}: expected host:port=postgresql://user:pass@host:port/db")
    return key, target


@dataclass(frozen=True)
class StateDir:
    """Paths and small files of one `.kestra-gcp/` directory."""

    root: Path

    @classmethod
    def in_cwd(cls) -> StateDir:
        return cls(Path.cwd() / STATE_DIR_NAME)

    def ensure(self) -> StateDir:
        self.root.mkdir(parents=True, exist_ok=True)
        gitignore = self.root / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("*\n")
        return self

    def service_dir(self, name: str) -> Path:
        path = self.root / "services" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def secrets_path(self) -> Path:
        return self.root / "secrets.json"

    @property
    def backfills_dir(self) -> Path:
        path = self.root / "backfills"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def testdata_dir(self) -> Path:
        return self.root / "testdata"

    def load_config(self) -> LocalConfig:
        if not self.config_path.exists():
            return LocalConfig()
        try:
            return LocalConfig.model_validate_json(self.config_path.read_text())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UserError(f"{self.config_path}: {where}: {first['msg']}") from None

    def save_config(self, config: LocalConfig) -> None:
        self.ensure()
        _write_private(self.config_path, config.model_dump_json(indent=2) + "\n")

    def secrets(self) -> dict[str, str]:
        if not self.secrets_path.exists():
            return {}
        try:
            data = json.loads(self.secrets_path.read_text())
        except ValueError:
            raise UserError(f"{self.secrets_path}: not valid JSON") from None
        if not isinstance(data, dict):
            raise UserError(f"{self.secrets_path}: expected a JSON object name -> value")
        return {str(k): str(v) for k, v in data.items()}

    def set_secret(self, name: str, value: str) -> None:
        if not _SECRET_NAME.match(name):
            raise UserError(f"secret name {name!r}: use letters, digits, '_' and '-', starting with a letter")
        data = self.secrets()
        data[name] = value
        self.ensure()
        _write_private(self.secrets_path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _write_private(path: Path, text: str) -> None:
    """Write a file readable only by its owner, atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)
