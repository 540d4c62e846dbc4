"""User-defined analysis: each complete trace, as a Trace object, handed to Python code.

    from haruspex import analysis

    for t in analysis.traces("haruspex-traces"):           # a file, a directory, or a service
        for b in t.blocks(name="db.*"):
            print(t.trace_id, b.name, b.duration_ms, [c.name for c in b.children])

    analysis.follow("http://127.0.0.1:7312", print)         # each trace once, as it completes

    python3 -m haruspex.analysis my_script.py http://127.0.0.1:7312 --follow

A Trace holds its events in time order, its entities (with their process), its blocks rebuilt
with their nesting and durations, and every cause an effect names resolved to the cause's Event.
Sources: trace files and directories (the C reader, through this binding), or `hx serve` over
HTTP (GET /api/traces to search, GET /api/traces/{id} for each trace, GET /api/complete to
follow; docs/http-api.md), with the bearer token from HX_TOKEN. Standard library only.
bindings/python/README.md, "Analysis", is the guide.
"""

import collections
import importlib.util
import json
import os
import re
import signal
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

from ._lib import HaruspexError

__all__ = ["Trace", "Block", "Entity", "Event", "Process", "Cause", "ServiceError", "traces",
           "follow", "main"]

Process = collections.namedtuple("Process", "instance pid host service program")
Process.__doc__ = "The process (resource) that recorded an entity's events."

Cause = collections.namedtuple("Cause", "trace_id entity_id seq sampled foreign")
Cause.__doc__ = ("A cause as an effect names it: trace ID (hex or None), event ID, whether its "
                 "trace was sampled, whether it came from another tracer (W3C parent-id).")

_HEX32 = re.compile(r"[0-9a-fA-F]{32}\Z")
_SEARCH_PAGE = 100         # summaries per page of GET /api/traces
_COMPLETE_PAGE = 100       # trace IDs per answer of GET /api/complete
_TIMEOUT = 30.0            # seconds per HTTP request


class ServiceError(Exception):
    """The service answered an error (`status` is the HTTP status, `message` its "error"), or
    could not be reached (`status` is None)."""

    def __init__(self, url, status, message):
        self.url = url
        self.status = status
        self.message = message
        where = f"HTTP {status}" if status else "unreachable"
        super().__init__(f"{url}: {where}: {message}")


# ---- the model -------------------------------------------------------------------------------


class Entity:
    """A sequential executor (thread, coroutine, task) with events in the trace.

    name is from its ENTITY_BEGIN, or the last thread_name() given it; "" when the input holds
    neither (a thread that began outside the trace, read from a service); events are its events of this trace in sequence order; blocks
    its outermost blocks."""

    __slots__ = ("id", "name", "kind", "process", "events", "blocks")

    def __init__(self, entity_id, name="", kind=None, process=None):
        self.id = entity_id
        self.name = name
        self.kind = kind
        self.process = process
        self.events = []
        self.blocks = []

    @property
    def service(self):
        return self.process.service if self.process else None

    @property
    def host(self):
        return self.process.host if self.process else None

    @property
    def pid(self):
        return self.process.pid if self.process else None

    @property
    def label(self):
        """Its name, or its ID in hex when it has none."""
        return self.name or f"{self.id:016x}"

    def __repr__(self):
        return f"Entity({self.label!r}, service={self.service!r})"


class Event:
    """One event of the trace.

    kind ("point", "block_begin", ...), time_ns, entity (an Entity), seq, name, attrs (a dict),
    trace_id; value and unit for counters; interaction for causes, effects and trace joins;
    state, target and resumes where they apply. causes are the Events it names as its causes
    (resolved: those the input holds), cause_refs all of them as Cause tuples, effects the
    Events that name it. block is the innermost block it belongs to (for a block_begin or
    block_end, the block it opens or closes), None outside any block."""

    __slots__ = ("kind", "time_ns", "entity", "seq", "name", "attrs", "trace_id", "value", "unit",
                 "interaction", "state", "target", "resumes", "cause_refs", "causes", "effects",
                 "block")

    @property
    def id(self):
        """The event ID: (entity ID, sequence number)."""
        return (self.entity.id, self.seq)

    @property
    def service(self):
        return self.entity.service

    def __repr__(self):
        return f"Event({self.kind} {self.name!r} on {self.entity.label} seq={self.seq})"


