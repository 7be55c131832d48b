"""Keys that follow a tool's signature (issue #13).

LLM tool calls arrive as keyword arguments, frameworks pass positionally, and both must
land on one entry: ``get_cart("u1")`` and ``get_cart(user_id="u1")`` share a key. The
signature is read once, at decoration time; a call with positional, hashable arguments and
nothing to leave out still uses the argument tuple itself as the key (the fast path), and
every other call is bound to the same canonical form here:

* positional-or-keyword parameters become slots in declaration order, however they were
  passed (a slot skipped between two passed ones takes its default);
* keyword-only parameters and ``**kwargs`` follow, sorted by name, after a marker;
* parameters that are not data are left out: the first ``skip_args``, the names in
  ``ignore=``, and **framework context parameters** — recognised without importing any
  framework, by annotation (resolved with ``typing.get_type_hints``, matched by module and
  class name through the MRO and ``Annotated`` metadata) and, at call time, by the value's
  type (see :data:`CONTEXT_TYPES`).

``key=`` replaces all of that: the callable receives the call's arguments by name (bound to
the tool's signature) and returns the key.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Hashable
from typing import Any

from ..core.keys import _ATOMIC, KW_MARK, _Mark, freeze_safely
from ..errors import ConfigurationTypeError, ConfigurationValueError

#: Classes whose instances are a framework's per-call plumbing, never data the model chose
#: (module.qualname; subclasses match through the MRO).
CONTEXT_TYPES = frozenset({
    "agents.run_context.RunContextWrapper",          # openai-agents
    "agents.tool_context.ToolContext",
    "pydantic_ai._run_context.RunContext",           # pydantic-ai
    "pydantic_ai.tools.RunContext",
    "mcp.server.mcpserver.context.Context",          # MCP SDK 2
    "mcp.server.fastmcp.server.Context",             # MCP SDK 1
    "fastmcp.server.context.Context",                # fastmcp
    "langchain_core.runnables.config.RunnableConfig",  # LangChain / LangGraph
    "langchain_core.tools.base.InjectedToolArg",     # InjectedState, InjectedStore, InjectedToolCallId
    "langchain_core.tools.base._DirectlyInjectedToolArg",  # ToolRuntime
    "langgraph.prebuilt.tool_node.ToolRuntime",
    "langchain_core.callbacks.manager.CallbackManager",
    "langchain_core.callbacks.manager.AsyncCallbackManager",
    "crewai.agents.agent_builder.base_agent.BaseAgent",
})

#: Annotation names recognised when an annotation cannot be resolved (a string naming an
#: import made under ``TYPE_CHECKING``). Only names no application class plausibly shares.
CONTEXT_ANNOTATION_NAMES = frozenset({
    "RunContextWrapper", "ToolContext", "RunContext", "RunnableConfig", "ToolRuntime",
    "InjectedState", "InjectedStore", "InjectedToolCallId", "InjectedToolArg",
})

#: Unannotated parameters LangGraph injects by name.
CONTEXT_PARAMETER_NAMES = frozenset({"runtime", "callbacks"})

CONTEXT_MARK = _Mark("context")
KEY_FN_MARK = _Mark("key")
_GAP = _Mark("gap")

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_context_type_cache: dict[type, bool] = {}


def _dotted(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '')}.{getattr(cls, '__qualname__', '')}"


def is_context_type(cls: type) -> bool:
    """Whether instances of ``cls`` are framework context (cached per class)."""
    known = _context_type_cache.get(cls)
    if known is None:
        try:
            mro = inspect.getmro(cls)
        except AttributeError:
            mro = (cls,)
        known = any(_dotted(c) in CONTEXT_TYPES for c in mro)
        _context_type_cache[cls] = known
    return known


def is_context_value(value: Any) -> bool:
    return is_context_type(type(value))


def _annotation_is_context(annotation: Any) -> bool:
    if annotation is inspect.Parameter.empty:
        return False
    if isinstance(annotation, str):
        head = annotation.split("[", 1)[0].strip().rsplit(".", 1)[-1]
        if head == "Annotated":
            inner = annotation.split("[", 1)[1]
            return any(name in inner for name in CONTEXT_ANNOTATION_NAMES)
        return head in CONTEXT_ANNOTATION_NAMES
    if _dotted(annotation) in CONTEXT_TYPES:  # TypedDicts (RunnableConfig) match by name
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        for meta in metadata:
            target = meta if isinstance(meta, type) else type(meta)
            if is_context_type(target):
                return True
        return _annotation_is_context(base)
    if origin is typing.Union or str(origin) == "types.UnionType":
        return any(_annotation_is_context(a) for a in typing.get_args(annotation) if a is not type(None))
    if origin is not None:  # RunContext[Deps] and other generics
        return _annotation_is_context(origin)
    return isinstance(annotation, type) and is_context_type(annotation)


def context_parameters(func: Callable[..., Any]) -> set[str]:
    """Names of ``func``'s parameters that carry framework context, by annotation/name."""
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return set()
    try:
        hints: dict[str, Any] = typing.get_type_hints(inspect.unwrap(func), include_extras=True)
    except Exception:  # a forward reference we cannot resolve: use the raw annotations
        hints = {}
    found = set()
    for name, parameter in parameters.items():
        annotation = hints.get(name, parameter.annotation)
        unannotated = parameter.annotation is inspect.Parameter.empty
        if (
            _annotation_is_context(annotation)
            or _annotation_is_context(parameter.annotation)
            or (unannotated and name in CONTEXT_PARAMETER_NAMES)
        ):
            found.add(name)
    return found


