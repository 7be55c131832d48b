"""OpenTelemetry for agent_cache: names, the API-only runtime, and an opt-in SDK setup.

Library code uses ``opentelemetry-api`` only. Install an SDK yourself, or call
:func:`configure` (``pip install agent_cache[otlp]``) to get one from ``OTEL_*`` variables.
"""

from . import names
from .runtime import settings


def configure(*args, **kwargs):
    """Set up the OpenTelemetry SDK (see :func:`agent_cache.telemetry.setup.configure`)."""
    from .setup import configure as _configure

    return _configure(*args, **kwargs)


__all__ = ["configure", "names", "settings"]