class Block:
    """A block rebuilt from its begin and end on one entity.

    name, entity, begin and end (Events; end is None when the trace holds no end: the block was
    open when its program stopped, or ended outside the trace), parent (the enclosing Block or
    None), children (Blocks directly inside it, in order), depth (0 for an outermost block)."""

    __slots__ = ("name", "entity", "begin", "end", "parent", "children", "depth", "_first",
                 "_last")

    def __init__(self, begin, parent, first):
        self.name = begin.name
        self.entity = begin.entity
        self.begin = begin
        self.end = None
        self.parent = parent
        self.children = []
        self.depth = parent.depth + 1 if parent else 0
        self._first = first     # index of begin in entity.events
        self._last = None       # index of end

    @property
    def start_ns(self):
        return self.begin.time_ns

    @property
    def end_ns(self):
        return self.end.time_ns if self.end else None

    @property
    def duration(self):
        """Nanoseconds from begin to end; None without an end."""
        return self.end.time_ns - self.begin.time_ns if self.end else None

    @property
    def duration_ms(self):
        d = self.duration
        return d / 1e6 if d is not None else None

    @property
    def self_duration(self):
        """Its duration less its children's (time spent in the block itself); None if it or a
        child has no end."""
        d = self.duration
        for c in self.children:
            cd = c.duration
            if d is None or cd is None:
                return None
            d -= cd
        return d

    @property
    def attrs(self):
        """The begin's attributes, updated by the end's."""
        a = dict(self.begin.attrs)
        if self.end:
            a.update(self.end.attrs)
        return a

    @property
    def events(self):
        """The entity's events between begin and end (nested blocks' included), in order."""
        last = self._last if self._last is not None else len(self.entity.events)
        return self.entity.events[self._first + 1:last]

    @property
    def errors(self):
        return [e for e in self.events if e.kind == "error"]

    def walk(self):
        """This block and every block inside it, depth first, in order."""
        yield self
        for c in self.children:
            yield from c.walk()

    def __repr__(self):
        d = self.duration
        return (f"Block({self.name!r} on {self.entity.label}, "
                f"{'open' if d is None else f'{d / 1e6:g} ms'}, {len(self.children)} children)")


def _matcher(pattern):
    """None (anything), an exact name, or a prefix followed by '*' (as HARUSPEX_DISABLE)."""
    if pattern is None:
        return lambda n: True
    if pattern.endswith("*"):
        p = pattern[:-1]
        return lambda n: n.startswith(p)
    return lambda n: n == pattern


class Trace:
    """One trace: its events, entities, blocks and the causes between its events.

    trace_id (32 hex digits); events (in time order); entities ({entity ID: Entity});
    roots (outermost blocks of every entity, by start); dangling ((effect Event, Cause) for
    causes the input does not hold: lost, or in another trace not read); external (effects
    whose cause came from another tracer); unmatched (block ends without a begin in the trace:
    the block began before the entity joined it)."""

    __slots__ = ("trace_id", "events", "entities", "roots", "dangling", "external", "unmatched")

    def __init__(self, trace_id):
        self.trace_id = trace_id
        self.events = []
        self.entities = {}
        self.roots = []
        self.dangling = []
        self.external = []
        self.unmatched = 0

    @property
    def name(self):
        """The name of its TRACE_BEGIN ("" if the input does not hold it)."""
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
    def duration(self):
        """Nanoseconds from its first event to its last."""
        return self.end_ns - self.start_ns

    @property
    def duration_ms(self):
        return self.duration / 1e6

    @property
    def processes(self):
        seen = {}
        for en in self.entities.values():
            if en.process is not None:
                seen.setdefault(en.process.instance, en.process)
        return list(seen.values())

    @property
    def services(self):
        return sorted({p.service for p in self.processes if p.service})

    @property
    def hosts(self):
        return sorted({p.host for p in self.processes if p.host})

    @property
    def errors(self):
        return [e for e in self.events if e.kind == "error"]

    def blocks(self, name=None, entity=None, service=None):
        """Its blocks, by start time: all, or those whose name is `name` (a trailing '*'
        matches a prefix: "db.*"), on an entity of that name (or that Entity), of that
        service."""
        match = _matcher(name)
        out = []
        for r in self.roots:
            for b in r.walk():
                if not match(b.name):
                    continue
                if entity is not None and b.entity is not entity and b.entity.name != entity:
                    continue
                if service is not None and b.entity.service != service:
                    continue
                out.append(b)
        out.sort(key=lambda b: (b.start_ns, b.depth))
        return out

    def select(self, kind=None, name=None):
        """Its events of a kind ("point", "error", "counter" ...) and/or a name (a trailing
        '*' matches a prefix), in time order."""
        match = _matcher(name)
        return [e for e in self.events if (kind is None or e.kind == kind) and match(e.name)]

    def __len__(self):
        return len(self.events)

    def __repr__(self):
        return (f"Trace({self.trace_id} {self.name!r}, {len(self.events)} events, "
                f"{len(self.entities)} entities, {self.duration / 1e6:g} ms)")


