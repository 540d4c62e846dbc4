#!/usr/bin/env bash
# critpath.sh - `hx critical-path` end to end on a trace recorded by examples/pipeline (threads,
# queues, waits, a fork()ed child): for the longest trace and for every trace by ID, the JSON output
# must keep the path's invariants, checked independently of the code that computed it:
#   - segments are in time order, contiguous, and tile the trace from its first event to its last;
#   - their durations sum to the trace's duration (exactly: integer ns), none negative;
#   - the path ends at the trace's last event, as `hx dump --json` shows it;
#   - the sums by kind, block, entity and host each add up to the duration;
#   - choosing the trace with --trace gives the same path as finding it as the longest.
# Also the text output and the usage errors. Run by tests/run.sh: $1 is the build directory, HX
# the hx binary; the working directory is a fresh temporary one.
set -euo pipefail

build=$1
: "${HX:?HX must name the hx binary}"

# A hang here is the recording program's, not the analysis's: say so rather than time out silently.
if ! timeout 120 "$build/examples/pipeline" --items 50 --workers 2 tr >/dev/null; then
  echo "critpath.sh: examples/pipeline did not finish recording (exit or timeout)" >&2
  exit 1
fi

"$HX" critical-path --json tr >longest.json
"$HX" dump --json tr >events.json 2>dump.err

python3 - longest.json events.json "$HX" <<'EOF'
import json, subprocess, sys

longest_path, events_path, hx = sys.argv[1:4]
events = [json.loads(line) for line in open(events_path) if line.strip()]
by_trace = {}
for e in events:
    if e.get("trace"):
        by_trace.setdefault(e["trace"], []).append(e)
assert len(by_trace) >= 3, f"pipeline should record several traces, got {len(by_trace)}"

def check(cp, label):
    tid = cp["trace"]
    evs = by_trace[tid]
    first = min(e["time_ns"] for e in evs)
    last = max(e["time_ns"] for e in evs)
    assert cp["start_ns"] == first, (label, cp["start_ns"], first)
    assert cp["end_ns"] == last, (label, cp["end_ns"], last)
    assert cp["duration_ns"] == last - first, label
    # the path ends at the trace's last event
    le = cp["last_event"]
    ends = [e for e in evs if e["entity"] == le["entity"] and e["seq"] == le["seq"]]
    assert len(ends) == 1 and ends[0]["time_ns"] == last, (label, le)
    segs = cp["segments"]
    if last > first:
        assert segs, label
    total = 0
    for i, s in enumerate(segs):
        assert s["kind"] in ("running", "waiting", "transfer", "unexplained"), (label, s)
        assert s["end_ns"] >= s["start_ns"], (label, i, s)
        assert s["duration_ns"] == s["end_ns"] - s["start_ns"], (label, i)
        want_start = segs[i - 1]["end_ns"] if i else first
        assert s["start_ns"] == want_start, (label, i, s["start_ns"], want_start)
        total += s["duration_ns"]
    if segs:
        assert segs[-1]["end_ns"] == last, label
        assert segs[-1]["end_event"]["entity"] == le["entity"], label
        assert segs[-1]["end_event"]["seq"] == le["seq"], label
    assert total == cp["duration_ns"], (label, total, cp["duration_ns"])
    assert sum(cp["by_kind"].values()) == total, label
    for key in ("by_block", "by_entity", "by_host"):
        assert sum(x["ns"] for x in cp[key]) == total, (label, key)
    # every segment's entity has events in the trace, or is the sender of a transfer
    ents = {e["entity"] for e in evs}
    for s in segs:
        assert s["entity"] in ents, (label, s["entity"])
    assert cp["walk"]["clamped"] == 0, (label, "one host, one clock: nothing to clamp")
    assert cp["walk"]["cycles"] == 0, label
    g = cp["graph"]
    assert g["events"] == len(evs), (label, g["events"], len(evs))
    assert g["linked"] + g["dangling"] + g["external"] + g["sampled_out"] + g["cross_trace"] == g["causes"], label
    assert g["dangling"] == 0, (label, "every cause of pipeline's traces is in the input")

longest = json.load(open(longest_path))
assert longest["selected"] == "longest"
assert longest["traces_in_input"] == len(by_trace)
durations = {t: max(e["time_ns"] for e in v) - min(e["time_ns"] for e in v) for t, v in by_trace.items()}
assert longest["duration_ns"] == max(durations.values())
check(longest, "longest")

for tid in sorted(by_trace):
    out = subprocess.run([hx, "critical-path", "--json", "--trace", tid, "tr"], check=True,
                         capture_output=True, text=True).stdout
    cp = json.loads(out)
    assert cp["selected"] == "given" and cp["trace"] == tid
    check(cp, tid)
    if tid == longest["trace"]:
        assert cp["segments"] == longest["segments"], "--trace and longest disagree"
        assert cp["by_block"] == longest["by_block"]

# a batch trace crosses threads: its path has a transfer and worker time in "process" blocks
batches = [t for t in by_trace if any(e["kind"] == "trace_begin" and e.get("name") == "batch" for e in by_trace[t])]
assert batches
cp = json.loads(subprocess.run([hx, "critical-path", "--json", "--trace", batches[0], "tr"],
                               check=True, capture_output=True, text=True).stdout)
assert any(s["kind"] == "transfer" for s in cp["segments"]), "a batch's path crosses entities"
assert any(b["block"] == "process" for b in cp["by_block"]), cp["by_block"]
print("critical paths of", len(by_trace), "traces check out")
EOF

# text: the segments and the three summaries
"$HX" critical-path tr >longest.txt
grep -q '(the longest of [0-9]* traces in the input)' longest.txt
grep -q '^critical time by block:' longest.txt
grep -q '^critical time by entity:' longest.txt
grep -q '^critical time by host:' longest.txt
grep -q '^graph: ' longest.txt

# usage errors: exit 2 with a message
rc=0
"$HX" critical-path --trace xyz tr 2>err.txt || rc=$?
[[ $rc -eq 2 ]] && grep -q 'needs a trace ID' err.txt
rc=0
"$HX" critical-path --trace 0000000000000000deadbeef tr 2>err.txt || rc=$?
[[ $rc -eq 2 ]] && grep -q 'matches 0 traces' err.txt
rc=0
"$HX" critical-path 2>err.txt || rc=$?
[[ $rc -eq 2 ]] && grep -q 'usage: hx critical-path' err.txt
rc=0
"$HX" critical-path does-not-exist 2>err.txt || rc=$?
[[ $rc -eq 2 ]]
echo "ok"
