#!/usr/bin/env bash
# analyze.sh - `hx analyze` end to end on traces recorded by programs of the build: examples/shop
# (7 processes, 5 services, request/reply, publish to several workers, block attributes) and
# examples/pipeline (threads switching between traces, waits, errors). Every number hx prints is
# checked against the same number computed here, independently, in Python from `hx dump --json`
# (and `hx stats --json` for the processes' services and hosts):
#   - per trace (--per-trace --json and --csv): duration, events, entities, processes, hosts,
#     errors, fan-out, root, services; per block name count, total, self and waiting time; the
#     critical time by block name against `hx critical-path --json`; an attribute;
#   - aggregates (--json, --csv, the table): count, p50, p90, p99, max, mean by nearest rank,
#     ungrouped and grouped by name, service, root and attr:KEY, with --metric and --where;
#   - the dependency graph (--dependencies --json / --csv): edges between services with calls and
#     latencies, request/reply, trace joins and publish to several workers included;
#   - --since, and the usage errors (exit 2 with a message).
# Run by tests/run.sh: $1 is the build directory, HX the hx binary; the working directory is a
# fresh temporary one.
set -euo pipefail

build=${1:-${HX_BUILD_DIR:-build}}
hx=${HX:-$build/src/cli/hx}
shop=$build/examples/shop/shop
[[ -x $hx ]] || { echo "analyze.sh: no hx binary at $hx" >&2; exit 1; }
[[ -x $shop ]] || { echo "analyze.sh: $shop not built (needs libevent and libcurl)" >&2; exit 1; }

# The recording programs have their own deadlines; the outer timeouts only guard against a hang.
if ! timeout 120 "$shop" --requests 6 --workers 3 --timeout 60 shop >shop.out 2>shop.err; then
  echo "analyze.sh: examples/shop failed" >&2
  sed 's/^/    /' shop.out shop.err >&2
  exit 1
fi
if ! timeout 120 "$build/examples/pipeline" --items 40 --workers 3 pipe >/dev/null; then
  echo "analyze.sh: examples/pipeline did not finish recording" >&2
  exit 1
fi

python3 - "$hx" <<'EOF'
import csv, io, json, math, subprocess, sys
from collections import defaultdict

hx = sys.argv[1]

