"""The client's one error type and the code → exit status table (DESIGN "Codes")."""

from __future__ import annotations

EXIT_CODES: dict[str, int] = {
    "unauthorized": 3,
    "plan_no_api": 3,
    "account_suspended": 3,
    "credits_exhausted": 8,
    "not_found": 4,
    "rate_limited": 5,
    "concurrency_limit": 5,
    "invalid_request": 8,
    "invalid_duration": 8,
    "key_limit": 8,
    "unreadable_photo": 8,
    "unreadable_video": 8,
    "unsupported_codec": 8,
    "no_face_in_photo": 8,
    "face_too_small": 8,
    "no_face_in_video": 8,
    "video_too_short": 8,
    "file_too_large": 8,
    "idempotency_conflict": 8,
    "job_finished": 8,
    "job_not_finished": 8,
    "output_deleted": 4,  # not found: the job is there, its video no longer is
    "usage_error": 2,
    "invalid_config": 2,
    "models_loading": 1,
    "internal": 1,
    "storage_full": 1,
    "io_error": 1,
    "timeout": 1,
    "connection_failed": 7,
    "job_failed": 6,
}

# A code this client does not know yet is judged by its HTTP status.
_EXIT_BY_STATUS: dict[int, int] = {401: 3, 403: 3, 404: 4, 409: 8, 413: 8, 429: 5}


class FaceDubError(Exception):
    """An API error (RFC 9457 problem `code`), or a client-side failure with its own code.

    `code` is a stable word (see DESIGN "Codes"), `message` a sentence for a person,
    `status` the HTTP status (0 when no response came back).
    """

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    @property
    def exit_code(self) -> int:
        """The `facedub` exit status for this error."""
        if self.code in EXIT_CODES:
            return EXIT_CODES[self.code]
        if 400 <= self.status < 500:
            return _EXIT_BY_STATUS.get(self.status, 8)
        return 1


class ConnectionFailed(FaceDubError):
    """Nothing answered at the URL or socket tried."""

    def __init__(self, target: str, detail: str) -> None:
        super().__init__("connection_failed", f"cannot connect to {target}: {detail}")
        self.target = target
