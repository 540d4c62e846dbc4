"""Reading traces back: events from files and directories, grouped into traces.

The C reader (include/haruspex/reader.h) accepts any bytes: from a damaged file it returns every
record it could verify and reports what it skipped (Reader.damage()). Everything an event points
to belongs to the C reader until its next call, so each event is copied into Python objects
before the next one is read.
"""

import collections
import ctypes
import heapq
import os

from . import _lib
from ._lib import HaruspexError, fn
from .context import Context

__all__ = ["Event", "Cause", "Process", "Damage", "Reader", "read", "Trace", "Link",
           "read_traces"]

Cause = collections.namedtuple("Cause", "trace_id entity_id seq")
Cause.__doc__ = "The cause an effect names: trace ID (hex, None if zero) and event ID."

Damage = collections.namedtuple("Damage", "kind file offset bytes stream chunk_seq reason")

_ATTR_INT, _ATTR_DOUBLE, _ATTR_BOOL, _ATTR_STRING, _ATTR_BYTES = 1, 2, 3, 4, 5
_EV_ENTITY_BEGIN, _EV_TRACE_JOIN, _EV_COUNTER, _EV_STATE, _EV_ANNOTATE = 0x10, 0x13, 0x18, 0x1a, 0x1b
_EV_CAUSE, _EV_EFFECT = 0x1c, 0x1d
_ENTITY_KINDS = {1: "thread", 2: "coroutine", 3: "task", 4: "process"}
_STATES = {1: "running", 2: "waiting"}
_TARGETS = {1: "trace", 2: "entity", 3: "block"}
_ZERO_ID = bytes(16)

_kind_names = {}
_interaction_names = {}


def _kind_name(k):
    name = _kind_names.get(k)
    if name is None:
        n = fn("hx_event_kind_name")(k)
        name = n.decode() if n else f"kind_{k:#x}"
        _kind_names[k] = name
    return name


def _interaction_name(k):
    if not k:
        return None
    name = _interaction_names.get(k)
    if name is None:
        n = fn("hx_interaction_name")(k)
        name = n.decode() if n else f"interaction_{k}"
        _interaction_names[k] = name
    return name


def _str(p):
    return p.decode("utf-8", "replace") if p else ""


def _hex_id(b):
    b = bytes(b)
    return None if b == _ZERO_ID else b.hex()


def _attr_dict(ev):
    out = {}
    for i in range(ev.nattrs):
        a = ev.attrs[i]
        key = _str(a.key)
        t = a.type
        if t == _ATTR_INT:
            out[key] = a.v.i
        elif t == _ATTR_DOUBLE:
            out[key] = a.v.d
        elif t == _ATTR_BOOL:
            out[key] = bool(a.v.b)
        elif t in (_ATTR_STRING, _ATTR_BYTES):
            raw = ctypes.string_at(a.v.s.ptr, a.v.s.len) if a.v.s.len else b""
            out[key] = raw.decode("utf-8", "replace") if t == _ATTR_STRING else raw
    return out


class Process:
    """One traced process instance found in the input."""

    __slots__ = ("index", "instance", "pid", "host", "program", "service", "files", "clean",
                 "counters", "clock_kind", "ticks_per_sec", "syncs")

    def __init__(self, index, info):
        self.index = index
        self.instance = bytes(info.instance).hex()
        self.pid = info.pid
        self.host = _str(info.host)
        self.program = _str(info.program)
        self.service = _str(info.service)
        self.files = info.files
        self.clean = bool(info.clean)
        names = _counter_names()
        self.counters = {name: info.counters[i] for i, name in enumerate(names)
                         if i < _lib.HX_FILE_COUNTERS_PUBLIC}
        self.clock_kind = info.clock_kind
        self.ticks_per_sec = info.ticks_per_sec
        self.syncs = info.syncs

    def __repr__(self):
        return f"Process(pid={self.pid}, host={self.host!r}, service={self.service!r})"


_counter_name_cache = []


