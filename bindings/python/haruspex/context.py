"""Contexts: what crosses a boundary so that an effect can name its cause.

A Context is an immutable value (trace ID, the cause event's ID, flags), copied freely between
threads and processes. Across processes it travels as W3C `traceparent`/`tracestate` headers
(interoperable with OpenTelemetry and other W3C tracers), as `baggage`, or in the compact binary
form (include/haruspex/propagation.h is the reference for all three).

A context that names nothing is *invalid* (`ctx.valid` is False): what the recording functions
return while tracing is off, and what parsing a malformed or missing header gives. It has no
traceparent (None) and no binary form (b""), injecting it sets no header, and
`continue_trace(ctx, ...)` with it starts a new trace, so a program keeps going whatever arrives.
"""

import ctypes

from . import _lib
from ._lib import HaruspexError, fn

__all__ = ["Context", "inject", "extract", "baggage_set", "baggage_get", "baggage_header",
           "baggage_parse", "event_digest"]

CTX_SAMPLED = 0x1
CTX_VALID = 0x2
CTX_FOREIGN = 0x4

_ZERO_ID = bytes(16)


def _text(s, what):
    if isinstance(s, str):
        return s.encode("utf-8", "surrogateescape")
    if isinstance(s, (bytes, bytearray, memoryview)):
        return bytes(s)
    raise TypeError(f"{what} must be str or bytes, not {type(s).__name__}")


def _trace_id_bytes(trace_id):
    if trace_id is None:
        return _ZERO_ID
    if isinstance(trace_id, str):
        b = bytes.fromhex(trace_id)
    else:
        b = bytes(trace_id)
    if len(b) != 16:
        raise ValueError(f"a trace ID is 16 bytes (32 hex digits), got {len(b)} bytes")
    return b


