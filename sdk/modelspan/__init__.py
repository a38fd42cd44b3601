"""modelspan: OpenTelemetry-native monitoring for ML inference.

The public API is listed in ``__all__`` and pinned by ``tests/sdk/test_public_api.py``.
"""

from __future__ import annotations

from pkgutil import extend_path

# ``modelspan.exporters`` lives in ``exporters/modelspan``; merge it in (design.md, decision 8).
__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"

__all__: list[str] = ["__version__"]
