"""Every telemetry name agent_cache emits, in one place.

These strings are a contract: dashboards, alert rules and users' own queries depend on
them. Change one and you break someone's alert. The GenAI semantic conventions are still
experimental, so the ``gen_ai.*`` strings are spelled out here rather than imported from
``opentelemetry-semantic-conventions``.
"""

from __future__ import annotations

from .._version import __version__

INSTRUMENTATION_NAME = "agent_cache"
INSTRUMENTATION_VERSION = __version__
SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.0"

# --- span names (the variable part follows a space) ---------------------------------
SPAN_INVOKE_AGENT = "invoke_agent"  # "invoke_agent {agent name}"
SPAN_EXECUTE_TOOL = "execute_tool"  # "execute_tool {tool name}"
SPAN_LOAD = "agent_cache.load"  # "agent_cache.load {cache name}"
SPAN_BATCH_LOAD = "agent_cache.batch_load"  # "agent_cache.batch_load {cache name}"

# --- span events -----------------------------------------------------------------------
EVENT_INVALIDATION = "agent_cache.invalidation"
EVENT_LOOP_DETECTED = "agent_cache.loop_detected"
# A load failed or timed out and the caller was answered with a stale value instead
# (attributes: error.type); on the caller's span.
EVENT_LOAD_FAILED = "agent_cache.load_failed"

# --- attribute keys ----------------------------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"  # opt-in only
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"  # opt-in only
ERROR_TYPE = "error.type"

ATTR_RESULT = "agent_cache.result"
ATTR_SCOPE = "agent_cache.scope"
ATTR_RESOURCE = "agent_cache.resource"
ATTR_TIER = "agent_cache.tier"
ATTR_EVICTION_REASON = "agent_cache.eviction.reason"
ATTR_LOOP_KIND = "agent_cache.loop.kind"
ATTR_LOOP_ACTION = "agent_cache.loop.action"
ATTR_LOOP_MESSAGE = "agent_cache.loop.message"
ATTR_ENTRIES_REMOVED = "agent_cache.invalidation.entries_removed"
ATTR_BATCH_SIZE = "agent_cache.batch.size"
ATTR_SESSION_TOOL_CALLS = "agent_cache.session.tool_calls"
ATTR_SESSION_HITS = "agent_cache.session.hits"
ATTR_SESSION_MISSES = "agent_cache.session.misses"

# --- attribute values ------------------------------------------------------------------------
OP_INVOKE_AGENT = "invoke_agent"
OP_EXECUTE_TOOL = "execute_tool"

RESULT_HIT = "hit"
RESULT_MISS = "miss"
RESULT_COALESCED = "coalesced"
RESULT_SHORT_CIRCUIT = "short_circuit"
RESULT_BYPASS = "bypass"
RESULT_STALE = "stale"  # an expired value answered (stale_while_revalidate / stale_if_error)
RESULTS = (RESULT_HIT, RESULT_MISS, RESULT_COALESCED, RESULT_SHORT_CIRCUIT, RESULT_BYPASS, RESULT_STALE)

SCOPE_GLOBAL = "global"
SCOPE_SESSION = "session"
SCOPE_CACHE = "cache"  # a plain AsyncCache / AsyncLRU / AsyncTTL, outside the agent layer

EVICTION_CAPACITY = "capacity"
EVICTION_EXPIRED = "expired"
EVICTION_INVALIDATED = "invalidated"

LOOP_REPEAT = "repeat"
LOOP_CYCLE = "cycle"
LOOP_MAX_DEPTH = "max_depth"
LOOP_REENTRANT = "reentrant"

