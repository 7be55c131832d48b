"""The Redis tier's server-side steps, as Lua scripts that each run atomically.

Why an index: clearing a namespace by ``SCAN MATCH`` walks the *whole* keyspace, so every
resource invalidation would cost time proportional to everything in Redis. Instead each
namespace keeps a set of its keys (values and load locks), ``{prefix}{namespace}\\x1findex``,
and ``clear`` removes exactly its members. The index is kept small without a background job:

- its expiry follows its members (the longest TTL; no expiry while a member has none);
- every write samples a few random members and drops those whose keys have expired.

Scripts touch keys derived from their arguments, so they suit a single Redis server (or a
replicated primary), not Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

INDEX_SUFFIX = "\x1findex"
LOCK_SUFFIX = "\x1flock"

# index_add(index, member, px): px = 0 means the member never expires.
_INDEX_ADD = """
local function index_add(idx, member, px)
  local t = redis.call('PTTL', idx)
  redis.call('SADD', idx, member)
  if px == 0 then
    redis.call('PERSIST', idx)
  elseif t == -2 or (t >= 0 and t < px) then
    redis.call('PEXPIRE', idx, px)
  end
  for _, m in ipairs(redis.call('SRANDMEMBER', idx, 3)) do
    if redis.call('EXISTS', m) == 0 then redis.call('SREM', idx, m) end
  end
end
local function store(key, idx, payload, px)
  if px > 0 then
    redis.call('SET', key, payload, 'PX', px)
  else
    redis.call('SET', key, payload)
  end
  index_add(idx, key, px)
end
"""

# KEYS: value, index. ARGV: payload, px.
_SET = _INDEX_ADD + """
store(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))
return 1
"""

# KEYS: value, lock, index. Remove one key and its load lock (fencing a load in flight).
_DELETE = """
redis.call('SREM', KEYS[3], KEYS[1], KEYS[2])
return redis.call('UNLINK', KEYS[1], KEYS[2])
"""

# KEYS: index. Remove every indexed key of the namespace, then the index.
_CLEAR = """
local members = redis.call('SMEMBERS', KEYS[1])
local removed = 0
for i = 1, #members, 1000 do
  removed = removed + redis.call('UNLINK', unpack(members, i, math.min(i + 999, #members)))
end
redis.call('DEL', KEYS[1])
return removed
"""

# KEYS: lock, index. ARGV: token, px. Take the load lock if nobody holds it.
_ACQUIRE = _INDEX_ADD + """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  index_add(KEYS[2], KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""

# KEYS: lock, index. ARGV: token. Release the lock only if we still own it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SREM', KEYS[2], KEYS[1])
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: value, lock, index. ARGV: token, payload, px. Store only while we still own the
# lock (an invalidation deletes it, fencing a load that started before it); storing and
# releasing in one step means a waiter sees the lock or the value, never a gap.
_STORE_AND_RELEASE = _INDEX_ADD + """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
store(KEYS[1], KEYS[3], ARGV[2], tonumber(ARGV[3]))
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], KEYS[2])
return 1
"""


# KEYS: value[, lock]. A value read together with its PTTL (atomically: the TTL is the one
# of this value, not of a value written between two commands), and whether the load lock
# is held when a lock key is given. Replies {payload or nil, pttl (-1: no expiry)[, 0/1]}.
_READ = """
local v = redis.call('GET', KEYS[1])
local t = -2
if v then t = redis.call('PTTL', KEYS[1]) end
if KEYS[2] then return {v, t, redis.call('EXISTS', KEYS[2])} end
return {v, t}
"""


def _script(source: str) -> AsyncScript:
    # Run by EVALSHA on the client given at call time, falling back to EVAL (and caching
    # the script again) after a restart flushed Redis's script cache.
    return AsyncScript(None, source.encode("utf-8"))  # type: ignore[arg-type]


SET = _script(_SET)
DELETE = _script(_DELETE)
CLEAR = _script(_CLEAR)
READ = _script(_READ)
ACQUIRE = _script(_ACQUIRE)
RELEASE = _script(_RELEASE)
STORE_AND_RELEASE = _script(_STORE_AND_RELEASE)


def run(client: Redis, script: AsyncScript, keys: list[str], args: list[Any]) -> Awaitable[Any]:
    """Run ``script`` on ``client`` (the shape :meth:`RedisLink.call` expects)."""
    return script(keys=keys, args=args, client=client)


__all__ = [
    "ACQUIRE", "CLEAR", "DELETE", "INDEX_SUFFIX", "LOCK_SUFFIX", "READ", "RELEASE", "SET",
    "STORE_AND_RELEASE", "run",
]