# ---- building traces from raw events -----------------------------------------------------------

class _Raw:
    """An event as a source gives it, before it becomes an Event of a Trace."""

    __slots__ = ("kind", "time_ns", "entity_id", "seq", "trace_id", "name", "attrs",
                 "entity_kind", "value", "unit", "interaction", "state", "target", "resumes",
                 "causes", "process")


def _names_entity(r):
    """An ANNOTATE that names its entity (hx_thread_name(), Python's thread_name())."""
    return (r.kind == "annotate" and r.target == "entity" and isinstance(r.attrs.get("name"), str))


def _build(trace_id, raws, names):
    """A Trace from the raw events of one trace. names: {entity ID: (name, kind)} known from
    outside the trace (ENTITY_BEGIN events read elsewhere). Causes are linked by _link()."""
    t = Trace(trace_id)
    raws = sorted(raws, key=lambda r: (r.time_ns, r.entity_id, r.seq))
    for r in raws:
        en = t.entities.get(r.entity_id)
        if en is None:
            name, kind = names.get(r.entity_id, ("", None))
            en = t.entities[r.entity_id] = Entity(r.entity_id, name, kind, r.process)
        if r.kind == "entity_begin":
            en.name, en.kind = r.name, r.entity_kind
        elif _names_entity(r):
            en.name = r.attrs["name"]
        if en.process is None:
            en.process = r.process
        e = Event()
        e.kind, e.time_ns, e.entity, e.seq = r.kind, r.time_ns, en, r.seq
        e.name, e.attrs, e.trace_id = r.name, r.attrs, r.trace_id
        e.value, e.unit, e.interaction = r.value, r.unit, r.interaction
        e.state, e.target, e.resumes = r.state, r.target, r.resumes
        e.cause_refs = r.causes
        e.causes, e.effects, e.block = [], [], None
        t.events.append(e)
    for en in t.entities.values():
        en.events = sorted((e for e in t.events if e.entity is en), key=lambda e: e.seq)
        stack = []
        for i, e in enumerate(en.events):
            if e.kind == "block_begin":
                b = Block(e, stack[-1] if stack else None, i)
                (b.parent.children if b.parent else en.blocks).append(b)
                stack.append(b)
                e.block = b
            elif e.kind == "block_end":
                if not stack:
                    t.unmatched += 1
                    continue
                b = stack.pop()
                b.end, b._last = e, i
                e.block = b
            else:
                e.block = stack[-1] if stack else None
        t.roots.extend(en.blocks)
    t.roots.sort(key=lambda b: b.start_ns)
    return t


def _link(traces_):
    """Resolve every cause to its Event, across the given traces."""
    index = {}
    for t in traces_:
        for e in t.events:
            index[(e.entity.id, e.seq)] = e
    for t in traces_:
        for e in t.events:
            for c in e.cause_refs:
                if c.foreign:
                    t.external.append((e, c))
                    continue
                target = index.get((c.entity_id, c.seq))
                if target is not None:
                    e.causes.append(target)
                    target.effects.append(e)
                elif c.sampled:
                    t.dangling.append((e, c))
                # a cause in a trace that was sampled out was never recorded: nothing missing


# ---- files -------------------------------------------------------------------------------------