# --- metric instruments: (name, unit, description) -----------------------------------------
METRIC_REQUESTS = ("agent_cache.requests", "{request}", "Cache lookups by outcome")
METRIC_INVALIDATIONS = ("agent_cache.invalidations", "{invalidation}", "Resource invalidations")
METRIC_LOOP_DETECTIONS = ("agent_cache.loop.detections", "{detection}", "Agent tool loops detected")
METRIC_EVICTIONS = ("agent_cache.evictions", "{eviction}", "Entries removed, by reason")
METRIC_ENTRY_COUNT = ("agent_cache.entry.count", "{entry}", "Entries currently cached")
METRIC_LOAD_DURATION = ("agent_cache.load.duration", "s", "Time spent in loaders")
METRIC_BATCH_SIZE = ("agent_cache.batch.size", "{key}", "Keys per batch load")
METRIC_LOAD_TIMEOUTS = (
    "agent_cache.load.timeouts",
    "{timeout}",
    "Callers that stopped waiting for a load after load_timeout",
)
METRIC_SESSION_ACTIVE = ("agent_cache.session.active", "{session}", "Agent sessions in progress")
METRIC_TOOL_DURATION = (
    "gen_ai.execute_tool.duration",
    "s",
    "Time spent running tool bodies (misses and mutations)",
)

# Bucket boundaries in seconds, resolving 0.1 ms to 10 s.
DURATION_BUCKETS_S = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

# Prometheus names, as the OTel Prometheus exporter renders the instruments above.
PROM_REQUESTS = "agent_cache_requests_total"
PROM_INVALIDATIONS = "agent_cache_invalidations_total"
PROM_LOOP_DETECTIONS = "agent_cache_loop_detections_total"
PROM_EVICTIONS = "agent_cache_evictions_total"
PROM_ENTRY_COUNT = "agent_cache_entry_count"
PROM_LOAD_DURATION = "agent_cache_load_duration_seconds"
PROM_BATCH_SIZE = "agent_cache_batch_size"
PROM_LOAD_TIMEOUTS = "agent_cache_load_timeouts_total"
PROM_SESSION_ACTIVE = "agent_cache_session_active"
PROM_TOOL_DURATION = "gen_ai_execute_tool_duration_seconds"

# --- the shared Redis tier (issue 7) -----------------------------------------------------------
SPAN_TIER = "agent_cache.tier"  # "agent_cache.tier {operation}": Redis round trips on the load path
TIER_REDIS = "redis"
ATTR_TIER_FAILURE = "agent_cache.tier.failure"  # error / short_circuit / corrupt
ATTR_LOCK_OUTCOME = "agent_cache.lock.outcome"  # acquired / contended / filled / abandoned
ATTR_BACKPLANE_DIRECTION = "agent_cache.backplane.direction"  # sent / received / dropped
TIER_FAILURE_ERROR = "error"
TIER_FAILURE_SHORT_CIRCUIT = "short_circuit"
TIER_FAILURE_CORRUPT = "corrupt"

METRIC_TIER_REQUESTS = ("agent_cache.tier.requests", "{request}", "Second-tier lookups by result (hit/miss)")
METRIC_TIER_FAILURES = (
    "agent_cache.tier.failures",
    "{failure}",
    "Second-tier round trips that failed, were skipped by an open breaker, or read unreadable values",
)
METRIC_TIER_LOCKS = ("agent_cache.tier.locks", "{lock}", "Distributed single-flight lock outcomes")
METRIC_BACKPLANE_MESSAGES = (
    "agent_cache.backplane.messages",
    "{message}",
    "Invalidation messages sent, received and dropped as malformed",
)
METRIC_BREAKER_STATE = ("agent_cache.breaker.state", "{state}", "Circuit breaker: 0 closed, 1 half-open, 2 open")
METRIC_BREAKER_OPENINGS = ("agent_cache.breaker.openings", "{opening}", "Times the circuit breaker opened")

PROM_TIER_REQUESTS = "agent_cache_tier_requests_total"
PROM_TIER_FAILURES = "agent_cache_tier_failures_total"
PROM_TIER_LOCKS = "agent_cache_tier_locks_total"
PROM_BACKPLANE_MESSAGES = "agent_cache_backplane_messages_total"
PROM_BREAKER_STATE = "agent_cache_breaker_state"
PROM_BREAKER_OPENINGS = "agent_cache_breaker_openings_total"
