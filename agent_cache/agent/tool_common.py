"""What cached tools and mutation tools share: names, timing, span attributes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.naming import callable_name
from ..core.validation import check_choice, check_coroutine_function, check_name
from ..telemetry import names as tn
from ..telemetry import runtime as tel
from ..telemetry import spans

if TYPE_CHECKING:
    from .session import AgentCacheSession

W = TypeVar("W", bound=Callable[..., Any])

SCOPES = (tn.SCOPE_GLOBAL, tn.SCOPE_SESSION)
_perf = time.perf_counter


class ToolBase:
    """A decorated tool: its identity, labels and the pieces of its telemetry."""

    def __init__(self, func: Callable[..., Awaitable[Any]], decorator: str, resource: Any, scope: Any,
                 tool_name: str | None, record_arguments: bool | None) -> None:
        check_coroutine_function(decorator, func)
        self.func = func
        self.resource = check_name("resource", resource)
        self.scope = check_choice("scope", scope, SCOPES)
        self.tool_name = check_name("name", tool_name) if tool_name is not None else callable_name(func)
        self.record_arguments = record_arguments
        self.span_name = f"{tn.SPAN_EXECUTE_TOOL} {self.tool_name}"
        self._duration_attrs = {
            result: {tn.GEN_AI_TOOL_NAME: self.tool_name, tn.ATTR_RESULT: result}
            for result in tn.RESULTS
        }

    @staticmethod
    def _check_labels(resource: Any, scope: Any) -> None:
        check_name("resource", resource)
        check_choice("scope", scope, SCOPES)

    def span_attributes(
        self, session: AgentCacheSession | None, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            tn.GEN_AI_OPERATION_NAME: tn.OP_EXECUTE_TOOL,
            tn.GEN_AI_TOOL_NAME: self.tool_name,
            tn.ATTR_RESOURCE: self.resource,
            tn.ATTR_SCOPE: self.scope,
        }
        if session is not None:
            attrs[tn.GEN_AI_CONVERSATION_ID] = session.session_id
        if self._records_arguments():
            attrs[tn.GEN_AI_TOOL_CALL_ARGUMENTS] = tel.truncate(_describe(args, kwargs))
        return attrs

    def _records_arguments(self) -> bool:
        if self.record_arguments is None:
            return tel.settings.record_arguments
        return self.record_arguments

    def record_result(self, span: Any, result: str, value: Any) -> None:
        if span is None:  # no SDK: nothing to record
            return
        spans.set_attribute(span, tn.ATTR_RESULT, result)
        if self._records_arguments():
            spans.set_attribute(span, tn.GEN_AI_TOOL_CALL_RESULT, tel.truncate(_safe_repr(value)))

    async def run_body(self, args: tuple[Any, ...], kwargs: dict[str, Any], result: str) -> Any:
        """Run the tool itself, timing it for ``gen_ai.execute_tool.duration``."""
        if not tel.metrics_enabled():
            return await self.func(*args, **kwargs)
        started = _perf()
        try:
            value = await self.func(*args, **kwargs)
        except Exception as exc:
            attrs = dict(self._duration_attrs[result])
            attrs[tn.ERROR_TYPE] = spans.error_type(exc)
            tel.record(tel.tool_duration, _perf() - started, attrs)
            raise
        tel.record(tel.tool_duration, _perf() - started, self._duration_attrs[result])
        return value

    def attach(self, wrapper: W) -> W:
        """Put the tool's labels on ``wrapper`` (read by users and by the typed handles)."""
        wrapper.resource = self.resource  # type: ignore[attr-defined]
        wrapper.scope = self.scope  # type: ignore[attr-defined]
        wrapper.tool_name = self.tool_name  # type: ignore[attr-defined]
        return wrapper


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__qualname__}: repr failed>"


def _describe(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [_safe_repr(a) for a in args] + [f"{k}={_safe_repr(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"