def _counter_names():
    if not _counter_name_cache:
        i = 0
        while True:
            n = fn("hx_counter_name")(i)
            if n is None:
                break
            _counter_name_cache.append(n.decode())
            i += 1
    return _counter_name_cache


class Event:
    """A decoded event, copied out of the C reader (or the callback sink).

    kind is its name ("point", "block_begin" ...; kind_id the number); trace_id is 32 hex digits
    or None outside any trace; attrs a dict of int/float/bool/str/bytes. Kind-specific fields
    are None (or 0, False, []) for kinds they do not apply to: entity_kind and tid and parent_id
    (entity_begin), state (state: "running" or "waiting"; the reason is the name), target
    (annotate), interaction (cause, effect, trace_join), causes (effect, trace_join: Cause
    tuples; cause_contexts the same as Contexts with their flags), unit and value (counter),
    resumes (an effect that ended a wait). process is the Process that wrote it (None for
    events from the callback sink)."""

    __slots__ = ("kind", "kind_id", "time_ns", "time_orig_ns", "entity_id", "seq", "trace_id",
                 "name", "attrs", "entity_kind", "tid", "parent_id", "state", "target",
                 "interaction", "causes", "cause_contexts", "unit", "value", "resumes",
                 "process")

    @classmethod
    def _from_c(cls, ev, process=None):
        e = cls.__new__(cls)
        k = ev.kind
        e.kind_id = k
        e.kind = _kind_name(k)
        e.time_ns = ev.time_ns
        e.time_orig_ns = ev.time_orig_ns
        e.entity_id = ev.entity_id
        e.seq = ev.seq
        e.trace_id = _hex_id(ev.trace_id)
        e.name = (ctypes.string_at(ev.name, ev.name_len).decode("utf-8", "replace")
                  if ev.name and ev.name_len else "")
        e.attrs = _attr_dict(ev)
        e.entity_kind = _ENTITY_KINDS.get(ev.entity_kind) if k == _EV_ENTITY_BEGIN else None
        e.tid = ev.tid
        e.parent_id = ev.parent_id
        e.state = _STATES.get(ev.state) if k == _EV_STATE else None
        e.target = _TARGETS.get(ev.target) if k == _EV_ANNOTATE else None
        e.interaction = (_interaction_name(ev.interaction)
                         if k in (_EV_CAUSE, _EV_EFFECT, _EV_TRACE_JOIN) else None)
        ctxs = [Context._from_c(ev.causes[i]) for i in range(ev.ncauses)]
        e.cause_contexts = ctxs
        e.causes = [Cause(c.trace_id, c.entity_id, c.seq) for c in ctxs]
        if k == _EV_COUNTER:
            e.unit = _str(ev.unit)
            e.value = ev.counter_int if ev.counter_is_int else ev.counter_double
        else:
            e.unit = None
            e.value = None
        e.resumes = bool(ev.resumes)
        e.process = process
        return e

    @property
    def event_id(self):
        return (self.entity_id, self.seq)

    @property
    def pid(self):
        return self.process.pid if self.process else None

    @property
    def host(self):
        return self.process.host if self.process else None

    @property
    def service(self):
        return self.process.service if self.process else None

    def __repr__(self):
        return (f"Event({self.kind} {self.name!r} entity={self.entity_id:016x} seq={self.seq} "
                f"trace={self.trace_id})")


_ORDERS = {"stream": 0, "time": 1}


def _path_list(paths):
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    out = []
    for p in paths:
        p = os.fsdecode(p) if not isinstance(p, str) else p
        if "://" in p:
            scheme = p.split("://", 1)[0]
            raise NotImplementedError(
                f"reading from a service URL ({p}) is not supported yet: the Haruspex service "
                f"({scheme}://) has no query API to read from; read its trace files or "
                f"directory instead")
        out.append(p)
    if not out:
        raise ValueError("read() needs at least one path")
    return out


def _open_error(rc, what):
    if rc == _lib.HX_ENOENT:
        return FileNotFoundError(2, "no such file or directory", what)
    if rc == _lib.HX_EACCES:
        return PermissionError(13, "permission denied", what)
    if rc == _lib.HX_ENOMEM:
        return MemoryError(f"hx_reader_open {what}")
    return HaruspexError(rc, f"hx_reader_open {what}")


