"""Span helpers: the only place that starts spans, so names and error handling stay uniform."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from . import names as n

logger = logging.getLogger("agent_cache.telemetry")


@contextmanager
def current_span(
    tracer: Any,
    name: str,
    attributes: dict[str, Any],
    links: Sequence[Any] | None = None,
) -> Iterator[Any]:
    """Start an INTERNAL span as the current one; on an exception set ERROR + ``error.type``.

    If the SDK fails (a broken processor or exporter), the body still runs, under a
    non-recording span: telemetry never breaks a tool call.
    """
    span, token = open_span(tracer, name, attributes, links)
    error: BaseException | None = None
    try:
        yield span
    except BaseException as exc:
        error = exc
        raise
    finally:
        close_span(span, token, None, error)


def mark_error(span: Any, exc: BaseException) -> None:
    """Record an exception on ``span`` by type only (messages may carry secrets)."""
    try:
        span.set_attribute(n.ERROR_TYPE, error_type(exc))
        span.set_status(Status(StatusCode.ERROR))
    except Exception:
        logger.debug("agent_cache: could not mark span error", exc_info=True)


def error_type(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module in ("builtins", "asyncio.exceptions") else f"{module}.{cls.__qualname__}"


def set_attribute(span: Any, key: str, value: Any) -> None:
    """``span.set_attribute`` that never raises into the caller (a broken span or SDK)."""
    try:
        span.set_attribute(key, value)
    except Exception:
        logger.debug("agent_cache: could not set span attribute", exc_info=True)


def span_context_of(span: Any) -> Any:
    """``span.get_span_context()``, or ``None`` if the span cannot say."""
    try:
        return span.get_span_context()
    except Exception:
        return None


def add_event(span: Any, name: str, attributes: dict[str, Any]) -> None:
    try:
        span.add_event(name, attributes)
    except Exception:
        logger.debug("agent_cache: could not add span event", exc_info=True)


def add_link(span: Any, span_context: Any) -> None:
    """Link ``span`` to another (a coalesced waiter to the load it shared)."""
    if span_context is None:
        return
    try:
        span.add_link(span_context)
    except Exception:
        logger.debug("agent_cache: could not add span link", exc_info=True)


def current() -> Any:
    """The current span (a non-recording one when there is none)."""
    try:
        return otel_trace.get_current_span()
    except Exception:
        return otel_trace.INVALID_SPAN


def current_span_context() -> Any:
    try:
        ctx = otel_trace.get_current_span().get_span_context()
        return ctx if ctx.is_valid else None
    except Exception:
        return None


def open_span(
    tracer: Any, name: str, attributes: dict[str, Any], links: Sequence[Any] | None = None
) -> tuple[Any, Any]:
    """Start an INTERNAL span and make it current until :func:`close_span`.

    For code that cannot nest a ``with`` block (``__aenter__``/``__aexit__``) or should not
    pay for a generator on every call (tool wrappers).
    """
    span = start_span(tracer, name, attributes, links)
    return span, make_current(span)


def start_span(
    tracer: Any, name: str, attributes: dict[str, Any], links: Sequence[Any] | None = None, *, root: bool = False
) -> Any:
    """Start an INTERNAL span *without* making it current (never raises).

    ``root=True`` starts a new trace whatever span is current: for work that outlives the
    call that started it (a background refresh), which links to that call instead.
    """
    try:
        return tracer.start_span(
            name,
            context=otel_context.Context() if root else None,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            links=[Link(c) for c in links] if links else None,
        )
    except Exception:
        logger.warning("agent_cache: could not start span %r; continuing without it", name, exc_info=True)
        return otel_trace.INVALID_SPAN


def make_current(span: Any) -> Any:
    """Make ``span`` the current span; return the token :func:`close_span` detaches."""
    try:
        return otel_context.attach(otel_trace.set_span_in_context(span))
    except Exception:
        logger.warning("agent_cache: could not make span %r current", getattr(span, "name", span), exc_info=True)
        return None


def close_span(span: Any, token: Any, attributes: dict[str, Any] | None, exc: BaseException | None) -> None:
    """Set closing ``attributes``, mark ``exc`` if any, restore the context and end the span."""
    try:
        if attributes:
            span.set_attributes(attributes)
        if exc is not None:
            mark_error(span, exc)
    except Exception:
        logger.debug("agent_cache: could not set closing span attributes", exc_info=True)
    finally:
        try:
            if token is not None:
                otel_context.detach(token)
        except Exception:  # detached in another context: the span still ends
            logger.debug("agent_cache: could not detach span context", exc_info=True)
        try:
            span.end()
        except Exception:
            logger.warning("agent_cache: could not end span %r", getattr(span, "name", span), exc_info=True)
