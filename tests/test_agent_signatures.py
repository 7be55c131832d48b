"""Issue #13: the agent layer as frameworks call it — keys by signature, ``ignore=``,
``key=``, framework context parameters, ``key_fn`` bound to the mutation's signature,
tool names and silent bypasses made visible.

The context classes here are stand-ins declared with the frameworks' module and class
names: recognition must work *without importing any framework* (tests/frameworks runs
the real ones).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Annotated, Any

import pytest

from agent_cache import (
    AgentCache,
    AgentCacheInvalidator,
    AgentCacheSession,
    AgentLoopDetectedError,
    call_key,
)
from agent_cache.errors import ConfigurationTypeError, ConfigurationValueError


def framework_class(module: str, qualname: str, *, hashable: bool = False) -> type:
    """A class that says it is ``module.qualname`` (unhashable unless asked, like dataclasses)."""
    namespace: dict[str, Any] = {"__module__": module, "__qualname__": qualname}
    if not hashable:
        namespace["__hash__"] = None
        namespace["__eq__"] = lambda self, other: self is other
    return type(qualname.rsplit(".", 1)[-1], (), namespace)


RunContextWrapper = framework_class("agents.run_context", "RunContextWrapper")
ToolContext = type("ToolContext", (RunContextWrapper,), {"__module__": "agents.tool_context"})
RunContext = framework_class("pydantic_ai._run_context", "RunContext")
McpContext = framework_class("mcp.server.mcpserver.context", "Context")
InjectedToolArg = framework_class("langchain_core.tools.base", "InjectedToolArg", hashable=True)
InjectedState = type("InjectedState", (InjectedToolArg,), {"__module__": "langgraph.prebuilt.tool_node"})


def counting():
    runs: list[Any] = []

    async def body(*args: Any, **kwargs: Any) -> int:
        runs.append((args, kwargs))
        return len(runs)

    return runs, body


# --- keys follow the signature ---------------------------------------------------------------


async def test_positional_and_keyword_calls_share_one_entry():
    runs = []

    @AgentCache(resource="cart")
    async def get_cart(user_id, currency="EUR"):
        runs.append(user_id)
        return [user_id, currency]

    assert await get_cart("u1") == await get_cart(user_id="u1") == ["u1", "EUR"]
    assert await get_cart("u1", "USD") == await get_cart(user_id="u1", currency="USD")
    assert await get_cart(currency="USD", user_id="u1") == ["u1", "USD"]
    assert runs == ["u1", "u1"]  # one run per distinct call, however it was passed


async def test_call_key_invalidation_drops_a_keyword_called_entry():
    runs = []

    @AgentCache(resource="cart")
    async def get_cart(user_id):
        runs.append(user_id)
        return len(runs)

    @AgentCacheInvalidator(resource="cart", clear_all=False, key_fn=lambda args, kwargs: call_key(args[0]))
    async def add_to_cart(user_id, item):
        return item

    assert await get_cart(user_id="u1") == 1
    await add_to_cart(user_id="u1", item="laptop")  # keyword call: args[0] still the user
    assert await get_cart(user_id="u1") == 2  # was: the old cart served


async def test_ignore_leaves_named_parameters_out_however_passed():
    runs = []

    @AgentCache(resource="search", ignore=("request_id",))
    async def search(query, request_id=None):
        runs.append(query)
        return query.upper()

    await search("q", "r1")
    await search("q", request_id="r2")
    await search(query="q")
    assert runs == ["q"]


def test_ignore_of_an_unknown_parameter_fails_at_decoration():
    with pytest.raises(ConfigurationValueError, match="'requestid'"):
        @AgentCache(resource="search", ignore=("requestid",))
        async def search(query, request_id=None): ...

    with pytest.raises(ConfigurationTypeError, match="tuple"):
        AgentCache(resource="search", ignore="request_id")


async def test_key_callable_receives_the_arguments_by_name():
    runs = []

    @AgentCache(resource="weather", key=lambda city, units="c": city.lower())
    async def weather(city, units="c"):
        runs.append(city)
        return f"sunny in {city}"

    await weather("Oslo")
    await weather(city="OSLO", units="f")
    await weather("oslo")
    assert runs == ["Oslo"]


def test_a_key_callable_that_cannot_bind_fails_at_decoration():
    with pytest.raises(ConfigurationValueError, match="'town'"):
        @AgentCache(resource="weather", key=lambda town: town)
        async def weather(city): ...


# --- framework context parameters --------------------------------------------------------------


async def test_annotated_context_parameters_are_never_in_the_key():
    runs, body = counting()

    async def lookup(ctx: RunContextWrapper, user_id: str) -> int:  # openai-agents style
        return await body(user_id)

    tool = AgentCache(resource="profile")(lookup)
    assert await tool(ToolContext(), "u1") == 1
    assert await tool(ToolContext(), "u1") == 1  # a new context object per call: still a hit
    assert await tool(ToolContext(), user_id="u1") == 1
    assert len(runs) == 1


async def test_string_annotations_are_recognised_too():
    _runs, body = counting()
    namespace: dict[str, Any] = {"body": body}
    exec(
        "from __future__ import annotations\n"
        "async def lookup(ctx: RunContext[Deps], user_id: str):\n"  # Deps never defined
        "    return await body(user_id)\n",
        namespace,
    )
    tool = AgentCache(resource="profile")(namespace["lookup"])
    assert await tool(RunContext(), "u1") == await tool(RunContext(), user_id="u1") == 1


async def test_unannotated_context_is_recognised_by_its_value_type():
    runs, body = counting()

    @AgentCache(resource="profile")
    async def lookup(ctx, user_id):  # MCP/fastmcp pass ctx by keyword
        return await body(user_id)

    assert await lookup(ctx=McpContext(), user_id="u1") == 1
    assert await lookup(user_id="u1", ctx=McpContext()) == 1
    assert len(runs) == 1


async def test_langgraph_injected_state_and_runtime_are_left_out():
    runs, body = counting()

    @AgentCache(resource="orders")
    async def orders(user_id: str, state: Annotated[dict, InjectedState], runtime=None):
        return await body(user_id)

    history = {"messages": ["a long history"]}
    await orders(user_id="u1", state=history, runtime=object())
    history["messages"].append("grows with every turn")
    await orders(user_id="u1", state=history, runtime=object())
    assert len(runs) == 1


async def test_a_context_dependent_result_is_keyed_with_key():
    @dataclasses.dataclass(eq=False)
    class Deps:
        user: str

    async def whoami(ctx: RunContext) -> str:
        return ctx.deps.user

    tool = AgentCache(resource="me", key=lambda ctx: ctx.deps.user)(whoami)
    alice, bob = RunContext(), RunContext()
    alice.deps, bob.deps = Deps("alice"), Deps("bob")
    assert await tool(alice) == "alice"
    assert await tool(bob) == "bob"  # without key=, bob would be served alice's result


# --- key_fn bound to the mutation's signature --------------------------------------------------


async def test_key_fn_sees_the_first_parameter_as_args0_whatever_the_call_style():
    seen = []

    def key_fn(args, kwargs):
        seen.append((args, kwargs))
        return call_key(args[0])

    @AgentCacheInvalidator(resource="cart", clear_all=False, key_fn=key_fn)
    async def add_to_cart(user_id, item, *, quantity=1):
        return item

    await add_to_cart(user_id="u1", item="x")
    assert seen[0] == (("u1", "x"), {"quantity": 1})  # was: IndexError, then a silent full clear


# --- names, loop errors and silent failures ------------------------------------------------------


async def test_tool_names_are_plain_names_and_loop_errors_speak_to_the_model():
    def make_tool():
        @AgentCache(resource="cart")
        async def get_cart(user_id):
            return []

        return get_cart

    get_cart = make_tool()
    assert get_cart.tool_name == "get_cart"  # not make_tool.<locals>.get_cart
    with pytest.raises(AgentLoopDetectedError) as caught:
        async with AgentCacheSession(session_id="conv-7", max_tool_repeats=5):
            for _ in range(6):
                await get_cart("u1")
    error = caught.value
    assert (error.kind, error.tool, error.session_id) == ("repeat", "get_cart", "conv-7")
    assert "you called get_cart with the same arguments 6 times" in error.for_model
    assert "stop repeating" in error.for_model
    assert "6 times" in str(error)


async def test_a_session_scoped_tool_outside_a_session_warns_once_and_counts_bypass(caplog):
    runs = []

    @AgentCache(resource="notes", scope="session")
    async def notes(owner):
        runs.append(owner)
        return owner

    with caplog.at_level(logging.WARNING, logger="agent_cache"):
        await notes("a")
        await notes("a")
    assert runs == ["a", "a"]
    assert notes.get_metrics()["bypasses"] == 2
    assert sum("outside any open AgentCacheSession" in r.getMessage() for r in caplog.records) == 1