class _One:
    """One C reader and the Process objects of its input."""

    def __init__(self, handle, offset):
        self.handle = handle
        self.offset = offset        # index of this reader's first process in Reader.processes
        self.procs = {}

    def process(self, i):
        p = self.procs.get(i)
        if p is None:
            ptr = fn("hx_reader_process")(self.handle, i)
            if not ptr:
                return None
            p = Process(self.offset + i, ptr.contents)
            self.procs[i] = p
        return p

    def events(self):
        ev = _lib.hx_event()
        nxt = fn("hx_reader_next")
        which = fn("hx_reader_event_process")
        while True:
            rc = nxt(self.handle, ctypes.byref(ev))
            if rc == _lib.HX_EOF:
                return
            if rc == _lib.HX_ENOMEM:
                raise MemoryError("hx_reader_next: out of memory")
            if rc != _lib.HX_OK:
                raise HaruspexError(rc, "hx_reader_next")
            yield Event._from_c(ev, self.process(which(self.handle)))


class Reader:
    """Events of a trace file, a directory of them, or several of either.

        with haruspex.Reader("haruspex-traces") as r:
            for ev in r: ...
            r.damage()        # what the reader skipped, and why

    order="time" merges all events by time (for display), "stream" is faster and gives each
    entity's events in order. Several paths are read as one input with hx_reader_open_paths()
    when the library has it, else each with its own C reader (merged by time in time order).
    Service URLs (http://...) raise NotImplementedError: there is no service to read from yet."""

    def __init__(self, paths, order="time"):
        if order not in _ORDERS:
            raise ValueError(f"order must be 'time' or 'stream', not {order!r}")
        self._order = order
        self._readers = []
        self._iter = None
        plist = _path_list(paths)
        try:
            if len(plist) > 1 and _lib.has("hx_reader_open_paths"):
                encoded = [os.fsencode(p) for p in plist]
                arr = (ctypes.c_char_p * len(encoded))(*encoded)
                h = ctypes.c_void_p()
                rc = fn("hx_reader_open_paths")(ctypes.byref(h), arr, len(encoded),
                                                _ORDERS[order])
                if rc != _lib.HX_OK:
                    raise _open_error(rc, ", ".join(plist))
                self._readers.append(_One(h, 0))
            else:
                for p in plist:
                    h = ctypes.c_void_p()
                    rc = fn("hx_reader_open")(ctypes.byref(h), os.fsencode(p), _ORDERS[order])
                    if rc != _lib.HX_OK:
                        raise _open_error(rc, p)
                    offset = sum(fn("hx_reader_processes")(r.handle) for r in self._readers)
                    self._readers.append(_One(h, offset))
        except BaseException:
            self.close()
            raise

    def _events(self):
        if len(self._readers) == 1:
            return self._readers[0].events()
        if self._order == "stream":
            return (e for r in self._readers for e in r.events())
        return heapq.merge(*[r.events() for r in self._readers], key=lambda e: e.time_ns)

    def __iter__(self):
        if self._iter is None:
            if not self._readers:
                raise ValueError("reader is closed")
            self._iter = self._events()
        return self._iter

    @property
    def processes(self):
        """Every process instance in the input, as Process objects."""
        out = []
        for r in self._readers:
            n = fn("hx_reader_processes")(r.handle)
            out.extend(r.process(i) for i in range(n))
        return out

    def damage(self):
        """What was skipped so far (all of it once the events are exhausted), as Damage tuples;
        torn tails (kind "torn_tail") are information, not damage."""
        out = []
        for r in self._readers:
            n = ctypes.c_size_t()
            arr = fn("hx_reader_damage")(r.handle, ctypes.byref(n))
            for i in range(n.value):
                d = arr[i]
                kn = fn("hx_damage_kind_name")(d.kind)
                out.append(Damage(kn.decode() if kn else str(d.kind), _str(d.file), d.offset,
                                  d.bytes, d.stream, d.chunk_seq, _str(d.reason)))
        return out

    def info(self):
        """Totals for the input (complete once the events are exhausted), summed over readers."""
        keys = [f for f, _ in _lib.hx_reader_info._fields_]
        out = dict.fromkeys(keys, 0)
        for r in self._readers:
            i = _lib.hx_reader_info()
            fn("hx_reader_info_get")(r.handle, ctypes.byref(i))
            for k in keys:
                out[k] += getattr(i, k)
        out["damaged"] = bool(out["damaged"])
        return out

    def close(self):
        readers, self._readers = self._readers, []
        for r in readers:
            fn("hx_reader_close")(r.handle)
        self._iter = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def read(paths, order="time"):
    """An iterator over the events of a trace file, a directory, or a list of them (see
    Reader). The input is opened at once (a missing path or a service URL raises here); the
    files are closed when the iterator is exhausted or closed."""
    reader = Reader(paths, order)

    def events():
        with reader:
            yield from reader
    return events()


