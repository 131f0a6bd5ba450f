"""facedub: the command-line client for the FaceDub API (hosted or a local facedubd).

`from facedub_cli import FaceDubClient, FaceDubError` gives the Python SDK; the names
are loaded on first use so that `facedub --help` never imports httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["FaceDubClient", "FaceDubError", "__version__"]

if TYPE_CHECKING:
    from facedub_cli.client import FaceDubClient
    from facedub_cli.errors import FaceDubError


def __getattr__(name: str) -> Any:
    if name == "FaceDubClient":
        from facedub_cli.client import FaceDubClient

        return FaceDubClient
    if name == "FaceDubError":
        from facedub_cli.errors import FaceDubError

        return FaceDubError
    raise AttributeError(f"module 'facedub_cli' has no attribute {name!r}")
