"""Recording: the instrumentation API of include/haruspex.h, the Python way.

Every recording function writes exactly one event on the current entity of the calling thread
and returns after the event is in the sink, as in C. The C header's `static inline` short forms
(hx_point, hx_block_begin, hx_send ...) do not exist in the shared library; these functions call
the exported *_attrs functions they wrap.
"""

import ctypes
import enum
import functools
import inspect
import os

from . import _lib
from ._lib import HaruspexError, fn
from .context import Context

__all__ = [
    "Sink", "Sampler", "Fsync", "Interaction", "EntityKind", "State", "Target",
    "version", "version_number", "init", "shutdown", "enabled", "sampled", "name_enable",
    "trace_begin", "trace_join", "trace_end", "continue_trace", "trace", "block", "traced",
    "point", "counter", "error", "annotate", "state", "thread_name", "cause", "effect",
    "send", "receive", "request", "request_received", "reply", "reply_received",
    "async_start", "async_complete", "fork", "forked", "child_done", "join", "publish",
    "delivered", "caused_by", "Entity", "Mutex", "stats", "counter_names",
]


class Sink(enum.IntEnum):
    FILE = 0
    STDERR = 1
    CALLBACK = 2
    NONE = 3
    TCP = 4
    KAFKA = 5


class Fsync(enum.IntEnum):
    NONE = 0
    INTERVAL = 1
    EVERY = 2


class Sampler(enum.IntEnum):
    ALWAYS = 0
    NEVER = 1
    PROBABILITY = 2
    RATE = 3


class Interaction(enum.IntEnum):
    MESSAGE = 1
    REQUEST = 2
    REPLY = 3
    ASYNC = 4
    FORK = 5
    JOIN = 6
    LOCK = 7
    PUBLISH = 8
    CAUSAL = 9


class EntityKind(enum.IntEnum):
    THREAD = 1
    COROUTINE = 2
    TASK = 3
    PROCESS = 4


class State(enum.IntEnum):
    RUNNING = 1
    WAITING = 2


class Target(enum.IntEnum):
    TRACE = 1
    ENTITY = 2
    BLOCK = 3


def _enum(cls, value, what):
    """An enum member from a member, its int value or its name in any case ("waiting")."""
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        try:
            return cls[value.upper()]
        except KeyError:
            pass
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            return cls(value)
        except ValueError:
            pass
    names = ", ".join(m.name.lower() for m in cls)
    raise ValueError(f"{what} must be one of {names}, not {value!r}")


def _name(s):
    """A name, key or unit as the C library takes it: UTF-8 bytes (None stays NULL)."""
    if s is None:
        return None
    if isinstance(s, str):
        return s.encode("utf-8", "surrogateescape")
    if isinstance(s, (bytes, bytearray)):
        return bytes(s)
    raise TypeError(f"a name must be str or bytes, not {type(s).__name__}")


_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def _attrs(attrs):
    """Python attributes -> (hx_attr array, count, objects to keep alive during the call).

    bool -> BOOL (tested before int: bool is an int), int -> INT (64-bit), float -> DOUBLE,
    str -> STRING (UTF-8), bytes/bytearray/memoryview -> BYTES. Anything else is a TypeError."""
    n = len(attrs)
    if n == 0:
        return None, 0, None
    arr = (_lib.hx_attr * n)()
    keep = []
    for i, (key, value) in enumerate(attrs.items()):
        a = arr[i]
        k = _name(key)
        keep.append(k)
        a.key = k
        if isinstance(value, bool):
            a.type = 3
            a.v.b = 1 if value else 0
        elif isinstance(value, int):
            if not _INT64_MIN <= value <= _INT64_MAX:
                raise OverflowError(f"attribute {key!r}: {value} does not fit in 64 bits")
            a.type = 1
            a.v.i = value
        elif isinstance(value, float):
            a.type = 2
            a.v.d = value
        elif isinstance(value, str):
            b = value.encode("utf-8", "surrogateescape")
            buf = ctypes.create_string_buffer(b, len(b))
            keep.append(buf)
            a.type = 4
            a.v.s.ptr = ctypes.addressof(buf)
            a.v.s.len = len(b)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            b = bytes(value)
            buf = ctypes.create_string_buffer(b, len(b))
            keep.append(buf)
            a.type = 5
            a.v.s.ptr = ctypes.addressof(buf)
            a.v.s.len = len(b)
        else:
            raise TypeError(f"attribute {key!r}: values are int, float, bool, str or bytes, "
                            f"not {type(value).__name__}")
    return arr, n, keep