# ---- traces ----------------------------------------------------------------------------------------

Link = collections.namedtuple("Link", "cause effect interaction")
Link.__doc__ = "An interaction edge: the cause Event, the effect Event, the kind's name."


class Trace:
    """The events of one trace, in time order, with what connects them.

    entities   {entity_id: {"name", "kind", "process"}} of the entities with events in it
    processes  the Process objects whose files hold its events
    links      Link(cause, effect, interaction) for every cause an effect (or trace_join) of
               this trace names and the input holds (the cause may be in another trace)
    dangling   (effect Event, Cause) for causes the input does not hold: lost, or in files not
               read (causes from other tracers are in `external` instead)
    external   (effect Event, Cause) for foreign causes (a W3C parent-id from another tracer)"""

    __slots__ = ("trace_id", "events", "entities", "processes", "links", "dangling", "external")

    def __init__(self, trace_id):
        self.trace_id = trace_id
        self.events = []
        self.entities = {}
        self.processes = []
        self.links = []
        self.dangling = []
        self.external = []

    @property
    def name(self):
        """The name of the trace's first trace_begin ("" if it began in files not read)."""
        for e in self.events:
            if e.kind == "trace_begin":
                return e.name
        return ""

    @property
    def start_ns(self):
        return self.events[0].time_ns if self.events else 0

    @property
    def end_ns(self):
        return self.events[-1].time_ns if self.events else 0

    @property
    def duration_ns(self):
        return self.end_ns - self.start_ns

    @property
    def errors(self):
        return [e for e in self.events if e.kind == "error"]

    def __len__(self):
        return len(self.events)

    def __repr__(self):
        return (f"Trace({self.trace_id}, {len(self.events)} events, {len(self.entities)} "
                f"entities, {len(self.processes)} processes)")


def read_traces(paths):
    """Read every event of `paths` (see read()) and group the events that belong to a trace into
    Trace objects, oldest first. Events outside any trace belong to none."""
    events = list(read(paths, order="time"))
    by_id = {}
    names = {}
    for e in events:
        by_id[(e.entity_id, e.seq)] = e
        if e.kind == "entity_begin":
            names[e.entity_id] = (e.name, e.entity_kind)
    traces = {}
    for e in events:
        if e.trace_id is None:
            continue
        t = traces.get(e.trace_id)
        if t is None:
            t = traces[e.trace_id] = Trace(e.trace_id)
        t.events.append(e)
        if e.entity_id not in t.entities:
            name, kind = names.get(e.entity_id, ("", None))
            t.entities[e.entity_id] = {"name": name, "kind": kind, "process": e.process}
        if e.process is not None and all(p is not e.process for p in t.processes):
            t.processes.append(e.process)
        for cause, ctx in zip(e.causes, e.cause_contexts):
            target = by_id.get((cause.entity_id, cause.seq))
            if ctx.foreign:
                t.external.append((e, cause))
            elif target is not None:
                t.links.append(Link(target, e, e.interaction))
            else:
                t.dangling.append((e, cause))
    return sorted(traces.values(), key=lambda t: (t.start_ns, t.trace_id))
