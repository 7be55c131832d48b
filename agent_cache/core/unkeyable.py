"""What happens to a call whose arguments cannot be keyed safely: it runs uncached
(result ``bypass``), and its callable warns once, naming the parameter and its type."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from ..errors import UnkeyableArgumentError
from .keys import freeze_safely

logger = logging.getLogger("agent_cache")

HINT = (
    "pass key= to compute the key yourself or ignore= to leave the parameter out "
    "(AgentCache), or skip_args for leading arguments"
)


def culprit(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str]:
    """``(parameter name, type name)`` of the first argument that cannot be keyed."""
    try:
        bound = inspect.signature(func).bind_partial(*args, **kwargs).arguments
        named = list(bound.items())
    except (TypeError, ValueError):
        named = [(f"argument {i}", a) for i, a in enumerate(args)] + list(kwargs.items())
    for name, value in named:
        try:
            freeze_safely(value)
        except UnkeyableArgumentError:
            return name, f"{type(value).__module__}.{type(value).__qualname__}"
    return "?", "?"


class UnkeyableWarning:
    """Warns once per decorated callable about arguments it cannot key."""

    __slots__ = ("owner", "func", "warned")

    def __init__(self, owner: str, func: Callable[..., Any]) -> None:
        self.owner = owner
        self.func = func
        self.warned = False

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self.warned:
            return
        self.warned = True
        parameter, type_name = culprit(self.func, args, kwargs)
        logger.warning(
            "agent_cache: %s runs uncached for calls whose parameter %r is a %s: it cannot be "
            "keyed by value safely (unhashable without a by-value form, self-referencing, or "
            "nested too deeply); %s",
            self.owner, parameter, type_name, HINT,
        )
