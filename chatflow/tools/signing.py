"""Dify's signed tool-file URLs: `/files/tools/{id}{ext}?timestamp=&nonce=&sign=`.

The signature is HMAC-SHA256 over `file-preview|{id}|{timestamp}|{nonce}` with the
server's secret key, URL-safe base64, valid for `files_access_timeout` seconds, exactly as
Dify signs them, so links a client got from Dify's wire format behave the same here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

# Ids are server-made UUIDs; anything else in a URL is refused before storage is touched.
FILE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EXTENSION = re.compile(r"^\.?[A-Za-z0-9]{1,16}$")


def _sign(secret: bytes, file_id: str, timestamp: str, nonce: str) -> str:
    data = f"file-preview|{file_id}|{timestamp}|{nonce}".encode()
    return base64.urlsafe_b64encode(hmac.new(secret, data, hashlib.sha256).digest()).decode()


@dataclass(frozen=True, slots=True)
class FileSigner:
    secret: bytes
    base_url: str = ""
    timeout: int = 300

    def url(self, file_id: str, extension: str) -> str:
        """The signed preview URL of a tool file (`extension` with its dot, or empty)."""
        timestamp = str(int(time.time()))
        nonce = os.urandom(16).hex()
        sign = _sign(self.secret, file_id, timestamp, nonce)
        base = self.base_url.rstrip("/")
        query = f"timestamp={timestamp}&nonce={nonce}&sign={sign}"
        return f"{base}/files/tools/{file_id}{extension}?{query}"

    def verify(self, file_id: str, timestamp: str, nonce: str, sign: str) -> bool:
        if not FILE_ID.match(file_id) or not timestamp.isdigit():
            return False
        expected = _sign(self.secret, file_id, timestamp, nonce)
        if not hmac.compare_digest(expected.encode(), sign.encode()):
            return False
        return 0 <= int(time.time()) - int(timestamp) <= self.timeout


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, else one made once and kept in `data_dir/secret_key`."""
    if configured:
        return configured.encode()
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48).encode()
    # O_EXCL: two workers starting at once agree on the first one written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key