# ---- versions and life cycle -------------------------------------------------------------------

def version():
    """The loaded library's version string ("0.1.0")."""
    return fn("hx_version")().decode()


def version_number():
    return fn("hx_version_number")()


# The callback sink's Python function and its ctypes thunk, kept alive while tracing runs.
_callback_keep = None


def _parse_sampler(sampler, probability, rate):
    if isinstance(sampler, str) and ":" in sampler:
        kind, _, arg = sampler.partition(":")
        s = _enum(Sampler, kind, "sampler")
        if s is Sampler.PROBABILITY:
            probability = float(arg)
        elif s is Sampler.RATE:
            rate = float(arg)
        else:
            raise ValueError(f"sampler {sampler!r}: only probability:P and rate:N take a value")
        return s, probability, rate
    return _enum(Sampler, sampler, "sampler"), probability, rate


def init(dir=None, service=None, sink=None, sampler=None, *, sample_probability=None,
         sample_rate=None, disable=None, max_file_bytes=None, max_files=None, fsync=None,
         fsync_interval_ms=None, fsync_every=None, chunk_bytes=None, quiet=None, callback=None):
    """Start tracing (hx_init). Arguments left None keep the library's defaults; HARUSPEX_*
    environment variables override them, as in C.

    sink      "file" (default), "stderr", "callback", "none", a Sink, or a URL:
              "tcp://HOST:PORT" (hx serve) or "kafka://BROKERS/TOPIC" (files first, then shipped).
    sampler   "always", "never", "probability:P", "rate:N" or a Sampler (with sample_probability
              or sample_rate).
    disable   names of points and blocks not to record: a comma-separated string or a list;
              a trailing '*' matches a prefix.
    callback  with sink="callback": called with each haruspex.Event, on the recording thread,
              before the recording call returns; it must not record events itself.

    Returns HX_OK (0), or HX_ESINK (-5) when the sink could not be opened: tracing is then on and
    every event is counted as dropped. Raises HaruspexError when nothing was started (HX_ECONFIG,
    HX_ESTATE: already on, HX_ENOMEM)."""
    global _callback_keep
    cfg = _lib.hx_config()
    fn("hx_config_init")(ctypes.byref(cfg))
    keep = []
    if dir is not None:
        keep.append(_name(os.fspath(dir)))
        cfg.dir = keep[-1]
    if service is not None:
        keep.append(_name(service))
        cfg.service = keep[-1]
    if isinstance(sink, str) and sink.startswith(("tcp://", "kafka://")):
        # a service or a Kafka topic: the events go to files in `dir` first, then are shipped
        keep.append(_name(sink))
        cfg.ship_to = keep[-1]
        cfg.sink = Sink.TCP if sink.startswith("tcp://") else Sink.KAFKA
    elif sink is not None:
        cfg.sink = _enum(Sink, sink, "sink")
    if sampler is not None:
        s, sample_probability, sample_rate = _parse_sampler(sampler, sample_probability,
                                                            sample_rate)
        cfg.sampler = s
    if sample_probability is not None:
        cfg.sample_probability = float(sample_probability)
    if sample_rate is not None:
        cfg.sample_rate = float(sample_rate)
    if disable is not None:
        if not isinstance(disable, (str, bytes)):
            disable = ",".join(disable)
        keep.append(_name(disable))
        cfg.disable = keep[-1]
    if max_file_bytes is not None:
        cfg.max_file_bytes = max_file_bytes
    if max_files is not None:
        cfg.max_files = max_files
    if fsync is not None:
        cfg.fsync = _enum(Fsync, fsync, "fsync")
    if fsync_interval_ms is not None:
        cfg.fsync_interval_ms = fsync_interval_ms
    if fsync_every is not None:
        cfg.fsync_every = fsync_every
    if chunk_bytes is not None:
        cfg.chunk_bytes = chunk_bytes
    if quiet is not None:
        cfg.quiet = 1 if quiet else 0
    thunk = None
    if callback is not None:
        from .reader import Event

        def on_event(ev_ptr, _user):
            callback(Event._from_c(ctypes.cast(ev_ptr, ctypes.POINTER(_lib.hx_event)).contents))

        thunk = _lib.EVENT_FN(on_event)
        cfg.callback = thunk
    rc = fn("hx_init")(ctypes.byref(cfg))
    if rc not in (_lib.HX_OK, _lib.HX_ESINK):
        raise HaruspexError(rc, "hx_init")
    if thunk is not None:
        _callback_keep = (callback, thunk)
    return rc


