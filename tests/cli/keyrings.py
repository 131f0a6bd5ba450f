"""Keyring backends for the CLI tests, selected in a `facedub` subprocess through
PYTHON_KEYRING_BACKEND=tests.cli.keyrings.<Class> (PYTHONPATH set to the repo root)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError


class BrokenKeyring(KeyringBackend):
    """A keyring that exists but fails every call, like a locked or absent Secret Service."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError("the test keyring is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError("the test keyring is locked")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringError("the test keyring is locked")


class JsonFileKeyring(KeyringBackend):
    """A working keyring kept in the JSON file named by TEST_KEYRING_FILE."""

    priority = 1  # type: ignore[assignment]

    @staticmethod
    def _path() -> Path:
        return Path(os.environ["TEST_KEYRING_FILE"])

    def _load(self) -> dict[str, str]:
        path = self._path()
        return json.loads(path.read_text()) if path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        self._path().write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("no such password")
        self._path().write_text(json.dumps(data))