class SignatureKey:
    """Builds a tool's cache key from a call, bound to the tool's signature."""

    __slots__ = (
        "owner", "signature", "slot_of", "defaults", "dropped_slots", "dropped_names",
        "key_fn", "key_fn_names", "key_fn_takes_all", "context", "plain",
    )

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        owner: str,
        skip: int = 0,
        ignore: tuple[str, ...] = (),
        key_fn: Callable[..., Any] | None = None,
    ) -> None:
        self.owner = owner
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            signature = None
        self.signature = signature
        parameters = list(signature.parameters.values()) if signature else []
        names = {p.name for p in parameters}
        takes_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
        for name in ignore:
            if not isinstance(name, str):
                raise ConfigurationTypeError(f"ignore must name parameters (str), got {name!r}")
            if signature is not None and name not in names and not takes_var_kw:
                raise ConfigurationValueError(
                    f"ignore names {name!r}, which is not a parameter of {owner} "
                    f"(its parameters: {', '.join(sorted(names)) or 'none'})"
                )
        self.context = context_parameters(func)
        positional = [p for p in parameters if p.kind in _POSITIONAL]
        self.slot_of = {
            p.name: i for i, p in enumerate(positional) if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        }
        self.defaults = [p.default if p.default is not inspect.Parameter.empty else _GAP for p in positional]
        dropped = set(ignore) | self.context
        self.dropped_slots = frozenset(
            i for i, p in enumerate(positional) if i < skip or p.name in dropped
        ) | frozenset(range(len(positional), skip))
        self.dropped_names = frozenset(dropped)
        self.key_fn = key_fn
        self.key_fn_names: tuple[str, ...] = ()
        self.key_fn_takes_all = False
        if key_fn is not None:
            self._check_key_fn(key_fn, parameters)
        #: a plain positional call may use its argument tuple as the key
        self.plain = not self.dropped_slots and key_fn is None

    def _check_key_fn(self, key_fn: Callable[..., Any], tool_parameters: list[inspect.Parameter]) -> None:
        if not callable(key_fn):
            raise ConfigurationTypeError(f"key must be callable, got {type(key_fn).__name__}")
        try:
            parameters = list(inspect.signature(key_fn).parameters.values())
        except (TypeError, ValueError):
            raise ConfigurationTypeError(f"key= of {self.owner}: its signature cannot be read") from None
        tool_names = {p.name for p in tool_parameters}
        self.key_fn_takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
        names = []
        for p in parameters:
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            if p.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise ConfigurationTypeError(
                    f"key= of {self.owner}: parameter {p.name!r} is positional-only; the key "
                    "function receives the tool's arguments by name"
                )
            if p.name not in tool_names:
                if p.default is inspect.Parameter.empty:
                    raise ConfigurationValueError(
                        f"key= of {self.owner} needs parameter {p.name!r}, which the tool does not have "
                        f"(its parameters: {', '.join(sorted(tool_names)) or 'none'})"
                    )
                continue
            names.append(p.name)
        self.key_fn_names = tuple(names)

    # -- per call -----------------------------------------------------------------------------

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name (defaults applied), for ``key=``."""
        if self.signature is None:
            return dict(kwargs)
        bound = self.signature.bind_partial(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        for p in self.signature.parameters.values():
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                arguments.update(arguments.pop(p.name, {}))
        return arguments

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
        """The canonical key of ``tool(*args, **kwargs)`` (raises UnkeyableArgumentError)."""
        if self.key_fn is not None:
            arguments = self.arguments(args, kwargs)
            if self.key_fn_takes_all:
                chosen = arguments
            else:
                chosen = {name: arguments[name] for name in self.key_fn_names if name in arguments}
            return (KEY_FN_MARK, freeze_safely(self.key_fn(**chosen)))
        values = list(args)
        extras: list[tuple[str, Any]] = []
        slot_of = self.slot_of
        for name, value in kwargs.items():
            slot = slot_of.get(name)
            if slot is None:
                if name not in self.dropped_names:
                    extras.append((name, value))
                continue
            if slot >= len(values):
                values.extend([_GAP] * (slot + 1 - len(values)))
            values[slot] = value
        defaults = self.defaults
        dropped = self.dropped_slots
        key = []
        for i, value in enumerate(values):
            if i in dropped:
                continue
            if value is _GAP and i < len(defaults):
                value = defaults[i]
            key.append(CONTEXT_MARK if is_context_value(value) else value)
        frozen: tuple[Any, ...] = tuple([v if type(v) in _ATOMIC else freeze_safely(v) for v in key])
        if extras:
            extras.sort(key=lambda item: item[0])
            tail = tuple((k, CONTEXT_MARK if is_context_value(v) else freeze_safely(v)) for k, v in extras)
            return (*frozen, KW_MARK, *tail)
        return frozen