def run(*args, ok=True):
    p = subprocess.run([hx, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        sys.exit(f"hx {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p

def out(*args):
    return run(*args).stdout

def rank(vals, p):
    """nearest rank: the smallest value with at least p * n values at or below it"""
    v = sorted(vals)
    r = max(1, min(len(v), math.ceil(p * len(v) - 1e-9)))
    return v[r - 1]

def stats(vals):
    return {"count": len(vals), "p50": rank(vals, 0.5), "p90": rank(vals, 0.9), "p99": rank(vals, 0.99),
            "max": max(vals), "mean": sum(vals) / len(vals)}

def human(ns):
    if ns < 1e3: return "%.0fns" % ns
    if ns < 1e6: return "%.2fus" % (ns / 1e3)
    if ns < 1e9: return "%.2fms" % (ns / 1e6)
    return "%.3fs" % (ns / 1e9)

def same_stats(got, want, label):
    assert got["count"] == want["count"], (label, got, want)
    for k in ("p50", "p90", "p99", "max"):
        assert got[k] == want[k], (label, k, got[k], want[k])
    assert abs(got["mean"] - want["mean"]) <= 0.001 + 1e-12 * want["mean"], (label, got["mean"], want["mean"])

class Input:
    """Everything hx analyze reports, computed here from hx dump --json and hx stats --json."""

    def __init__(self, path):
        self.path = path
        self.events = [json.loads(l) for l in out("dump", "--json", path).splitlines() if l.strip()]
        procs = json.loads(out("stats", "--json", path))["processes"]
        self.service = {p["pid"]: p["service"] or p["program"] for p in procs}
        self.host = {p["pid"]: p["host"] for p in procs}
        self.by_id = {(e["entity"], e["seq"]): e for e in self.events}
        self.by_trace = defaultdict(list)
        for e in self.events:
            if e["trace"]:
                self.by_trace[e["trace"]].append(e)
        self.entity_events = defaultdict(list)
        for e in self.events:
            self.entity_events[e["entity"]].append(e)
        for v in self.entity_events.values():
            v.sort(key=lambda e: e["seq"])
        self.blocks_and_waits()
        self.traces = {t: self.features(t) for t in self.by_trace}

    def blocks_and_waits(self):
        self.blocks = []   # (trace of the begin, name, begin time, end time, entity, child time)
        self.waits = defaultdict(list)  # entity -> [(start, end)]
        for ent, evs in self.entity_events.items():
            stack, waiting = [], None
            for e in evs:
                if e["kind"] == "block_begin":
                    stack.append({"trace": e["trace"], "name": e["name"], "begin": e["time_ns"], "children": 0})
                elif e["kind"] == "block_end" and stack:
                    b = stack.pop()
                    b["end"] = e["time_ns"]
                    self.close(b, ent, stack)
                is_wait = e["kind"] == "state" and e["state"] == "waiting"
                if waiting is None:
                    if is_wait:
                        waiting = e["time_ns"]
                elif (e["kind"] == "state" and e["state"] == "running") or \
                     (e["kind"] == "effect" and e["resumes"]) or e["kind"] == "entity_end":
                    self.waits[ent].append((waiting, e["time_ns"]))
                    waiting = None
            last = evs[-1]["time_ns"]
            while stack:
                b = stack.pop()
                b["end"] = last
                self.close(b, ent, stack)
            if waiting is not None:
                self.waits[ent].append((waiting, last))

    def close(self, b, ent, stack):
        total = max(0, b["end"] - b["begin"])
        if stack:
            stack[-1]["children"] += total
        b["entity"] = ent
        b["total"] = total
        self.blocks.append(b)

    def waited(self, ent, t0, t1):
        return sum(max(0, min(t1, b) - max(t0, a)) for a, b in self.waits[ent])

    def features(self, t):
        evs = self.by_trace[t]
        first = min(e["time_ns"] for e in evs)
        last = max(e["time_ns"] for e in evs)
        roots = sorted((e["time_ns"], e["name"]) for e in evs if e["kind"] == "trace_begin")
        effects = defaultdict(int)
        for e in self.events:
            for c in e.get("causes", []):
                if (c["entity"], c["seq"]) in self.by_id:
                    effects[(c["entity"], c["seq"])] += 1
        pids = {e["pid"] for e in evs}
        blocks = defaultdict(lambda: {"count": 0, "total_ns": 0, "self_ns": 0, "wait_ns": 0})
        for b in self.blocks:
            if b["trace"] != t:
                continue
            x = blocks[b["name"]]
            x["count"] += 1
            x["total_ns"] += b["total"]
            x["self_ns"] += max(0, b["total"] - b["children"])
            x["wait_ns"] += self.waited(b["entity"], b["begin"], b["end"])
        return {
            "trace": t, "root": roots[0][1] if roots else None, "start_ns": first, "end_ns": last,
            "duration_ns": last - first, "events": len(evs), "entities": len({e["entity"] for e in evs}),
            "processes": len(pids), "hosts": len({self.host[p] for p in pids if self.host[p]}),
            "errors": sum(e["kind"] == "error" for e in evs),
            "fanout": max([effects[(e["entity"], e["seq"])] for e in evs] + [0]),
            "services": sorted({self.service[p] for p in pids if self.service[p]}),
            "blocks": dict(blocks),
        }

shop = Input("shop")
pipe = Input("pipe")
assert len(shop.traces) == 6, len(shop.traces)
assert len(pipe.traces) >= 3, len(pipe.traces)
assert any(f["errors"] for f in pipe.traces.values()), "pipeline records errors"

# ---- per trace ----
critical = {}  # trace -> block name -> critical ns, as checked against hx critical-path
for inp in (shop, pipe):
    got = [json.loads(l) for l in out("analyze", "--per-trace", "--json", inp.path).splitlines()]
    assert len(got) == len(inp.traces), (inp.path, len(got), len(inp.traces))
    for n, g in enumerate(got):
        w = inp.traces[g["trace"]]
        for k in ("root", "start_ns", "end_ns", "duration_ns", "events", "entities", "processes", "hosts",
                  "errors", "fanout", "services"):
            assert g[k] == w[k], (inp.path, g["trace"], k, g[k], w[k])
        assert g["critical_ns"] == w["duration_ns"], (g["trace"], "the path tiles the trace")
        gb = {b["name"]: b for b in g["blocks"]}
        assert set(w["blocks"]) <= set(gb), (g["trace"], sorted(gb), sorted(w["blocks"]))
        if n >= 3:  # the critical path of three traces per input against hx critical-path
            crit = {name: b["critical_ns"] for name, b in gb.items()}
        else:
            cp = json.loads(out("critical-path", "--json", "--trace", g["trace"], inp.path))
            crit = {x["block"]: x["ns"] for x in cp["by_block"] if x["block"] is not None}
            assert set(gb) == set(w["blocks"]) | set(crit), (g["trace"], sorted(gb), sorted(crit))
        for name, b in gb.items():
            wb = w["blocks"].get(name, {"count": 0, "total_ns": 0, "self_ns": 0, "wait_ns": 0})
            for k in ("count", "total_ns", "self_ns", "wait_ns"):
                assert b[k] == wb[k], (inp.path, g["trace"], name, k, b[k], wb[k])
            assert b["critical_ns"] == crit.get(name, 0), (g["trace"], name, b["critical_ns"], crit.get(name))
        critical[g["trace"]] = crit
assert any(b["wait_ns"] for f in pipe.traces.values() for b in f["blocks"].values()), "pipeline blocks wait"
assert max(f["fanout"] for f in shop.traces.values()) >= 3, "an order is published to every worker"

# CSV per trace, with an attribute (the client's "order" block carries item and qty)
items = {}
for e in shop.events:
    if e["trace"] and "item" in e["attrs"] and e["trace"] not in items:
        items[e["trace"]] = min((x for x in shop.by_trace[e["trace"]] if "item" in x["attrs"]),
                                key=lambda x: x["time_ns"])["attrs"]["item"]
assert len(items) == 6
rows = list(csv.DictReader(io.StringIO(out("analyze", "--per-trace", "--csv", "--attr", "item", "shop"))))
assert len(rows) == 6
for r in rows:
    w = shop.traces[r["trace"]]
    assert int(r["duration_ns"]) == w["duration_ns"] and int(r["events"]) == w["events"], r
    assert r["services"] == ";".join(w["services"]) and r["root"] == w["root"], r
    assert r["attr:item"] == items[r["trace"]], (r, items[r["trace"]])
table = out("analyze", "--per-trace", "shop").splitlines()
assert table[0].split()[:3] == ["trace", "duration", "critical"] and len(table) == 7, table[:2]

# ---- aggregates ----
def agg_json(*args):
    return json.loads(out("analyze", "--json", *args))

durs = [f["duration_ns"] for f in shop.traces.values()]
j = agg_json("shop")
assert j["metric"] == "duration" and j["unit"] == "ns" and j["group_by"] == [] and j["traces"] == 6
assert len(j["rows"]) == 1
same_stats(j["rows"][0], stats(durs), "all")

# by service: every trace of the shop involves every service
j = agg_json("--group-by", "service", "shop")
assert sorted(r["service"] for r in j["rows"]) == ["client", "gateway", "inventory", "payment", "worker"]
for r in j["rows"]:
    same_stats(r, stats([f["duration_ns"] for f in shop.traces.values() if r["service"] in f["services"]]), r["service"])

# by name, metric self, over both inputs read as one
for metric in ("self", "wait", "critical"):
    both = list(shop.traces.values()) + list(pipe.traces.values())
    j = agg_json("--group-by", "name", "--metric", metric, "shop", "pipe")
    assert j["traces"] == len(both), (j["traces"], len(both))
    want = defaultdict(list)
    for f in both:
        for name in set(f["blocks"]) | set(critical[f["trace"]]):
            b = f["blocks"].get(name, {"count": 0, "total_ns": 0, "self_ns": 0, "wait_ns": 0})
            v = critical[f["trace"]].get(name, 0) if metric == "critical" else b["count"] if metric == "count" \
                else b[metric + "_ns"]
            want[name].append(v)
    assert {r["name"] for r in j["rows"]} == set(want), (metric, sorted(r["name"] for r in j["rows"]), sorted(want))
    for r in j["rows"]:
        same_stats(r, stats(want[r["name"]]), (metric, r["name"]))
    counts = [r["count"] for r in j["rows"]]
    assert counts == sorted(counts, reverse=True), "rows come largest count first"

# by root, with a filter: pipeline traces with errors
j = agg_json("--group-by", "root", "--metric", "events", "--where", "errors >= 1", "pipe")
want = defaultdict(list)
for f in pipe.traces.values():
    if f["errors"] >= 1:
        want[f["root"]].append(f["events"])
assert j["unit"] == "count" and j["matched"] == sum(len(v) for v in want.values())
assert {r["root"] for r in j["rows"]} == set(want)
for r in j["rows"]:
    same_stats(r, stats(want[r["root"]]), r["root"])

# --where on the duration, and on block fields with a block in scope
median = rank(durs, 0.5)
j = agg_json("--where", f"duration > {median}ns or service = \"nobody\"", "shop")
assert j["matched"] == sum(d > median for d in durs), (j["matched"], median, durs)
j = agg_json("--group-by", "name", "--metric", "total", "--where", "total >= 1ms and name ~ \"order\"", "shop")
want = defaultdict(list)
for f in shop.traces.values():
    for name, b in f["blocks"].items():
        if b["total_ns"] >= 1000000 and "order" in name:
            want[name].append(b["total_ns"])
assert {r["name"] for r in j["rows"]} == set(want), (j["rows"], want)
for r in j["rows"]:
    same_stats(r, stats(want[r["name"]]), r["name"])

# by attribute: attr:item, with an attr filter
j = agg_json("--group-by", "attr:item", "--where", "attr.qty >= 1", "shop")
want = defaultdict(list)
for t, item in items.items():
    want[item].append(shop.traces[t]["duration_ns"])
assert {r["attr:item"] for r in j["rows"]} == set(want), j["rows"]
for r in j["rows"]:
    same_stats(r, stats(want[r["attr:item"]]), r["attr:item"])

# CSV and the table say the same
rows = list(csv.DictReader(io.StringIO(out("analyze", "--csv", "--group-by", "service", "shop"))))
assert [r["service"] for r in rows] == sorted(r["service"] for r in rows)  # equal counts: by key
for r in rows:
    w = stats([f["duration_ns"] for f in shop.traces.values() if r["service"] in f["services"]])
    assert int(r["count"]) == w["count"] and int(r["p90"]) == w["p90"] and int(r["max"]) == w["max"], (r, w)
lines = out("analyze", "--group-by", "service", "shop").splitlines()
assert lines[0].split() == ["service", "count", "p50(duration)", "p90(duration)", "p99(duration)",
                            "max(duration)", "mean(duration)"], lines[0]
for line in lines[1:]:
    cells = line.split()
    w = stats([f["duration_ns"] for f in shop.traces.values() if cells[0] in f["services"]])
    assert cells[1:6] == [str(w["count"]), human(w["p50"]), human(w["p90"]), human(w["p99"]), human(w["max"])], (cells, w)

# ---- the dependency graph ----
edges = defaultdict(list)
for e in shop.events:
    for c in e.get("causes", []):
        cause = shop.by_id.get((c["entity"], c["seq"]))
        if not cause:
            continue
        a, b = shop.service[cause["pid"]], shop.service[e["pid"]]
        if a != b:
            kind = "trace_join" if e["kind"] == "trace_join" else e["interaction"]
            edges[(a, b, kind)].append(max(0, e["time_ns"] - cause["time_ns"]))
j = json.loads(out("analyze", "--dependencies", "--json", "shop"))
assert j["by"] == "service"
got = {(x["from"], x["to"], x["kind"]): x for x in j["edges"]}
assert set(got) == set(edges), (sorted(got), sorted(edges))
for k, lat in edges.items():
    x = got[k]
    assert x["calls"] == len(lat) and x["max_ns"] == max(lat), (k, x, lat)
    assert x["p50_ns"] == rank(lat, 0.5) and x["p99_ns"] == rank(lat, 0.99), (k, x)
assert ("client", "gateway", "request") in got and ("gateway", "client", "reply") in got
assert got[("gateway", "worker", "publish")]["calls"] == 6 * 3, "each order published to 3 workers"
calls_in = defaultdict(int)
for k, lat in edges.items():
    calls_in[k[1]] += len(lat)
for n in j["nodes"]:
    assert n["kind"] == "service" and n["calls_in"] == calls_in[n["id"]], n
rows = list(csv.DictReader(io.StringIO(out("analyze", "--dependencies", "--csv", "shop"))))
assert len(rows) == len(edges) and all(int(r["calls"]) == len(edges[(r["from"], r["to"], r["kind"])]) for r in rows)
# by entity: every edge joins two entities of the dump
j = json.loads(out("analyze", "--dependencies=entity", "--json", "shop"))
ents = {e["entity"] for e in shop.events}
assert j["by"] == "entity" and all(x["from"] in ents and x["to"] in ents for x in j["edges"])
# filtered: the traces with a root named "nothing" cause nothing
j = json.loads(out("analyze", "--dependencies", "--json", "--where", "root = \"nothing\"", "shop"))
assert j["edges"] == [], j

# ---- --since ----
assert agg_json("--since", "1d", "shop")["traces"] == 6
j = agg_json("--since", "2099-01-01T00:00:00Z", "shop")
assert j["traces"] == 0 and j["rows"] == []

# ---- usage errors: exit 2 and a message ----
for args, msg in [
    (["--where", "duration >", "shop"], "--where: at offset 10"),
    (["--metric", "bogus", "shop"], "unknown metric"),
    (["--metric", "self", "shop"], "group by name"),
    (["--group-by", "colour", "shop"], "not a key"),
    (["--since", "yesterday", "shop"], "--since needs"),
    (["--per-trace", "--dependencies", "shop"], "not both"),
    (["no-such-dir"], "no-such-dir"),
]:
    p = run("analyze", *args, ok=False)
    assert p.returncode == 2 and msg in p.stderr, (args, p.returncode, p.stderr)
print("hx analyze: %d + %d traces, every number as computed here" % (len(shop.traces), len(pipe.traces)))
EOF
echo "analyze.sh: ok"
