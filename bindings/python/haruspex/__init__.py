"""Haruspex for Python: record events into Haruspex traces and read them back.

Standard library only: ctypes over libharuspex.so (see _lib.py for where it is loaded from).
The model is the C library's (docs/model.md): events on entities, blocks, interactions between a
cause and its effects, contexts that cross process boundaries. bindings/python/README.md is the
guide; the C header include/haruspex.h is the reference for what each call records.

    import haruspex as hx

    hx.init(dir="traces", service="checkout")
    with hx.trace("order"):
        with hx.block("load", user="ada"):
            hx.point("read", bytes=4096, path="/etc/hosts")
    hx.shutdown()

    for trace in hx.read_traces("traces"):
        print(trace.trace_id, len(trace.events))
"""

from . import _lib
from ._lib import HaruspexError, Unavailable, lib_path
from ._record import (Entity, EntityKind, Fsync, Interaction, Mutex, Sampler, Sink, State, Target,
                      annotate, async_complete, async_start, block, cause, caused_by, child_done,
                      continue_trace, counter, counter_names, delivered, effect, enabled, error,
                      fork, forked, init, join, name_enable, point, publish, receive, reply,
                      reply_received, request, request_received, sampled, send, shutdown, state,
                      stats, thread_name, trace, trace_begin, trace_end, trace_join, traced,
                      version, version_number)
from .context import (CTX_FOREIGN, CTX_SAMPLED, CTX_VALID, Context, baggage_get, baggage_header,
                      baggage_parse, baggage_set, event_digest, extract, inject)
from .reader import Cause, Damage, Event, Link, Process, Reader, Trace, read, read_traces

__version__ = "0.1.0"


def missing_functions():
    """The C functions this binding can use that the loaded library does not export (their
    Python functions raise Unavailable). Empty for a library as new as the binding."""
    return sorted(n for n in _lib._PROTOTYPES if not _lib.has(n))


__all__ = [
    "HaruspexError", "Unavailable", "lib_path", "missing_functions",
    "Sink", "Sampler", "Fsync", "Interaction", "EntityKind", "State", "Target",
    "version", "version_number", "init", "shutdown", "enabled", "sampled", "name_enable",
    "thread_name", "trace", "trace_begin", "trace_join", "trace_end", "continue_trace",
    "block", "traced", "point", "counter", "error", "annotate", "state", "cause", "effect",
    "send", "receive", "request", "request_received", "reply", "reply_received", "async_start",
    "async_complete", "fork", "forked", "child_done", "join", "publish", "delivered",
    "caused_by", "Entity", "Mutex", "stats", "counter_names",
    "Context", "CTX_SAMPLED", "CTX_VALID", "CTX_FOREIGN", "inject", "extract", "event_digest",
    "baggage_set", "baggage_get", "baggage_header", "baggage_parse",
    "Event", "Cause", "Process", "Damage", "Reader", "read", "Trace", "Link", "read_traces",
]
