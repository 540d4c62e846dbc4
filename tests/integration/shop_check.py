#!/usr/bin/env python3
"""shop_check.py - check the traces of examples/shop for the exact expected DAG.

    shop_check.py --hx HX --requests R --workers W DIR

Reads `HX dump --json --order time DIR` (one JSON object per event) and `HX stats --json DIR` (the
processes and their services), and checks:

  processes   exactly client, gateway, inventory, payment and W workers, one process each, every
              file sealed (the process called hx_shutdown);
  events      (entity, seq) unique, each entity's sequence numbers gap-free from 0, its times never
              going back, and the dump in time order;
  links       every cause an effect or trace_join names is an event in the files (no dangling
              cause), a `cause` event of the same trace, and not later than the effect;
  traces      exactly R traces, one per order, each spanning every process; in each, every
              process's events form one unbroken run on its main thread with exactly the kinds,
              names, interactions and block nesting below (TEMPLATES), and every interaction
              links the exact pair of events it should: the client's request to the gateway, the
              gateway's two requests to inventory and payment, their replies back, one publish to
              the W workers' deliveries, the gateway's reply to the client;
  counts      per trace: request 3 causes and 3 effects, reply 3 and 3, publish 1 cause and W
              effects, 3 + W trace joins;
  outside     no block, cause or effect outside a trace.

Only the standard library. Unknown fields in the JSON are ignored, so the dump may grow.
Exit status 0 when everything holds, 1 otherwise (each failure is printed).
"""
import argparse
import collections
import json
import subprocess
import sys

# Per process and per trace, the events in order: (label, kind, name, interaction, cause label).
# A label names the event for the links; `cause` is the label of the event the step's cause must
# be. Names of block ends and trace ends are empty in the trace. "state" steps give the reason as
# the name (the state itself is checked to be "waiting"), and each reply effect that follows one
# must carry the "resumes" flag: the reply is what ended the wait.
TEMPLATES = {
    "client": [
        ("client.begin", "trace_begin", "order", None, None),
        (None, "block_begin", "order", None, None),
        ("client.request", "cause", "POST /order", "request", None),
        (None, "state", "gateway", None, None),
        ("client.reply", "effect", "order reply", "reply", "gateway.reply"),
        (None, "block_end", "", None, None),
        (None, "trace_end", "", None, None),
    ],
    "gateway": [
        ("gateway.join", "trace_join", "order", "causal", "client.request"),
        ("gateway.received", "effect", "POST /order", "request", "client.request"),
        (None, "block_begin", "place order", None, None),
        (None, "block_begin", "call inventory", None, None),
        ("gateway.reserve", "cause", "POST /reserve", "request", None),
        (None, "state", "inventory", None, None),
        ("gateway.reserved", "effect", "reserve reply", "reply", "inventory.reply"),
        (None, "block_end", "", None, None),
        (None, "block_begin", "call payment", None, None),
        ("gateway.charge", "cause", "POST /charge", "request", None),
        (None, "state", "payment", None, None),
        ("gateway.charged", "effect", "charge reply", "reply", "payment.reply"),
        (None, "block_end", "", None, None),
        ("gateway.publish", "cause", "order placed", "publish", None),
        (None, "block_end", "", None, None),
        ("gateway.reply", "cause", "order reply", "reply", None),
        (None, "trace_end", "", None, None),
    ],
    "inventory": [
        ("inventory.join", "trace_join", "reserve", "causal", "gateway.reserve"),
        ("inventory.received", "effect", "POST /reserve", "request", "gateway.reserve"),
        (None, "block_begin", "reserve stock", None, None),
        (None, "block_end", "", None, None),
        ("inventory.reply", "cause", "reserve reply", "reply", None),
        (None, "trace_end", "", None, None),
    ],
    "payment": [
        ("payment.join", "trace_join", "charge", "causal", "gateway.charge"),
        ("payment.received", "effect", "POST /charge", "request", "gateway.charge"),
        (None, "block_begin", "charge card", None, None),
        (None, "block_end", "", None, None),
        ("payment.reply", "cause", "charge reply", "reply", None),
        (None, "trace_end", "", None, None),
    ],
    "worker": [
        (None, "trace_join", "order", "causal", "gateway.publish"),
        (None, "effect", "order placed", "publish", "gateway.publish"),
        (None, "block_begin", "process order", None, None),
        (None, "block_end", "", None, None),
        (None, "trace_end", "", None, None),
    ],
}
SINGLE_SERVICES = ("client", "gateway", "inventory", "payment")
# The deepest block nesting each process reaches in a trace.
MAX_DEPTH = {"client": 1, "gateway": 2, "inventory": 1, "payment": 1, "worker": 1}

errors = []