class Context:
    """An hx_context: trace ID, the cause event's ID (entity_id, seq) and flags. Immutable."""

    __slots__ = ("_trace_id", "_entity_id", "_seq", "_flags")

    def __init__(self, trace_id=None, entity_id=0, seq=0, flags=0):
        """Build a context from its fields (as received from a custom transport). `trace_id` is
        16 bytes or 32 hex digits; `flags` is a combination of CTX_SAMPLED, CTX_VALID and
        CTX_FOREIGN. Context() is the invalid context."""
        object.__setattr__(self, "_trace_id", _trace_id_bytes(trace_id))
        object.__setattr__(self, "_entity_id", int(entity_id) & 0xFFFFFFFFFFFFFFFF)
        object.__setattr__(self, "_seq", int(seq) & 0xFFFFFFFFFFFFFFFF)
        object.__setattr__(self, "_flags", int(flags) & 0xFFFFFFFF)

    def __setattr__(self, name, value):
        raise AttributeError("Context is immutable")

    # ---- conversions to and from the C struct ----
    @classmethod
    def _from_c(cls, c):
        return cls(bytes(c.trace_id), c.entity_id, c.seq, c.flags)

    def _to_c(self):
        c = _lib.hx_context()
        ctypes.memmove(c.trace_id, self._trace_id, 16)
        c.entity_id = self._entity_id
        c.seq = self._seq
        c.flags = self._flags
        c.reserved = 0
        return c

    # ---- fields ----
    @property
    def trace_id(self):
        """The trace ID as 32 lower-case hex digits, or None when all zero (no trace)."""
        return None if self._trace_id == _ZERO_ID else self._trace_id.hex()

    @property
    def trace_id_bytes(self):
        return self._trace_id

    @property
    def entity_id(self):
        return self._entity_id

    @property
    def seq(self):
        return self._seq

    @property
    def event_id(self):
        """The cause event's ID: (entity_id, seq)."""
        return (self._entity_id, self._seq)

    @property
    def flags(self):
        return self._flags

    @property
    def sampled(self):
        return bool(self._flags & CTX_SAMPLED)

    @property
    def valid(self):
        return bool(self._flags & CTX_VALID)

    @property
    def foreign(self):
        """True when the cause came from another tracer (a W3C parent-id without the Haruspex
        event ID): entity_id holds the parent-id and seq is 0."""
        return bool(self._flags & CTX_FOREIGN)

    def __bool__(self):
        return self.valid

    def __eq__(self, other):
        if not isinstance(other, Context):
            return NotImplemented
        return (self._trace_id, self._entity_id, self._seq, self._flags) == \
            (other._trace_id, other._entity_id, other._seq, other._flags)

    def __hash__(self):
        return hash((self._trace_id, self._entity_id, self._seq, self._flags))

    def __repr__(self):
        if not self.valid:
            return "Context(invalid)"
        flags = [n for n, b in (("sampled", CTX_SAMPLED), ("foreign", CTX_FOREIGN))
                 if self._flags & b]
        return (f"Context(trace_id={self.trace_id}, entity_id={self._entity_id:016x}, "
                f"seq={self._seq}{', ' if flags else ''}{', '.join(flags)})")

    # ---- the current context ----
    @classmethod
    def current(cls):
        """The context of the last event recorded on the current entity (invalid while tracing
        is off or before the entity's first event). Records nothing."""
        return cls._from_c(fn("hx_context_current")())

    # ---- W3C Trace Context ----
    def traceparent(self):
        """The `traceparent` header value (version 00), or None for an invalid context."""
        if not self.valid:
            return None
        buf = ctypes.create_string_buffer(_lib.HX_TRACEPARENT_LEN + 1)
        c = self._to_c()
        rc = fn("hx_traceparent_format")(ctypes.byref(c), buf, len(buf))
        if rc == _lib.HX_EINVAL:
            return None
        if rc < 0:
            raise HaruspexError(rc, "hx_traceparent_format")
        return buf.value.decode("ascii")

    def tracestate(self, prev=None):
        """The `tracestate` header value: the `hx` member carrying the full event ID first, then
        the members of `prev` (the tracestate that arrived, if any) other than `hx`. None for an
        invalid context."""
        if not self.valid:
            return None
        buf = ctypes.create_string_buffer(_lib.HX_TRACESTATE_MAX + 1)
        c = self._to_c()
        p = None if prev is None else _text(prev, "prev")
        rc = fn("hx_tracestate_format")(ctypes.byref(c), p, buf, len(buf))
        if rc == _lib.HX_EINVAL:
            return None
        if rc < 0:
            raise HaruspexError(rc, "hx_tracestate_format")
        return buf.value.decode("ascii")

    @classmethod
    def from_traceparent(cls, traceparent, tracestate=None):
        """Parse a `traceparent` (and the `tracestate` that came with it). A malformed or None
        traceparent gives an invalid context (counted as bad_header by the library), so that
        continue_trace() starts a new trace. A malformed tracestate is ignored: the context then
        stays foreign (a cause no Haruspex file names)."""
        if traceparent is None:
            return cls()
        tp = _text(traceparent, "traceparent")
        c = _lib.hx_context()
        if fn("hx_traceparent_parse")(tp, len(tp), ctypes.byref(c)) < 0:
            return cls()
        if tracestate is not None:
            ts = _text(tracestate, "tracestate")
            fn("hx_tracestate_apply")(ts, len(ts), ctypes.byref(c))
        return cls._from_c(c)

    # ---- binary form ----
    def to_bytes(self):
        """The compact binary form (at most 40 bytes); b"" for an invalid context."""
        if not self.valid:
            return b""
        buf = (ctypes.c_uint8 * _lib.HX_CONTEXT_BINARY_MAX)()
        c = self._to_c()
        n = fn("hx_context_to_binary")(ctypes.byref(c), buf, len(buf))
        if n == _lib.HX_EINVAL:
            return b""
        if n < 0:
            raise HaruspexError(n, "hx_context_to_binary")
        return bytes(buf[:n])

    @classmethod
    def from_bytes(cls, data):
        """Parse the binary form (bytes after it are ignored). Malformed input gives an invalid
        context, as a malformed traceparent does."""
        data = bytes(data)
        if not data:
            return cls()
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        c = _lib.hx_context()
        if fn("hx_context_from_binary")(buf, len(data), ctypes.byref(c)) <= 0:
            return cls()
        return cls._from_c(c)


def event_digest(entity_id, seq):
    """The 64-bit W3C parent-id that stands for event (entity_id, seq); never 0."""
    return fn("hx_event_digest")(entity_id, seq)


# ---- carriers ------------------------------------------------------------------------------------

def inject(ctx, headers, prev_tracestate=None):
    """Set `traceparent`, `tracestate` (keeping the members of `prev_tracestate`) and, when the
    context's trace has baggage in this process, `baggage` in the dict `headers`; headers of the
    same names in any letter case are replaced. An invalid context sets nothing. Returns
    `headers`."""
    if not isinstance(ctx, Context):
        raise TypeError(f"inject() needs a Context, not {type(ctx).__name__}")
    if not ctx.valid:
        return headers
    collected = []
    failure = []

    def setter(_carrier, name, value):
        try:
            collected.append((name.decode("ascii"), value.decode("utf-8", "surrogateescape")))
            return 0
        except Exception as e:  # an exception must not cross back into C
            failure.append(e)
            return 1

    cb = _lib.HEADER_SET_FN(setter)
    c = ctx._to_c()
    prev = None if prev_tracestate is None else _text(prev_tracestate, "prev_tracestate")
    rc = fn("hx_inject")(ctypes.byref(c), prev, cb, None)
    if failure:
        raise failure[0]
    if rc == _lib.HX_EINVAL:
        return headers
    if rc < 0:
        raise HaruspexError(rc, "hx_inject")
    for name, value in collected:
        for k in [k for k in headers if isinstance(k, str) and k.lower() == name.lower()]:
            del headers[k]
        headers[name] = value
    return headers


