"""Who competes: a builder per contender that wraps a body coroutine the way its users would.

A builder takes ``(body, maxsize)`` and returns a callable whose call returns an awaitable.
Builders import their library lazily, so a missing library turns that contender into an
``n/a`` row with the reason instead of stopping the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import floors

FLOOR, OURS, PEER = "floor", "agent_cache", "peer"
TTL_S = 3600  # long enough never to expire during a run


@dataclass(frozen=True)
class Contender:
    name: str
    family: str
    build: Callable[..., Callable[..., Any]]
    notes: str = field(default="")


# --- floors --------------------------------------------------------------------------------


def _bare(body, maxsize):
    return body


def _ideal(body, maxsize):
    return floors.ideal(body, maxsize)


def _ideal_kw(body, maxsize):
    return floors.ideal_kw(body)


def _ideal_kw_ordered(body, maxsize):
    return floors.ideal_kw_ordered(body)


# --- agent_cache -----------------------------------------------------------------------------


def _ac_lru(body, maxsize):
    from agent_cache import AsyncLRU

    return AsyncLRU(maxsize=maxsize)(body)


def _ac_ttl(body, maxsize):
    from agent_cache import AsyncTTL

    return AsyncTTL(time_to_live=TTL_S, maxsize=maxsize)(body)


def _ac_get(body, maxsize):
    """``AsyncCache.get(key, loader=...)`` as its README shows it (loader closure per call)."""
    from agent_cache import AsyncCache

    get = AsyncCache(maxsize=maxsize, name=body.__name__).get

    def call(k):
        return get(k, loader=lambda: body(k))

    return call


def _ac_agent(body, maxsize, scope="global"):
    from agent_cache import AgentCache

    return AgentCache(resource=body.__name__, scope=scope, maxsize=maxsize)(body)


def _ac_agent_session_scope(body, maxsize):
    return _ac_agent(body, maxsize, scope="session")


# --- peers -----------------------------------------------------------------------------------


def _asynccache_lru(body, maxsize):
    from cache import AsyncLRU  # PyPI async-cache

    return AsyncLRU(maxsize=maxsize)(body)


def _asynccache_ttl(body, maxsize):
    from cache import AsyncTTL

    return AsyncTTL(time_to_live=TTL_S, maxsize=maxsize)(body)


def _asynccache_get(body, maxsize):
    from cache import AsyncCache

    get = AsyncCache(maxsize=maxsize).get

    def call(k):
        return get(k, loader=lambda: body(k))

    return call


def _alru(body, maxsize):
    from async_lru import alru_cache

    return alru_cache(maxsize=maxsize)(body)


def _alru_ttl(body, maxsize):
    from async_lru import alru_cache

    return alru_cache(maxsize=maxsize, ttl=TTL_S)(body)


def _aiocache(body, maxsize):
    from aiocache import cached

    return cached()(body)  # no size bound exists in aiocache's memory cache


def _aiocache_no_timeout(body, maxsize):
    from aiocache import cached

    return cached(ttl=None, timeout=None)(body)  # skips asyncio.wait_for on each cache op


def _cashews(body, maxsize):
    from cashews import Cache

    c = Cache(name=body.__name__)
    # check_interval=0: no expiry sweeper task. Left on, every cashews cache made during a
    # run rescans its whole store each second inside *other* contenders' timed loops.
    c.setup(f"mem://?size={maxsize}&check_interval=0")
    return c(ttl=TTL_S)(body)


BARE = Contender("bare", FLOOR, _bare, "undecorated coroutine")
IDEAL = Contender("ideal", FLOOR, _ideal, "d.get(args), store on miss (FIFO bound if maxsize)")
IDEAL_KW = Contender("ideal-kw", FLOOR, _ideal_kw, "ideal with a minimal freeze of kwargs/dicts")
IDEAL_KW_ORDERED = Contender("ideal-kw-ordered", FLOOR, _ideal_kw_ordered, "ideal-kw, keyword order kept (no sort)")

AC_LRU = Contender("agent_cache.AsyncLRU", OURS, _ac_lru)
AC_TTL = Contender("agent_cache.AsyncTTL", OURS, _ac_ttl)
AC_GET = Contender("agent_cache.AsyncCache.get", OURS, _ac_get, "get(k, loader=lambda: f(k))")
AC_AGENT = Contender("agent_cache.AgentCache", OURS, _ac_agent, "scope=global, no session")

ASYNCCACHE_LRU = Contender("async-cache.AsyncLRU", PEER, _asynccache_lru)
ASYNCCACHE_TTL = Contender("async-cache.AsyncTTL", PEER, _asynccache_ttl)
ASYNCCACHE_GET = Contender("async-cache.AsyncCache.get", PEER, _asynccache_get)
ALRU = Contender("async-lru", PEER, _alru)
ALRU_TTL = Contender("async-lru(ttl)", PEER, _alru_ttl)
AIOCACHE = Contender("aiocache", PEER, _aiocache, "cached(), unbounded")
AIOCACHE_NT = Contender("aiocache(timeout=None)", PEER, _aiocache_no_timeout, "unbounded")
CASHEWS = Contender("cashews", PEER, _cashews, "mem://, sweeper off")

DECORATOR_PEERS = [ASYNCCACHE_LRU, ASYNCCACHE_TTL, ALRU, ALRU_TTL, AIOCACHE, AIOCACHE_NT, CASHEWS]
OUR_DECORATORS = [AC_LRU, AC_TTL, AC_GET]
