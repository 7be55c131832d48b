"""The Redis tier's server-side steps, as Lua scripts that each run atomically.

Why generations, not an index of keys: a clear that deletes the keys listed in a
per-namespace set depends on that set surviving. Under ``maxmemory`` with
``allkeys-lru`` (the usual cache setting) Redis evicts the set while hot values survive,
and from then on a clear deletes nothing. Instead every namespace (split in *stripes*,
see :mod:`~agent_cache.backends.redis.keys`) has a **generation**: a random token stored
in one key, embedded in the name of every value and lock key of that stripe. A clear
replaces the token with a fresh random one (O(1)); the old entries become unreachable and
expire by their own TTL or are evicted.

Every script that reads or writes an entry gets the generation key *and* the entry key
(named with the generation the client believes current) as ``KEYS`` and checks the two
agree before touching the entry. When they do not, it answers the current generation and
the client retries with it; a store fenced by a clear (the generation changed since the
load started) is refused. A generation key that is missing (evicted, or never written) is
replaced by a fresh random token, never by an older one: eviction makes entries
unreachable, it never resurrects them.

All keys a script touches share one hash tag (the stripe's), so every script runs on one
Redis Cluster slot.

A generation key lives at least as long as the entries written under it (a write extends
its expiry; an entry without expiry makes it persist) and otherwise :data:`IDLE_MS` after
it was made: an idle namespace (a session that ended) leaves no key behind for long, and
its expiry is as safe as an eviction.

Reply shapes (``g`` is the current generation):

- mismatch, for every script that checks: ``{g}`` (one element);
- ``READ``: ``{g, pttl, lock_held, payload or nil}``;
- ``ACQUIRE``: ``{g, 1}`` locked, ``{g, 0}`` held by someone else,
  ``{g, 2, pttl, payload}`` already filled (lock not taken);
- ``SET`` / ``DELETE``: ``{g, n}``; ``STORE_AND_RELEASE``: ``0`` / ``1``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

#: How long a generation key outlives its last entry (one day).
IDLE_MS = 86_400_000

# current(): the generation, creating a fresh one (ARGV[2]) if the key is gone.
# cover(): make the generation live at least as long as an entry of ``px`` ms (0: forever).
_CHECK = f"""
local function current(gkey, fresh)
  local g = redis.call('GET', gkey)
  if not g then
    g = fresh
    redis.call('SET', gkey, g, 'PX', {IDLE_MS})
  end
  return g
end
local function cover(gkey, px)
  if px == 0 then
    redis.call('PERSIST', gkey)
  else
    local t = redis.call('PTTL', gkey)
    if t >= 0 and t < px then redis.call('PEXPIRE', gkey, px) end
  end
end
"""

# KEYS: gen, value[, lock]. ARGV: gen, fresh.
_READ = _CHECK + """
local g = current(KEYS[1], ARGV[2])
if g ~= ARGV[1] then return {g} end
local v = redis.call('GET', KEYS[2])
local t = -2
if v then t = redis.call('PTTL', KEYS[2]) end
local l = 0
if KEYS[3] then l = redis.call('EXISTS', KEYS[3]) end
return {g, t, l, v}
"""

# KEYS: gen, value. ARGV: gen, fresh, payload, px (0: no expiry).
_SET = _CHECK + """
local g = current(KEYS[1], ARGV[2])
if g ~= ARGV[1] then return {g} end
local px = tonumber(ARGV[4])
if px > 0 then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', px)
else
  redis.call('SET', KEYS[2], ARGV[3])
end
cover(KEYS[1], px)
return {g, 1}
"""

# KEYS: gen, value, lock. ARGV: gen, fresh, channel, message. Deleting the lock fences a
# load in flight (its STORE_AND_RELEASE finds the lock gone). The message is published in
# the same step, so a replica that sees it reads the deletion too.
_DELETE = _CHECK + """
local g = current(KEYS[1], ARGV[2])
if g ~= ARGV[1] then return {g} end
local n = redis.call('UNLINK', KEYS[2], KEYS[3])
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return {g, n}
"""

# KEYS: one or more gens (one slot). ARGV: channel, message, then one fresh token per key.
# A clear: every entry of these stripes becomes unreachable at once.
_BUMP = f"""
for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[i + 2], 'PX', {IDLE_MS}) end
if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return #KEYS
"""

# KEYS: gen, lock, value. ARGV: gen, fresh, token, lock px. Take the load lock unless the
# value is there already (then answer it: one round trip saved). A lock planted without
# an expiry gets one, so it delays misses by ``lock_ttl`` at most.
_ACQUIRE = _CHECK + """
local g = current(KEYS[1], ARGV[2])
if g ~= ARGV[1] then return {g} end
local v = redis.call('GET', KEYS[3])
if v then return {g, 2, redis.call('PTTL', KEYS[3]), v} end
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4]) then return {g, 1} end
if redis.call('PTTL', KEYS[2]) == -1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return {g, 0}
"""

# KEYS: lock. ARGV: token. Release the lock only if we still own it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: gen, value, lock. ARGV: gen, token, payload, px. Store only while the generation
# is the one the load started under (no clear since) and we still own the lock (no
# delete since); storing and releasing in one step means a waiter sees the lock or the
# value, never a gap. A missing generation is not recreated here: refuse.
_STORE_AND_RELEASE = _CHECK + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return 0 end
local px = tonumber(ARGV[4])
if px > 0 then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', px)
else
  redis.call('SET', KEYS[2], ARGV[3])
end
cover(KEYS[1], px)
redis.call('DEL', KEYS[3])
return 1
"""


def _script(source: str) -> AsyncScript:
    # Run by EVALSHA on the client given at call time, falling back to EVAL (and caching
    # the script again) after a restart flushed Redis's script cache.
    return AsyncScript(None, source.encode("utf-8"))  # type: ignore[arg-type]


READ = _script(_READ)
SET = _script(_SET)
DELETE = _script(_DELETE)
BUMP = _script(_BUMP)
ACQUIRE = _script(_ACQUIRE)
RELEASE = _script(_RELEASE)
STORE_AND_RELEASE = _script(_STORE_AND_RELEASE)

#: Every script, for loading ahead and for the permission check at connect.
ALL = (READ, SET, DELETE, BUMP, ACQUIRE, RELEASE, STORE_AND_RELEASE)


def run(client: Redis, script: AsyncScript, keys: list[str], args: list[Any]) -> Awaitable[Any]:
    """Run ``script`` on ``client`` (the shape :meth:`RedisLink.call` expects)."""
    return script(keys=keys, args=args, client=client)


__all__ = [
    "ACQUIRE", "ALL", "BUMP", "DELETE", "READ", "RELEASE", "SET", "STORE_AND_RELEASE", "run",
]
