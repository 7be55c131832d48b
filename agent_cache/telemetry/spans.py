"""Span helpers: the only place that starts spans, so names and error handling stay uniform."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
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


def close_span(
    span: Any, token: Any, attributes: dict[str, Any] | None, exc: BaseException | None, *, owned: bool = True
) -> None:
    """Set closing ``attributes``, mark ``exc`` if any, restore the context and end the span.

    ``owned=False`` for a span :func:`adoptable_span` handed over: its attributes are set,
    but its owner (the framework) marks its errors and ends it.
    """
    if not owned:
        if attributes:
            annotate(span, attributes)
        return
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


# -- one span per operation: annotating the framework's own span -------------------------------

#: The ``openinference.span.kind`` OpenInference bridges put where GenAI conventions put
#: ``gen_ai.operation.name`` (their spans carry no operation name).
_OPENINFERENCE_KINDS = {n.OP_EXECUTE_TOOL: "TOOL", n.OP_INVOKE_AGENT: "AGENT"}
_OPENINFERENCE_KIND = "openinference.span.kind"
_OURS = "agent_cache."


def adoptable_span(operation: str, identity_key: str, identity: str) -> Any:
    """The current span, when a framework's own instrumentation opened it for this very
    ``operation`` (``execute_tool`` / ``invoke_agent``), so agent_cache annotates it instead
    of opening a second span of the same operation under it; else ``None``.

    pydantic-ai's ``instrument``, the MCP SDK's and fastmcp's ``tools/call`` server spans,
    traceloop's and the OpenInference bridges already open one span per tool call (and per
    agent run) and make it current in the tool body; a second ``execute_tool`` under it
    doubles every tool in trace views and span-derived metrics.

    A span qualifies when it is recording, was *not* started by agent_cache (a tool called
    inside another tool keeps its own child span), says it is this operation
    (``gen_ai.operation.name``, or OpenInference's ``openinference.span.kind``), names the
    same ``identity`` under ``identity_key`` if it names one (the tool name; the
    conversation id for a session — a framework span of *another* tool or conversation is
    not this call's), and carries no ``agent_cache.*`` attribute yet (adopted once).

    An integration that holds the framework's span of this call without the framework
    having made it current (OpenInference's LangChain tracer buffers its attributes until
    the span ends, so they cannot be read) makes it current with :func:`vouched_span`.

    Why probing, and only here: the OpenTelemetry API offers no way to read a span's
    attributes or its tracer; the SDK's spans (``ReadableSpan``) expose ``attributes`` and
    ``instrumentation_scope``, other implementations may not. Anything unexpected answers
    ``None`` (agent_cache then opens its own span, as before).
    """
    try:
        span = otel_trace.get_current_span()
        if not span.is_recording():
            return None
        vouched = otel_context.get_value(_VOUCHED)
        if isinstance(vouched, list) and vouched and vouched[0] is span:
            if vouched[1:] != [operation, identity]:
                return None
            vouched.clear()  # this call adopts it; a call nested inside opens its own
            return span
        scope = getattr(span, "instrumentation_scope", None)
        if scope is not None and getattr(scope, "name", None) == n.INSTRUMENTATION_NAME:
            return None
        attributes = getattr(span, "attributes", None)
        if not isinstance(attributes, Mapping):
            return None
        if attributes.get(n.GEN_AI_OPERATION_NAME) != operation and (
            attributes.get(_OPENINFERENCE_KIND) != _OPENINFERENCE_KINDS.get(operation)
        ):
            return None
        named = attributes.get(identity_key)
        if named is not None and named != identity:
            return None
        if any(key.startswith(_OURS) for key in attributes):
            return None
        return span
    except Exception:
        logger.debug("agent_cache: could not inspect the current span", exc_info=True)
        return None


_VOUCHED = otel_context.create_key("agent_cache.vouched_span")


@contextmanager
def vouched_span(span: Any, operation: str, identity: str) -> Iterator[None]:
    """Make a framework's ``span`` current, vouching that it is its span of this very
    ``operation`` for ``identity`` (the tool name): the first agent_cache call of that tool
    under it annotates it (see :func:`adoptable_span`)."""
    context = otel_trace.set_span_in_context(span)
    context = otel_context.set_value(_VOUCHED, [span, operation, identity], context)
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


def annotate(span: Any, attributes: dict[str, Any]) -> None:
    """Add agent_cache's ``attributes`` to a framework's span: ``agent_cache.*`` keys always,
    other keys (``gen_ai.*``) only where the framework did not set its own value."""
    try:
        existing = getattr(span, "attributes", None)
        if not isinstance(existing, Mapping):
            existing = {}
        span.set_attributes({k: v for k, v in attributes.items() if k.startswith(_OURS) or k not in existing})
    except Exception:
        logger.debug("agent_cache: could not annotate span", exc_info=True)
