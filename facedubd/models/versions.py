"""The converter's version, kept apart so reading the cache state never imports onnx."""

from __future__ import annotations

#: Bump when the emitted ONNX graph changes, so cached conversions are redone.
CONVERTER_VERSION = "1"