def _raw_from_reader(ev, procs):
    r = _Raw()
    r.kind, r.time_ns, r.entity_id, r.seq = ev.kind, ev.time_ns, ev.entity_id, ev.seq
    r.trace_id, r.name, r.attrs = ev.trace_id, ev.name, ev.attrs
    r.entity_kind, r.value, r.unit = ev.entity_kind, ev.value, ev.unit
    r.interaction, r.state, r.target, r.resumes = ev.interaction, ev.state, ev.target, ev.resumes
    r.causes = [Cause(c.trace_id, c.entity_id, c.seq, ctx.sampled, ctx.foreign)
                for c, ctx in zip(ev.causes, ev.cause_contexts)]
    p = ev.process
    if p is None:
        r.process = None
    else:
        key = (p.instance, p.pid)
        r.process = procs.get(key)
        if r.process is None:
            r.process = procs[key] = Process(p.instance, p.pid, p.host, p.service, p.program)
    return r


def _file_traces(paths):
    from . import reader
    by_trace = collections.OrderedDict()
    names = {}
    procs = {}
    for ev in reader.read(paths, order="time"):
        if ev.kind == "entity_begin":
            names[ev.entity_id] = (ev.name, ev.entity_kind)
        elif _names_entity(ev):
            names[ev.entity_id] = (ev.attrs["name"], names.get(ev.entity_id, ("", None))[1])
        if ev.trace_id is None:
            continue
        by_trace.setdefault(ev.trace_id, []).append(_raw_from_reader(ev, procs))
    built = [_build(tid, raws, names) for tid, raws in by_trace.items()]
    _link(built)
    built.sort(key=lambda t: (t.start_ns, t.trace_id))
    return built


# ---- the service -------------------------------------------------------------------------------

def _token(token):
    return token if token is not None else (os.environ.get("HX_TOKEN") or None)


def _get_json(url, token):
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT) as resp:
            body = resp.read()
    except urllib.error.HTTPError as e:
        msg = e.reason
        try:
            msg = json.loads(e.read().decode("utf-8", "replace")).get("error", msg)
        except (ValueError, AttributeError, OSError):
            pass
        raise ServiceError(url, e.code, str(msg)) from None
    except (urllib.error.URLError, OSError) as e:
        raise ServiceError(url, None, str(getattr(e, "reason", e))) from None
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        raise ServiceError(url, 200, "the answer is not JSON") from None


def _split_url(url):
    """(base "http://host:port", path, query) of a service URL."""
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise ValueError(f"{url}: expected http://HOST:PORT[/api/traces[?...]|/api/traces/ID]")
    return f"{u.scheme}://{u.netloc}", u.path.rstrip("/"), u.query


def _bad(url, what):
    raise ServiceError(url, 200, f"unexpected answer: {what}")


def _raw_from_json(url, o, procs):
    try:
        r = _Raw()
        r.kind = o["kind"] if isinstance(o["kind"], str) else f"kind_{o['kind']:#x}"
        r.time_ns, r.seq = int(o["time_ns"]), int(o["seq"])
        r.entity_id = int(o["entity"], 16)
        r.trace_id = o.get("trace")
        r.name = o.get("name", "")
        r.attrs = dict(o.get("attrs") or {})
        r.entity_kind = o.get("entity_kind")
        r.value, r.unit = o.get("value"), o.get("unit")
        r.interaction, r.state, r.target = o.get("interaction"), o.get("state"), o.get("target")
        r.resumes = bool(o.get("resumes", False))
        r.causes = [Cause(c.get("trace"), int(c["entity"], 16), int(c["seq"]),
                          bool(c.get("sampled", True)), bool(c.get("foreign", False)))
                    for c in o.get("causes") or []]
        p = o.get("process")
        r.process = procs[p] if isinstance(p, int) and 0 <= p < len(procs) else None
        return r
    except (KeyError, TypeError, ValueError) as e:
        _bad(url, f"an event without a valid {e}")


def _fetch(base, trace_id, token):
    """One Trace from GET /api/traces/{id}."""
    url = f"{base}/api/traces/{trace_id}"
    ans = _get_json(url, token)
    if not isinstance(ans, dict) or not isinstance(ans.get("events"), list):
        _bad(url, "no events list")
    procs = []
    for p in ans.get("processes") or []:
        if not isinstance(p, dict):
            _bad(url, "a process that is not an object")
        procs.append(Process(p.get("instance", ""), p.get("pid"), p.get("host", ""),
                             p.get("service", ""), p.get("program", "")))
    raws = [_raw_from_json(url, o, procs) for o in ans["events"]]
    t = _build(ans.get("trace_id", trace_id), raws, {})
    _link([t])
    return t


