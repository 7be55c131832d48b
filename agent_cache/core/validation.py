"""Parameter checks that fail at construction/decoration time with the parameter's name."""

from __future__ import annotations

import inspect
from numbers import Real
from typing import Any, TypeVar, cast

from ..errors import ConfigurationTypeError, ConfigurationValueError

C = TypeVar("C")


def check_maxsize(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationTypeError(f"{name} must be an int >= 0 or None, got {type(value).__name__}")
    if value < 0:
        raise ConfigurationValueError(f"{name} must be >= 0 or None, got {value}")
    return value


def check_ttl(name: str, value: Any) -> float | None:
    """A TTL in seconds: a positive number, or ``None`` for no expiry."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigurationTypeError(f"{name} must be a number of seconds > 0 or None, got {type(value).__name__}")
    if not value > 0:  # type: ignore[operator]  # typeshed's numbers.Real declares no comparisons
        raise ConfigurationValueError(f"{name} must be > 0 seconds or None, got {value}")
    return float(value)


def check_non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationTypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ConfigurationValueError(f"{name} must be >= 0, got {value}")
    return value


def check_positive_int(name: str, value: Any) -> int:
    checked = check_non_negative_int(name, value)
    if checked == 0:
        raise ConfigurationValueError(f"{name} must be > 0, got 0")
    return checked


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigurationValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return cast(str, value)


def check_name(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationTypeError(f"{name} must be a non-empty str, got {value!r}")
    return value


def check_callable(name: str, func: C) -> C:
    """A decorator's target must be callable (``async def`` or plain ``def``)."""
    if not callable(func):
        raise ConfigurationTypeError(f"{name} must decorate a function, got {type(func).__name__}")
    return func


def check_coroutine_function(name: str, func: C) -> C:
    """Decorated tools must be ``async def`` functions (a sync one would block the loop)."""
    target = inspect.unwrap(func) if callable(func) else func
    if not (inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(target)):
        raise ConfigurationTypeError(
            f"{name} must decorate an async function (async def); "
            f"got {getattr(func, '__qualname__', type(func).__name__)!r}"
        )
    return func


def check_window_ms(name: str, value: Any) -> float:
    """A batching window in milliseconds: a finite number >= 0 (``inf``/NaN would hang)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigurationTypeError(f"{name} must be a number of milliseconds, got {type(value).__name__}")
    if not (0 <= value < float("inf")):  # type: ignore[operator]  # (as above) also false for NaN
        raise ConfigurationValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def check_window(name: str, value: Any) -> float:
    """A stale window in seconds: a finite number >= 0 (0 turns the feature off)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigurationTypeError(f"{name} must be a number of seconds >= 0, got {type(value).__name__}")
    seconds = float(value)
    if not (0 <= seconds < float("inf")):  # also false for NaN
        raise ConfigurationValueError(f"{name} must be a finite number of seconds >= 0, got {value}")
    return seconds


def check_timeout(name: str, value: Any) -> float | None:
    """A timeout in seconds: a finite number > 0, or ``None`` for no timeout."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigurationTypeError(f"{name} must be a number of seconds > 0 or None, got {type(value).__name__}")
    seconds = float(value)
    if not (0 < seconds < float("inf")):  # also false for NaN
        raise ConfigurationValueError(f"{name} must be a finite number of seconds > 0 or None, got {value}")
    return seconds