def shutdown():
    """Stop tracing (hx_shutdown): seal the files. Returns True if tracing was on."""
    return fn("hx_shutdown")() == _lib.HX_OK


def enabled():
    return bool(fn("hx_enabled")())


def sampled():
    """True if the current entity's trace is recorded (or it is in no trace)."""
    return bool(fn("hx_trace_sampled")())


def name_enable(pattern, on=True):
    """Disable (on=False) or re-enable recording of points and blocks matching `pattern` (an
    exact name, or a prefix followed by '*')."""
    rc = fn("hx_name_enable")(_name(pattern), 1 if on else 0)
    if rc == _lib.HX_EINVAL:
        raise ValueError("name_enable() needs a non-empty pattern")
    if rc < 0:
        raise HaruspexError(rc, "hx_name_enable")


def thread_name(name):
    fn("hx_thread_name")(_name(name))


# ---- traces ------------------------------------------------------------------------------------

def trace_begin(name):
    """Start a new trace on the current entity (TRACE_BEGIN); returns its context."""
    return Context._from_c(fn("hx_trace_begin")(_name(name)))


def trace_join(ctx, name):
    """Join the trace of a received context (TRACE_JOIN naming ctx as its cause). An invalid
    context is counted as misuse and records nothing."""
    c = ctx._to_c()
    fn("hx_trace_join")(ctypes.byref(c), _name(name))


def trace_end():
    """Leave the current trace (TRACE_END)."""
    fn("hx_trace_end")()


def continue_trace(ctx, name):
    """The server side of a hand-off: join ctx's trace when ctx is valid, else begin a new
    trace. Returns the context of the event recorded."""
    c = (ctx if ctx is not None else Context())._to_c()
    return Context._from_c(fn("hx_trace_continue")(ctypes.byref(c), _name(name)))


def _exc_error(exc):
    """Record one ERROR for an exception leaving a block or trace (once, at the innermost)."""
    try:
        if getattr(exc, "_haruspex_recorded", False):
            return
        exc._haruspex_recorded = True
    except AttributeError:
        pass
    t = type(exc)
    qual = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    text = str(exc)
    error(f"{t.__name__}: {text}" if text else t.__name__, **{"exception.type": qual})


class trace:
    """`with trace("name") as ctx:` begins a trace (or, given `context`, continues the trace it
    names: joins it when valid, else begins a new one) and ends it on exit. An exception leaving
    the block records an ERROR (once, at the innermost block or trace it leaves) before the
    TRACE_END."""

    __slots__ = ("_name", "_context", "context")

    def __init__(self, name, context=None):
        self._name = name
        self._context = context
        self.context = None

    def __enter__(self):
        if self._context is None:
            self.context = trace_begin(self._name)
        else:
            self.context = continue_trace(self._context, self._name)
        return self.context

    def __exit__(self, exc_type, exc, tb):
        if exc is not None:
            _exc_error(exc)
        trace_end()
        return False


# ---- blocks ------------------------------------------------------------------------------------

class block:
    """`with block("name", **attrs):` records BLOCK_BEGIN on entry and BLOCK_END on exit, on the
    current entity of the thread (enter and exit on the same thread). An exception leaving the
    block records an ERROR first ("Type: message", attribute exception.type) and propagates.
    As in C's HX_SCOPE, the end is recorded only if the begin was (tracing may start or stop
    inside the block). `b.annotate(**attrs)` adds attributes to the open block."""

    __slots__ = ("_name", "_attrs", "_begun")

    def __init__(self, name, /, **attrs):
        self._name = name
        self._attrs = attrs
        self._begun = False

    def __enter__(self):
        self._begun = _lib.state_flag.value != 0
        if self._begun:
            arr, n, _keep = _attrs(self._attrs)
            fn("hx_block_begin_attrs")(_name(self._name), arr, n)
        return self

    def annotate(self, **attrs):
        annotate(Target.BLOCK, **attrs)

    def __exit__(self, exc_type, exc, tb):
        if self._begun:
            if exc is not None:
                _exc_error(exc)
            fn("hx_block_end_attrs")(None, 0)
        return False


