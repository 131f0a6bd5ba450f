"""A streamed multipart/form-data body with a known length, so uploads of large videos
never sit in memory and can report progress. Pure: no network."""

from __future__ import annotations

import mimetypes
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK_SIZE = 256 * 1024

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes sent so far, total bytes)."""


@dataclass(frozen=True)
class FilePart:
    field: str
    path: Path

    @property
    def content_type(self) -> str:
        guessed, _ = mimetypes.guess_type(self.path.name)
        return guessed or "application/octet-stream"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartBody:
    """Form fields and files, rendered lazily. `len(body)` is the exact Content-Length."""

    def __init__(
        self, fields: dict[str, str], files: list[FilePart], boundary: str | None = None
    ) -> None:
        self.fields = fields
        self.files = files
        self.boundary = boundary or secrets.token_hex(16)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _field_head(self, name: str) -> bytes:
        return (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'
        ).encode()

    def _file_head(self, part: FilePart) -> bytes:
        return (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{_quote(part.field)}"; '
            f'filename="{_quote(part.path.name)}"\r\n'
            f"Content-Type: {part.content_type}\r\n\r\n"
        ).encode()

    def _tail(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode()

    def __len__(self) -> int:
        size = len(self._tail())
        for name, value in self.fields.items():
            size += len(self._field_head(name)) + len(value.encode()) + 2
        for part in self.files:
            size += len(self._file_head(part)) + part.path.stat().st_size + 2
        return size

    def chunks(self, on_progress: ProgressCallback | None = None) -> Iterator[bytes]:
        """Yield the body; `on_progress(sent, total)` after each chunk."""
        total = len(self)
        sent = 0

        def emit(data: bytes) -> bytes:
            nonlocal sent
            sent += len(data)
            if on_progress is not None:
                on_progress(sent, total)
            return data

        for name, value in self.fields.items():
            yield emit(self._field_head(name) + value.encode() + b"\r\n")
        for part in self.files:
            yield emit(self._file_head(part))
            with part.path.open("rb") as handle:
                while chunk := handle.read(CHUNK_SIZE):
                    yield emit(chunk)
            yield emit(b"\r\n")
        yield emit(self._tail())