def _service_traces(url, token):
    base, path, query = _split_url(url)
    token = _token(token)
    if path.startswith("/api/traces/"):
        tid = path[len("/api/traces/"):]
        if not _HEX32.match(tid):
            raise ValueError(f"{url}: a trace ID is 32 hex digits")
        yield _fetch(base, tid.lower(), token)
        return
    if path not in ("", "/api/traces"):
        raise ValueError(f"{url}: expected http://HOST:PORT, .../api/traces?QUERY or "
                         f".../api/traces/ID")
    params = urllib.parse.parse_qsl(query, keep_blank_values=True)
    keys = {k for k, _ in params}
    if "cursor" in keys:
        raise ValueError(f"{url}: the pages are followed here: give no cursor")
    if "sort" not in keys:
        params.append(("sort", "start"))          # oldest first, as files are read
    if "limit" not in keys:
        params.append(("limit", str(_SEARCH_PAGE)))
    cursor = None
    while True:
        q = params + ([("cursor", cursor)] if cursor else [])
        surl = f"{base}/api/traces?{urllib.parse.urlencode(q)}"
        ans = _get_json(surl, token)
        if not isinstance(ans, dict) or not isinstance(ans.get("traces"), list):
            _bad(surl, "no traces list")
        for s in ans["traces"]:
            tid = s.get("trace_id") if isinstance(s, dict) else None
            if not isinstance(tid, str) or not _HEX32.match(tid):
                _bad(surl, "a summary without a trace_id")
            yield _fetch(base, tid, token)
        cursor = ans.get("next_cursor")
        if not cursor:
            return


def traces(source, token=None):
    """The traces of `source`, as Trace objects:

    - a trace file, a directory of them, or a list of files and directories: every trace they
      hold, oldest first (read whole first: memory grows with the input);
    - "http://HOST:PORT" (a running `hx serve`): every trace it stores, oldest first, fetched
      one at a time; "http://HOST:PORT/api/traces?service=cart&min_duration=1s": those the
      search finds (docs/http-api.md); "http://HOST:PORT/api/traces/ID": that one.

    token: the service's bearer token (default: HX_TOKEN from the environment). Files are read
    by this call; a service is asked as the traces are taken from the iterator. Errors: a
    missing path raises FileNotFoundError, a file that is no trace HaruspexError, a service
    error ServiceError, a malformed URL ValueError."""
    if isinstance(source, str) and "://" in source:
        return _service_traces(source, token)
    return iter(_file_traces(source))


def follow(url, fn, poll=1.0, after=None, limit=None, token=None):
    """Call fn(trace) once for each trace the service at `url` finds complete (its root ended
    and nothing arrived for `hx serve --complete-idle`), in the order it finds them, polling
    GET /api/complete every `poll` seconds while there is nothing new. Runs until fn returns
    False, `limit` traces were handed, or KeyboardInterrupt.

    after: where to start, a cursor from an earlier follow() (default: the first trace the
    service found complete). Returns the cursor after the last answer handed: traces of that
    answer after the one fn stopped at are not handed again by a follow() from it.
    A service that is down or busy (no answer, 5xx) is retried every `poll` seconds; other
    errors (401, 400) raise ServiceError. A trace listed complete and gone before its fetch
    (retention) is skipped with a line on stderr."""
    base, _, _ = _split_url(url)
    token = _token(token)
    if poll <= 0:
        raise ValueError("poll must be a number of seconds above 0")
    cursor = after
    handed = 0
    warned = False
    while True:
        page = _COMPLETE_PAGE if limit is None else max(1, min(_COMPLETE_PAGE, limit - handed))
        q = [("limit", str(page))] + ([("after", str(cursor))] if cursor is not None else [])
        curl = f"{base}/api/complete?{urllib.parse.urlencode(q)}"
        try:
            ans = _get_json(curl, token)
        except ServiceError as e:
            if e.status is not None and e.status < 500:
                raise
            if not warned:
                print(f"haruspex.analysis: {e}; retrying every {poll:g} s", file=sys.stderr)
                warned = True
            time.sleep(poll)
            continue
        warned = False
        if not isinstance(ans, dict) or not isinstance(ans.get("traces"), list):
            _bad(curl, "no traces list")
        ids = ans["traces"]
        for tid in ids:
            if not isinstance(tid, str) or not _HEX32.match(tid):
                _bad(curl, "a trace ID that is not 32 hex digits")
            try:
                t = _fetch(base, tid, token)
            except ServiceError as e:
                if e.status != 404:
                    raise
                print(f"haruspex.analysis: trace {tid} was complete but is gone (retention?)",
                      file=sys.stderr)
                continue
            handed += 1
            if fn(t) is False or (limit is not None and handed >= limit):
                return ans.get("next", cursor)
        if ans.get("next") is not None:
            cursor = ans["next"]
        if not ids:
            time.sleep(poll)