def traced(arg=None, /, **attrs):
    """Decorator: each call of the function is a block named after it (its __qualname__), or
    `name`: `@traced`, `@traced("name")`, `@traced(name="name", key=value ...)`.

    Coroutine functions (async def) are wrapped too, but an entity is a sequential executor and
    an event loop runs many coroutines on one thread: the block is recorded on the thread's
    current entity, so blocks of coroutines that interleave on one thread interleave on its
    timeline (and may end each other's blocks). Give each task its own Entity and enter it while
    it runs when tasks overlap; for one coroutine at a time per thread the blocks are exact."""
    def decorate(func, name):
        block_name = name if name is not None else func.__qualname__
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args, **kwargs):
                with block(block_name, **attrs):
                    return await func(*args, **kwargs)
            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with block(block_name, **attrs):
                return func(*args, **kwargs)
        return wrapper

    if callable(arg):
        name = attrs.pop("name", None)
        return decorate(arg, name)
    name = attrs.pop("name", arg)
    if name is not None and not isinstance(name, (str, bytes)):
        raise TypeError(f"@traced takes a name (str), not {type(name).__name__}")
    return lambda func: decorate(func, name)


# ---- events ------------------------------------------------------------------------------------

def point(name, /, **attrs):
    """Record POINT: an instant with a name and attributes."""
    arr, n, _keep = _attrs(attrs)
    fn("hx_point_attrs")(_name(name), arr, n)


def counter(name, value, unit=None):
    """Record COUNTER: an int is stored exactly (hx_counter_int), a float as a double."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise OverflowError(f"counter {name!r}: {value} does not fit in 64 bits")
        fn("hx_counter_int")(_name(name), value, _name(unit))
    else:
        fn("hx_counter")(_name(name), float(value), _name(unit))


def error(message, /, **attrs):
    """Record ERROR: marks the current block and trace as failed; the message is its name."""
    arr, n, _keep = _attrs(attrs)
    fn("hx_error_attrs")(_name(message), arr, n)


def annotate(target, /, **attrs):
    """Record ANNOTATE: add attributes to the current "trace", "entity" or innermost "block"."""
    t = _enum(Target, target, "target")
    arr, n, _keep = _attrs(attrs)
    fn("hx_annotate")(t, arr, n)


def state(state, reason=None):
    """Record a state change of the current entity: "waiting" (for `reason`) or "running"."""
    fn("hx_state_set")(_enum(State, state, "state"), _name(reason))


# ---- interactions ------------------------------------------------------------------------------

def cause(kind, name, /, **attrs):
    """Record CAUSE of an interaction of `kind` (Interaction, its value or its name); returns
    the context to hand to the effect side."""
    k = _enum(Interaction, kind, "interaction")
    arr, n, _keep = _attrs(attrs)
    return Context._from_c(fn("hx_cause_attrs")(k, _name(name), arr, n))


def effect(kind, name, /, *contexts, **attrs):
    """Record EFFECT of an interaction of `kind` whose causes are `contexts` (one for most kinds,
    several for a join; invalid ones are skipped and counted). Returns the effect's context."""
    k = _enum(Interaction, kind, "interaction")
    if len(contexts) == 1 and isinstance(contexts[0], (list, tuple)):
        contexts = tuple(contexts[0])
    for c in contexts:
        if not isinstance(c, Context):
            raise TypeError(f"effect causes are Contexts, not {type(c).__name__}")
    causes = (_lib.hx_context * max(1, len(contexts)))(*[c._to_c() for c in contexts])
    arr, n, _keep = _attrs(attrs)
    return Context._from_c(fn("hx_effect_attrs")(k, _name(name), causes if contexts else None,
                                                 len(contexts), arr, n))


def _cause_fn(pyname, kind, doc):
    def f(name, /, **attrs):
        return cause(kind, name, **attrs)
    f.__name__ = f.__qualname__ = pyname
    f.__doc__ = doc
    return f


def _effect_fn(pyname, kind, doc):
    def f(name, ctx, /, **attrs):
        return effect(kind, name, ctx, **attrs)
    f.__name__ = f.__qualname__ = pyname
    f.__doc__ = doc
    return f


send = _cause_fn("send", Interaction.MESSAGE, "Message sent: CAUSE (message); returns its context.")
receive = _effect_fn("receive", Interaction.MESSAGE, "Message received: EFFECT of send's context.")
request = _cause_fn("request", Interaction.REQUEST, "Client sends a request: CAUSE (request).")
request_received = _effect_fn("request_received", Interaction.REQUEST,
                              "Server starts handling a request: EFFECT of request's context.")
reply = _cause_fn("reply", Interaction.REPLY, "Server sends the reply: CAUSE (reply).")
reply_received = _effect_fn("reply_received", Interaction.REPLY,
                            "Client resumes with the reply: EFFECT of reply's context.")
