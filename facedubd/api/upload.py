"""Stream a multipart/form-data body straight to files on disk, counting sizes as it goes.

Nothing is buffered beyond one chunk: a 500 MB video costs a few hundred kB of memory.
Each part's bytes are hashed on the way, for Idempotency-Key comparisons."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header

from facedubd.errors import FileTooLarge, InvalidRequest, StorageFull

MAX_TEXT_FIELD = 1024
MAX_PARTS = 16


@dataclasses.dataclass(frozen=True)
class FileLimit:
    field: str
    max_bytes: int
    label: str


@dataclasses.dataclass
class Upload:
    files: dict[str, Path] = dataclasses.field(default_factory=dict)
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    digests: dict[str, str] = dataclasses.field(default_factory=dict)

    def request_hash(self) -> str:
        """One digest of the form: field names, text values and file bytes, order-free."""
        lines = sorted(f"{name}={digest}" for name, digest in self.digests.items())
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class _Collector:
    def __init__(self, folder: Path, limits: dict[str, FileLimit]) -> None:
        self.folder = folder
        self.limits = limits
        self.upload = Upload()
        self.parts = 0
        self.ended = False
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._is_file = False
        self._file: IO[bytes] | None = None
        self._text = bytearray()
        self._size = 0
        self._hash = hashlib.sha256()

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise InvalidRequest("The form has too many parts.")
        self._headers = {}
        self._size = 0
        self._hash = hashlib.sha256()
        self._text = bytearray()
        self._file = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        self._is_file = b"filename" in options
        if self._name in self.upload.files or self._name in self.upload.fields:
            raise InvalidRequest(f"The form field {self._name} appears twice.")
        if b"filename" in options and self._name in self.limits:
            path = self.folder / self._name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._file = os.fdopen(fd, "wb")
            self.upload.files[self._name] = path

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        self._size += len(chunk)
        self._hash.update(chunk)
        if self._file is not None:
            limit = self.limits[self._name]
            if self._size > limit.max_bytes:
                raise FileTooLarge(
                    f"The {limit.label} is larger than {limit.max_bytes // 1_000_000} MB."
                )
            self._file.write(chunk)
        elif len(self._text) + len(chunk) <= MAX_TEXT_FIELD:
            self._text.extend(chunk)
        elif self._is_file and self._name not in self.limits:
            # A file under a name that takes none: one this call does not read (`photo`,
            # `video`) or a text field (`duration`). Naming the right fields helps, "too
            # long" did not.
            takes = " and ".join(sorted(self.limits))
            raise InvalidRequest(
                f"The form field {self._name or '(unnamed)'} takes no file: files go in {takes}."
            )
        else:
            raise InvalidRequest(f"The form field {self._name or '(unnamed)'} is too long.")

    def on_part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        else:
            self.upload.fields[self._name] = self._text.decode("utf-8", "replace")
        self.upload.digests[self._name] = self._hash.hexdigest()

    def on_end(self) -> None:
        self.ended = True

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):  # already failing: a full disk fails the flush
                self._file.close()


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidRequest("The body must be multipart/form-data.")
    return boundary


async def receive_form(
    chunks: AsyncIterator[bytes], content_type: str | None, folder: Path, limits: list[FileLimit]
) -> Upload:
    """Parse the body into `folder`; raises InvalidRequest or FileTooLarge."""
    collector = _Collector(folder, {limit.field: limit for limit in limits})
    callbacks = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_end",
        )
    }
    parser = MultipartParser(boundary_of(content_type), callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
        if not collector.ended:  # python-multipart's finalize() does not check this
            raise InvalidRequest("The multipart body ended before its closing boundary.")
    except (InvalidRequest, FileTooLarge):
        raise
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull() from None
        raise
    except Exception:
        raise InvalidRequest("The multipart body could not be parsed.") from None
    finally:
        collector.close()
    return collector.upload
