"""The one telemetry gate: the only module that reads OpenTelemetry's global state.

Two questions are asked on hot paths, so they must be nearly free when nobody listens:

* :func:`active_tracer` — the agent_cache tracer when spans would be recorded, else
  ``None``. With no SDK tracer provider ever installed this is one module-attribute read.
* :func:`metrics_enabled` — whether an SDK meter provider is installed, so synchronous
  histogram records are worth making.

The OpenTelemetry API keeps the installed providers in private module globals
(``opentelemetry.trace._TRACER_PROVIDER``, ``opentelemetry.metrics._internal._METER_PROVIDER``)
and exposes them only through getters that *create* proxy providers as a side effect. We
read the globals here and nowhere else; ``tests/otel/test_gate.py`` fails if the API
renames or moves them, so an upgrade cannot silently turn telemetry off.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace as otel_trace
from opentelemetry.metrics import _internal as _metrics_internal
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider

from . import names as n

logger = logging.getLogger("agent_cache.telemetry")

#: (module, attribute) pairs this gate reads; the gate test checks they still exist.
PRIVATE_GLOBALS = (
    (otel_trace, "_TRACER_PROVIDER"),
    (_metrics_internal, "_METER_PROVIDER"),
    (otel_context, "_SUPPRESS_INSTRUMENTATION_KEY"),
)

_SUPPRESS_KEY = getattr(otel_context, "_SUPPRESS_INSTRUMENTATION_KEY", "suppress_instrumentation")
_tracer_cache: tuple[Any, Any] = (None, None)  # (provider seen, tracer or None)


def _resolve_tracer(provider: Any) -> Any:
    global _tracer_cache
    tracer = None
    if provider is not None and not isinstance(provider, (NoOpTracerProvider, ProxyTracerProvider)):
        try:
            tracer = provider.get_tracer(n.INSTRUMENTATION_NAME, n.INSTRUMENTATION_VERSION, schema_url=n.SCHEMA_URL)
        except Exception:  # a broken SDK must not break tool calls
            logger.warning("agent_cache: could not get a tracer; spans disabled", exc_info=True)
            tracer = None
    _tracer_cache = (provider, tracer)
    return tracer


if os.environ.get("OTEL_PYTHON_TRACER_PROVIDER"):
    try:
        otel_trace.get_tracer_provider()  # let the API load the configured provider now
    except Exception:  # a provider that fails to load must not break `import agent_cache`
        logger.warning("agent_cache: the configured tracer provider failed to load", exc_info=True)


def active_tracer() -> Any:
    """The agent_cache tracer when spans would be recorded, else ``None`` (cheaply)."""
    provider = otel_trace._TRACER_PROVIDER
    if provider is None:
        return None
    seen, tracer = _tracer_cache
    if provider is not seen:
        tracer = _resolve_tracer(provider)
    if tracer is None:
        return None
    try:
        if otel_context.get_value(_SUPPRESS_KEY):
            return None
    except Exception:
        return None
    return tracer


#: A C-level zero-argument callable answering the installed tracer provider or ``None``:
#: ``tracer_probe() is None`` is the cheapest possible "nobody listens" for hot paths, which
#: then call :func:`active_tracer` only when it is not ``None``.
tracer_probe = functools.partial(vars(otel_trace).get, "_TRACER_PROVIDER")


def metrics_enabled() -> bool:
    """Whether an SDK meter provider is installed (so synchronous records are worth making)."""
    provider = _metrics_internal._METER_PROVIDER
    return provider is not None and not isinstance(provider, otel_metrics.NoOpMeterProvider)


#: Like :data:`tracer_probe` for the meter provider: ``meter_probe() is None`` means no
#: provider was ever installed (then :func:`metrics_enabled` is False without a call).
meter_probe = functools.partial(vars(_metrics_internal).get, "_METER_PROVIDER")