async_start = _cause_fn("async_start", Interaction.ASYNC, "Asynchronous operation started.")
async_complete = _effect_fn("async_complete", Interaction.ASYNC, "Its completion.")
fork = _cause_fn("fork", Interaction.FORK, "Parent forks, spawns or starts a thread.")
forked = _effect_fn("forked", Interaction.FORK, "Each child's first step.")
child_done = _cause_fn("child_done", Interaction.JOIN, "A child's last step: cause of the join.")
publish = _cause_fn("publish", Interaction.PUBLISH, "Publish: one cause for many subscribers.")
delivered = _effect_fn("delivered", Interaction.PUBLISH, "Each subscriber's receipt.")


def join(name, /, *children, **attrs):
    """The parent's one event that depends on every child: EFFECT (join) of the contexts that
    child_done() returned. (Joining a *trace* is trace_join().)"""
    return effect(Interaction.JOIN, name, *children, **attrs)


def caused_by(name, /, *causes, **attrs):
    """A generic effect (causal) of one or more causes."""
    return effect(Interaction.CAUSAL, name, *causes, **attrs)


# ---- entities ----------------------------------------------------------------------------------

class Entity:
    """An explicit entity: a coroutine, event-loop task, actor (hx_entity_begin records its
    ENTITY_BEGIN; it inherits the current trace of the calling entity).

    `with entity:` enters it (STATE running: the thread's recording calls go to it) and leaves
    it on exit (STATE waiting); enter()/leave() do the same by hand, on one thread at a time.
    end() records ENTITY_END and frees the handle; the entity must not be used afterwards (a
    ValueError). While tracing is off the handle is NULL and every call records nothing."""

    __slots__ = ("_handle", "_ended", "name")

    def __init__(self, name, kind=EntityKind.TASK):
        self.name = name
        self._handle = fn("hx_entity_begin")(_name(name), _enum(EntityKind, kind, "kind"))
        self._ended = False

    def _live(self):
        if self._ended:
            raise ValueError(f"entity {self.name!r} was ended")
        return self._handle

    def enter(self):
        fn("hx_entity_enter")(self._live())

    def leave(self):
        self._live()
        fn("hx_entity_leave")()

    def end(self):
        h = self._live()
        self._ended = True
        self._handle = None
        fn("hx_entity_end")(h)

    @property
    def ended(self):
        return self._ended

    def __enter__(self):
        self.enter()
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self._ended:
            fn("hx_entity_leave")()
        return False


class Mutex:
    """A mutex that records lock hand-offs (hx_mutex): a thread that has to wait records STATE
    waiting, the releasing thread a CAUSE (lock) and the waiter an EFFECT (lock) that resumes
    it; uncontended use records nothing. `with m:` locks and unlocks. The lock is taken with the
    GIL released, so other Python threads run while one waits. close() frees it (unlocked)."""

    __slots__ = ("_handle", "name")

    def __init__(self, name):
        self.name = name
        self._handle = fn("hx_mutex_create")(_name(name))
        if not self._handle:
            raise MemoryError("hx_mutex_create: out of memory")

    def _live(self):
        if not self._handle:
            raise ValueError(f"mutex {self.name!r} was closed")
        return self._handle

    def lock(self):
        fn("hx_mutex_lock")(self._live())

    def trylock(self):
        """True if the lock was taken, False if it is held elsewhere."""
        return fn("hx_mutex_trylock")(self._live()) == 0

    def unlock(self):
        fn("hx_mutex_unlock")(self._live())

    def close(self):
        if self._handle:
            h, self._handle = self._handle, None
            fn("hx_mutex_destroy")(h)

    def __enter__(self):
        self.lock()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.unlock()
        return False


# ---- statistics --------------------------------------------------------------------------------

def counter_names():
    """The library's misuse and drop counters, in their fixed order: [(name, text) ...]."""
    out = []
    name_of = fn("hx_counter_name")
    text_of = fn("hx_counter_text")
    i = 0
    while True:
        n = name_of(i)
        if n is None:
            return out
        t = text_of(i)
        out.append((n.decode(), t.decode() if t else ""))
        i += 1


def stats():
    """The process's counters, cumulative since it started: {"dropped": 0, ..., "events": N}."""
    names = counter_names()
    buf = (ctypes.c_uint64 * _lib.STATS_WORDS)()
    fn("hx_stats_get")(buf)
    out = {name: buf[i] for i, (name, _) in enumerate(names)}
    out["events"] = buf[len(names)]
    return out