# ---- python3 -m haruspex.analysis ---------------------------------------------------------------

_USAGE = """usage: python3 -m haruspex.analysis SCRIPT SOURCE... [--follow] [--poll SECONDS] [-- ARGS...]

Load SCRIPT (a Python file) and call its analyze(trace) once per trace of SOURCE: trace files
or directories, or a service URL (http://HOST:PORT, .../api/traces?QUERY, .../api/traces/ID).
--follow (a service only): each trace once as the service finds it complete, until Ctrl-C.
summary() is called at the end if SCRIPT defines it. ARGS after -- become the script's sys.argv[1:].
HX_TOKEN is the service's bearer token."""


def _load_script(path):
    spec = importlib.util.spec_from_file_location("haruspex_analysis_script", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path}: not a Python file")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    """The command line; returns the exit status: 0, 1 (the script raised), 2 (usage, a source
    that cannot be read)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, script_args = argv[:i], argv[i + 1:]
    follow_mode, poll, pos = False, 1.0, []
    it = iter(argv)
    for a in it:
        if a == "--follow":
            follow_mode = True
        elif a == "--poll":
            try:
                poll = float(next(it))
                if not poll > 0:
                    raise ValueError
            except (StopIteration, ValueError):
                print("haruspex.analysis: --poll needs a number of seconds above 0\n" + _USAGE,
                      file=sys.stderr)
                return 2
        elif a in ("-h", "--help"):
            print(_USAGE)
            return 0
        elif a.startswith("-") and a != "-":
            print(f"haruspex.analysis: unknown option {a}\n{_USAGE}", file=sys.stderr)
            return 2
        else:
            pos.append(a)
    if len(pos) < 2:
        print(_USAGE, file=sys.stderr)
        return 2
    script, sources = pos[0], pos[1:]
    urls = [s for s in sources if "://" in s]
    if urls and len(sources) > 1:
        print("haruspex.analysis: a service URL is the only SOURCE", file=sys.stderr)
        return 2
    if follow_mode and not urls:
        print("haruspex.analysis: --follow needs a service URL (http://HOST:PORT)",
              file=sys.stderr)
        return 2
    if not os.path.isfile(script):
        print(f"haruspex.analysis: {script}: no such file", file=sys.stderr)
        return 2
    saved_argv = sys.argv
    sys.argv = [script] + script_args
    try:
        try:
            mod = _load_script(script)
        except Exception:
            traceback.print_exc()
            return 1
        analyze = getattr(mod, "analyze", None)
        if not callable(analyze):
            print(f"haruspex.analysis: {script} defines no analyze(trace)", file=sys.stderr)
            return 2
        failed = []

        def run(t):
            try:
                analyze(t)
            except KeyboardInterrupt:
                raise
            except Exception:
                traceback.print_exc()
                failed.append(t.trace_id)
                return False            # the script failed: stop, exit 1
            return None

        old = signal.signal(signal.SIGTERM, _sigterm) if follow_mode else None
        try:
            if follow_mode:
                follow(urls[0], run, poll=poll)
            else:
                for t in traces(urls[0] if urls else sources):
                    if run(t) is False:
                        break
        except KeyboardInterrupt:
            if not follow_mode:
                raise
        except (ServiceError, HaruspexError, OSError, ValueError) as e:
            print(f"haruspex.analysis: {e}", file=sys.stderr)
            return 2
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
        if failed:
            print(f"haruspex.analysis: {script}: analyze() raised on trace {failed[0]}",
                  file=sys.stderr)
            return 1
        summary = getattr(mod, "summary", None)
        if callable(summary):
            try:
                summary()
            except Exception:
                traceback.print_exc()
                return 1
        return 0
    finally:
        sys.argv = saved_argv


if __name__ == "__main__":
    # run the module's own copy, so that a script importing haruspex.analysis sees the classes
    # of the objects it is given
    from haruspex.analysis import main as _main
    sys.exit(_main())