def _header_items(headers):
    if hasattr(headers, "items"):
        return headers.items()
    return headers


def extract(headers):
    """The context carried by `headers`: a dict (or any mapping, or an iterable of (name, value)
    pairs) of HTTP-style headers, matched case-insensitively. A value may be a str, bytes, or a
    list of them (repeated headers, joined with ","). Baggage that arrived is stored for the
    context's trace in this process (baggage_get() reads it once the trace is joined). Without a
    traceparent, or with a malformed one, the context is invalid and continue_trace() starts a
    new trace."""
    merged = {}
    order = []
    for name, value in _header_items(headers):
        key = _text(name, "header name").lower()
        if isinstance(value, (list, tuple)):
            parts = [_text(v, "header value") for v in value]
        else:
            parts = [_text(value, "header value")]
        if key not in merged:
            merged[key] = []
            order.append(key)
        merged[key].extend(parts)
    pairs = (_lib.hx_header_pair * max(1, len(order)))()
    keep = []
    for i, key in enumerate(order):
        value = b",".join(merged[key])
        keep.append((key, value))
        pairs[i].name = key
        pairs[i].value = value
    c = _lib.hx_context()
    fn("hx_extract_pairs")(pairs, len(order), ctypes.byref(c))
    return Context._from_c(c)


# ---- baggage ---------------------------------------------------------------------------------------

def baggage_set(key, value):
    """Set (value None: remove) a baggage entry of the current trace. Returns True when stored,
    False without a current trace or over the W3C limits (the entry is dropped and counted as
    baggage_dropped). Raises ValueError for a key that is not a W3C token."""
    k = _text(key, "key")
    v = None if value is None else _text(value, "value")
    rc = fn("hx_baggage_set")(k, v)
    if rc == _lib.HX_EINVAL:
        raise ValueError(f"baggage key {key!r} is not a W3C token")
    if rc in (_lib.HX_ESTATE, _lib.HX_ENOSPC):
        return False
    if rc < 0:
        raise HaruspexError(rc, "hx_baggage_set")
    return True


def baggage_get(key, default=None):
    """The value of baggage entry `key` of the current trace, or `default` when absent or
    without a current trace."""
    k = _text(key, "key")
    size = 256
    while True:
        buf = ctypes.create_string_buffer(size)
        n = fn("hx_baggage_get")(k, buf, size)
        if n == _lib.HX_ENOSPC and size <= _lib.HX_BAGGAGE_MAX_BYTES:
            size = _lib.HX_BAGGAGE_MAX_BYTES + 1
            continue
        if n in (_lib.HX_ENOENT, _lib.HX_ESTATE):
            return default
        if n < 0:
            raise HaruspexError(n, "hx_baggage_get")
        return buf.raw[:n].decode("utf-8", "surrogateescape")


def _trace_id_arg(context):
    if context is None:
        return None
    tid = context.trace_id_bytes if isinstance(context, Context) else _trace_id_bytes(context)
    return (ctypes.c_uint8 * 16).from_buffer_copy(tid)


def baggage_header(context=None):
    """The `baggage` header value of the trace of `context` (a Context or a trace ID; None: the
    current trace): "" when it has none."""
    buf = ctypes.create_string_buffer(_lib.HX_BAGGAGE_MAX_BYTES + 1)
    n = fn("hx_baggage_format")(_trace_id_arg(context), buf, len(buf))
    if n < 0:
        raise HaruspexError(n, "hx_baggage_format")
    return buf.raw[:n].decode("utf-8", "surrogateescape")


def baggage_parse(header, context=None):
    """Merge the entries of a `baggage` header value into the baggage of the trace of `context`
    (a Context or a trace ID; None: the current trace). Returns True when every member was well
    formed; malformed members are skipped and counted (bad_header)."""
    h = _text(header, "baggage")
    if context is None:
        context = Context.current()
    rc = fn("hx_baggage_parse")(_trace_id_arg(context), h, len(h))
    if rc == _lib.HX_EFORMAT:
        return False
    if rc < 0:
        raise HaruspexError(rc, "hx_baggage_parse")
    return True
