"""OpenTelemetry for agent_cache: names, the API-only runtime, and an opt-in SDK setup.

Library code uses ``opentelemetry-api`` only. Install an SDK yourself, or call
:func:`configure` (``pip install agent_cache[otlp]``) to get one from ``OTEL_*`` variables.
"""

from typing import TYPE_CHECKING

from . import names
from .runtime import settings

if TYPE_CHECKING:  # type checkers see the real signature
    from .setup import configure
else:

    def configure(*args, **kwargs):
        """Set up the OpenTelemetry SDK (see :func:`agent_cache.telemetry.setup.configure`)."""
        from .setup import configure as _configure  # the SDK is imported only when asked for

        return _configure(*args, **kwargs)


__all__ = ["configure", "names", "settings"]