def fail(msg):
    errors.append(msg)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        fail("%s exited with %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()[:500]))
    return p


def eid(ev):
    return (ev.get("entity"), ev.get("seq"))


def show(ev):
    return "%s:%s %s %r" % (ev.get("entity"), ev.get("seq"), ev.get("kind"), ev.get("name"))


def load(hx, d):
    dump = run([hx, "dump", "--json", "--order", "time", d])
    if "no damage" not in dump.stderr:
        fail("hx dump reports damage: %s" % dump.stderr.strip()[:500])
    events = []
    for n, line in enumerate(dump.stdout.splitlines(), 1):
        try:
            events.append(json.loads(line))
        except ValueError as e:
            fail("hx dump --json line %d is not JSON (%s): %s" % (n, e, line[:200]))
    stats = run([hx, "stats", "--json", d])
    try:
        st = json.loads(stats.stdout)
    except ValueError as e:
        fail("hx stats --json is not JSON: %s" % e)
        st = {}
    return events, st


def check_processes(st, workers):
    """Returns {pid: service} for the processes found."""
    procs = st.get("processes") or []
    services = {}
    for p in procs:
        services[p.get("pid")] = p.get("service")
        if not p.get("clean"):
            fail("process %s (%s) did not seal its file: no hx_shutdown?" % (p.get("pid"), p.get("service")))
    count = collections.Counter(services.values())
    expected = collections.Counter({s: 1 for s in SINGLE_SERVICES})
    expected["worker"] = workers
    if count != expected:
        fail("processes by service: %s, expected %s" % (dict(count), dict(expected)))
    if len(services) != len(procs):
        fail("%d processes but only %d distinct pids" % (len(procs), len(services)))
    return services


def check_events(events):
    """Identity, per-entity order and time order. Returns {(entity, seq): event}."""
    by_id = {}
    per_entity = collections.defaultdict(list)
    last_time = None
    for ev in events:
        k = eid(ev)
        if k in by_id:
            fail("event %s:%s appears twice" % k)
        by_id[k] = ev
        per_entity[ev.get("entity")].append(ev)
        t = ev.get("time_ns")
        if not isinstance(t, int):
            fail("event %s has no time_ns" % show(ev))
        elif last_time is not None and t < last_time:
            fail("dump --order time goes back in time at %s" % show(ev))
        else:
            last_time = t
    for ent, evs in per_entity.items():
        evs.sort(key=lambda e: e.get("seq", -1))
        seqs = [e.get("seq") for e in evs]
        if seqs != list(range(len(evs))):
            fail("entity %s: sequence numbers are not 0..%d without gaps" % (ent, len(evs) - 1))
        for a, b in zip(evs, evs[1:]):
            if b.get("time_ns", 0) < a.get("time_ns", 0):
                fail("entity %s: time goes back from seq %s to %s" % (ent, a.get("seq"), b.get("seq")))
        pids = {e.get("pid") for e in evs}
        if len(pids) != 1:
            fail("entity %s appears in several processes: %s" % (ent, sorted(map(str, pids))))
    return by_id


def check_links(events, by_id):
    """Every cause named is in the files, is a cause event of that trace, and comes first."""
    for ev in events:
        causes = ev.get("causes")
        if ev.get("kind") in ("effect", "trace_join") and not causes:
            fail("%s names no cause" % show(ev))
        for c in causes or []:
            target = by_id.get((c.get("entity"), c.get("seq")))
            if target is None:
                fail("%s: dangling cause %s:%s (not in any file)" % (show(ev), c.get("entity"), c.get("seq")))
                continue
            if target.get("kind") != "cause":
                fail("%s: its cause %s is not a cause event" % (show(ev), show(target)))
            if c.get("trace") != target.get("trace"):
                fail("%s: names trace %s for %s, which is in trace %s"
                     % (show(ev), c.get("trace"), show(target), target.get("trace")))
            if target.get("time_ns", 0) > ev.get("time_ns", 0):
                fail("%s happens before its cause %s" % (show(ev), show(target)))


def check_outside(events):
    for ev in events:
        if ev.get("trace") is None and ev.get("kind") in ("block_begin", "block_end", "cause", "effect",
                                                          "trace_join", "state"):
            fail("%s is outside any trace" % show(ev))


def check_slice(trace, who, service, evs, labels):
    """One process's events in one trace against its template; fills labels."""
    tmpl = TEMPLATES[service]
    where = "trace %s, %s" % (trace, who)
    entities = {e.get("entity") for e in evs}
    if len(entities) != 1:
        fail("%s: events on %d entities, expected one (the main thread)" % (where, len(entities)))
        return
    seqs = [e.get("seq") for e in evs]
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        fail("%s: the trace's events are not one unbroken run (seqs %s)" % (where, seqs))
    got = [(e.get("kind"), e.get("name"), e.get("interaction")) for e in evs]
    want = [(k, n, ia) for _, k, n, ia, _ in tmpl]
    if got != want:
        fail("%s: events differ from the expected shape\n      got:  %s\n      want: %s" % (where, got, want))
        return
    depth = deepest = 0
    waiting = False
    for ev, (label, kind, _, _, _) in zip(evs, tmpl):
        if label:
            labels[label] = ev
        if kind == "block_begin":
            depth += 1
            deepest = max(deepest, depth)
        elif kind == "block_end":
            depth -= 1
            if depth < 0:
                fail("%s: block end without a begin at %s" % (where, show(ev)))
        elif kind == "state":
            if ev.get("state") != "waiting":
                fail("%s: %s is not a wait" % (where, show(ev)))
            waiting = True
        elif kind == "effect" and waiting:
            # A reply that ends a wait carries the "resumes" flag (if this dump says so at all).
            if "resumes" in ev and ev["resumes"] is not True:
                fail("%s: %s ends a wait but does not resume" % (where, show(ev)))
            waiting = False
    if depth != 0 or deepest != MAX_DEPTH[service]:
        fail("%s: blocks end at depth %d and nest %d deep, expected 0 and %d"
             % (where, depth, deepest, MAX_DEPTH[service]))


def check_trace(trace, evs, services, workers):
    where = "trace %s" % trace
    by_pid = collections.defaultdict(list)
    for ev in evs:
        by_pid[ev.get("pid")].append(ev)
    if set(by_pid) != set(services):
        missing = sorted(str(services.get(p)) for p in set(services) - set(by_pid))
        fail("%s spans %d of %d processes (missing: %s)" % (where, len(by_pid), len(services), missing))
        return
    labels = {}
    worker_pids = []
    for pid, pevs in sorted(by_pid.items()):
        service = services[pid]
        pevs.sort(key=lambda e: e.get("seq", -1))
        who = "%s (pid %s)" % (service, pid)
        check_slice(trace, who, service, pevs, labels)
        if service == "worker":
            worker_pids.append(pid)

    # Every step that names a cause names exactly that event.
    for pid, pevs in sorted(by_pid.items()):
        service = services[pid]
        for ev, (_, _, _, _, cause) in zip(pevs, TEMPLATES[service]):
            if not cause:
                continue
            want = labels.get(cause)
            got = [(c.get("entity"), c.get("seq")) for c in ev.get("causes") or []]
            if want is None or got != [eid(want)]:
                fail("%s: %s (%s) names %s, expected exactly %s (%s)"
                     % (where, show(ev), service, got, cause, show(want) if want else "missing"))
            elif ev.get("causes")[0].get("trace") != trace:
                fail("%s: %s names a cause in another trace" % (where, show(ev)))

    # Counts by interaction kind.
    causes = collections.Counter(e.get("interaction") for e in evs if e.get("kind") == "cause")
    effects = collections.Counter(e.get("interaction") for e in evs if e.get("kind") == "effect")
    joins = sum(1 for e in evs if e.get("kind") == "trace_join")
    if causes != collections.Counter({"request": 3, "reply": 3, "publish": 1}):
        fail("%s: causes by kind %s, expected request 3, reply 3, publish 1" % (where, dict(causes)))
    if effects != collections.Counter({"request": 3, "reply": 3, "publish": workers}):
        fail("%s: effects by kind %s, expected request 3, reply 3, publish %d" % (where, dict(effects), workers))
    if joins != 3 + workers:
        fail("%s: %d trace joins, expected %d" % (where, joins, 3 + workers))
    pub = labels.get("gateway.publish")
    if pub:
        deliveries = [e for e in evs if e.get("kind") == "effect" and
                      [(c.get("entity"), c.get("seq")) for c in e.get("causes") or []] == [eid(pub)]]
        if sorted(e.get("pid") for e in deliveries) != sorted(worker_pids):
            fail("%s: the publish reaches %d deliveries, expected one in each of the %d workers"
                 % (where, len(deliveries), workers))
    begin = labels.get("client.begin")
    if begin and min(e.get("time_ns", 0) for e in evs) != begin.get("time_ns"):
        fail("%s: does not start with the client's trace_begin" % where)
    return labels


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hx", required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("dir")
    a = ap.parse_args()

    events, st = load(a.hx, a.dir)
    services = check_processes(st, a.workers)
    by_id = check_events(events)
    check_links(events, by_id)
    check_outside(events)

    traces = collections.OrderedDict()
    for ev in events:
        t = ev.get("trace")
        if t is not None:
            traces.setdefault(t, []).append(ev)
    if len(traces) != a.requests:
        fail("%d traces, expected %d (one per order)" % (len(traces), a.requests))
    previous_end = None
    for t, evs in traces.items():
        labels = check_trace(t, evs, services, a.workers)
        # The client places orders one after the other: each trace begins after the last reply.
        if labels and "client.begin" in labels and "client.reply" in labels:
            if previous_end is not None and labels["client.begin"]["time_ns"] < previous_end:
                fail("trace %s begins before the previous order was answered" % t)
            previous_end = labels["client.reply"]["time_ns"]

    # hx stats's own view of the traces, where it gives one: no dangling causes in any.
    for tr in st.get("traces") or []:
        if tr.get("dangling", 0) != 0:
            fail("hx stats: trace %s has %s dangling causes" % (tr.get("id"), tr.get("dangling")))

    if errors:
        for e in errors[:40]:
            print("FAIL: " + e, file=sys.stderr)
        if len(errors) > 40:
            print("FAIL: ... and %d more" % (len(errors) - 40), file=sys.stderr)
        return 1
    print("shop_check: %d traces x %d processes, %d events, every interaction linked as expected"
          % (len(traces), len(services), len(events)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
