"""User-defined analysis (haruspex.analysis): Trace objects from files and from a real `hx serve`
(search, fetch, bearer token), follow() over GET /api/complete, the builder on hand-made answers
(unended blocks, ends without begins, dangling and foreign causes), and the command line
`python3 -m haruspex.analysis SCRIPT SOURCE [--follow]`."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import hxsupport
import haruspex as hx
from haruspex import analysis

TOKEN = "analysis-test-token"


def record(d, service="shop"):
    """Two traces and an event outside any: trace "order" (nested blocks, a point, a counter, an
    error, a message to a worker thread that joins it) and trace "refund" (one block).
    Returns "ORDER-TRACE-ID PID"."""
    hx.init(dir=d, service=service)
    hx.thread_name("main")
    sent = {}

    def worker():
        hx.thread_name("worker")
        ready.wait(30)
        with hx.trace("work", context=sent["ctx"]):
            with hx.block("work", item=7):
                hx.point("done")

    ready = threading.Event()
    th = threading.Thread(target=worker)
    th.start()
    hx.point("outside")
    with hx.trace("order"):
        with hx.block("handle", user="ada"):
            with hx.block("db.query"):
                hx.point("rows", n=3)
            with hx.block("db.commit"):
                hx.counter("pending", 2)
                hx.error("disk full")
            sent["ctx"] = hx.send("job")
            ready.set()
            th.join()
    with hx.trace("refund"):
        with hx.block("refund"):
            pass
    hx.shutdown()
    return f"{sent['ctx'].trace_id} {os.getpid()}"


def in_child(fn_name, *args):
    """Run fn_name(*args) of this module in a fresh Python process and return what it printed.
    Tracing is started and stopped there, never in the process that runs the tests: a block
    another test begins while tracing is shut down would see its end counted as misuse once
    tracing is on again."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import test_analysis as t; "
            "print(getattr(t, sys.argv[2])(*sys.argv[3:]))")
    r = subprocess.run([sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__)),
                        fn_name, *args], env=dict(os.environ), capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"{fn_name}{args} failed: {r.stderr}")
    return r.stdout.strip()


def record_late(d):
    """One more trace, of another service."""
    hx.init(dir=d, service="late")
    with hx.trace("late"):
        with hx.block("late"):
            pass
    hx.shutdown()


class Checks:
    """The expectations both sources share: the same two traces, built the same way."""

    def check_order(self, t, recorded):
        order_id, pid = recorded.split()
        self.assertEqual(t.trace_id, order_id)
        self.assertEqual(t.name, "order")
        self.assertEqual([b.name for b in t.blocks()], ["handle", "db.query", "db.commit", "work"])
        handle, query, commit, work = t.blocks()
        self.assertEqual([b.name for b in t.roots], ["handle", "work"])
        self.assertEqual([c.name for c in handle.children], ["db.query", "db.commit"])
        self.assertIs(query.parent, handle)
        self.assertIsNone(handle.parent)
        self.assertEqual((handle.depth, query.depth, work.depth), (0, 1, 0))
        self.assertEqual(handle.attrs, {"user": "ada"})
        self.assertEqual(work.attrs, {"item": 7})
        for b in t.blocks():
            self.assertIsNotNone(b.end)
            self.assertGreaterEqual(b.duration, 0)
            self.assertEqual(b.duration, b.end.time_ns - b.begin.time_ns)
            self.assertEqual(b.duration_ms, b.duration / 1e6)
        self.assertEqual(handle.self_duration,
                         handle.duration - query.duration - commit.duration)
        self.assertGreaterEqual(handle.duration, query.duration + commit.duration)
        self.assertEqual(t.duration, t.end_ns - t.start_ns)
        self.assertGreaterEqual(t.duration, handle.duration)
        # entities: names from thread_name(), the process behind each
        self.assertIs(query.entity, handle.entity)
        self.assertIsNot(work.entity, handle.entity)
        self.assertEqual(len(t.entities), 2)
        self.assertEqual(handle.entity.service, "shop")
        self.assertEqual(handle.entity.pid, int(pid))
        self.assertEqual(t.services, ["shop"])
        self.assertEqual(t.hosts, [os.uname().nodename])
        self.assertEqual([b.name for b in handle.entity.blocks], ["handle"])
        # filters
        self.assertEqual([b.name for b in t.blocks(name="db.*")], ["db.query", "db.commit"])
        self.assertEqual(t.blocks(name="db"), [])
        self.assertEqual(t.blocks(entity=work.entity), [work])
        self.assertEqual(t.blocks(service="shop"), t.blocks())
        self.assertEqual(t.blocks(service="other"), [])
        # events: where they are
        rows, = t.select(kind="point", name="rows")
        self.assertEqual(rows.attrs, {"n": 3})
        self.assertIs(rows.block, query)
        self.assertEqual(query.events, [rows])
        err, = t.errors
        self.assertEqual(err.name, "disk full")
        self.assertIs(err.block, commit)
        self.assertEqual(commit.errors, [err])
        self.assertEqual(len(handle.errors), 1)
        pending, = t.select(kind="counter")
        self.assertEqual((pending.name, pending.value), ("pending", 2))
        self.assertIs(handle.begin.block, handle)
        self.assertIs(handle.end.block, handle)
        # (a block_end has no name of its own)
        self.assertEqual([e.name for e in t.select(name="db.*")], ["db.query", "db.commit"])
        self.assertEqual([e.name for e in t.select(kind="point")], ["rows", "done"])
        # causes resolved: the worker's join names the message
        join, = t.select(kind="trace_join")
        send, = join.causes
        self.assertEqual((send.kind, send.name, send.interaction), ("cause", "job", "message"))
        self.assertIs(send.entity, handle.entity)
        self.assertIs(send.block, handle)
        self.assertEqual(send.effects, [join])
        self.assertEqual(join.cause_refs[0][1:3], send.id)
        self.assertTrue(join.cause_refs[0].sampled)
        self.assertIs(join.entity, work.entity)
        self.assertEqual((t.dangling, t.external, t.unmatched), ([], [], 0))
        # every event is its entity's, in order
        for en in t.entities.values():
            self.assertEqual([e.seq for e in en.events], sorted(e.seq for e in en.events))
            self.assertTrue(all(e.entity is en for e in en.events))
        self.assertEqual(sorted(e.time_ns for e in t.events), [e.time_ns for e in t.events])
        self.assertEqual(len(t), len(t.events))

    def check_refund(self, t):
        self.assertEqual(t.name, "refund")
        self.assertEqual([b.name for b in t.blocks()], ["refund"])
        self.assertEqual(t.blocks()[0].children, [])
        self.assertEqual(t.blocks()[0].events, [])
        self.assertEqual(t.select(kind="point"), [])


class TestFiles(hxsupport.TracingTest, Checks):
    def test_file_source(self):
        recorded = in_child("record", self.dir)
        ts = list(analysis.traces(self.dir))
        self.assertEqual([t.name for t in ts], ["order", "refund"])   # oldest first
        self.check_order(ts[0], recorded)
        self.check_refund(ts[1])
        # entity names are found outside the trace too (threads begin before they trace)
        handle = ts[0].blocks(name="handle")[0]
        work = ts[0].blocks(name="work")[0]
        self.assertEqual((handle.entity.name, work.entity.name), ("main", "worker"))
        self.assertEqual(handle.entity.kind, "thread")
        self.assertEqual(ts[0].blocks(entity="worker"), [work])
        # a file, a list of paths
        files = [os.path.join(self.dir, f) for f in os.listdir(self.dir) if f.endswith(".hx")]
        self.assertEqual([t.trace_id for t in analysis.traces(files[0])],
                         [t.trace_id for t in ts])
        self.assertEqual(len(list(analysis.traces(files))), 2)

    def test_file_errors(self):
        with self.assertRaises(FileNotFoundError):
            analysis.traces(os.path.join(self.dir, "missing"))
        with open(os.path.join(self.dir, "x.hx"), "wb") as f:
            f.write(b"not a trace")
        with self.assertRaises(hx.HaruspexError):
            analysis.traces(os.path.join(self.dir, "x.hx"))
        with self.assertRaises(ValueError):
            list(analysis.traces("ftp://example/x"))
        with self.assertRaises(ValueError):
            list(analysis.traces("http://127.0.0.1:1/elsewhere"))
        with self.assertRaises(ValueError):
            list(analysis.traces("http://127.0.0.1:1/api/traces/123"))


class TestBuilder(unittest.TestCase):
    """The builder on answers made by hand: what the files of a live system can hold."""

    def answer(self, events):
        return {"trace_id": "a" * 32, "events": events,
                "processes": [{"instance": "b" * 32, "pid": 42, "host": "h1", "service": "svc",
                               "program": "prog"}]}

    def ev(self, kind, entity, seq, t, name="", **kw):
        o = {"time_ns": t, "kind": kind, "entity": f"{entity:016x}", "seq": seq,
             "trace": "a" * 32, "name": name, "attrs": {}, "process": 0}
        o.update(kw)
        return o

    def build(self, events):
        ans = self.answer(events)
        procs = [analysis.Process(**p) for p in ans["processes"]]
        raws = [analysis._raw_from_json("test", o, procs) for o in ans["events"]]
        t = analysis._build(ans["trace_id"], raws, {})
        analysis._link([t])
        return t

    def test_unended_unmatched_dangling_foreign(self):
        cause_here = {"trace": "a" * 32, "entity": f"{1:016x}", "seq": 1, "sampled": True}
        lost = {"trace": "a" * 32, "entity": f"{9:016x}", "seq": 4, "sampled": True}
        unsampled = {"trace": "c" * 32, "entity": f"{8:016x}", "seq": 1, "sampled": False}
        foreign = {"trace": "a" * 32, "entity": f"{7:016x}", "seq": 0, "sampled": True,
                   "foreign": True}
        t = self.build([
            self.ev("block_end", 2, 0, 50),                       # began before the trace
            self.ev("block_begin", 1, 0, 100, "outer"),
            self.ev("cause", 1, 1, 110, "send", interaction="message"),
            self.ev("block_begin", 1, 2, 120, "inner", attrs={"k": 1}),
            self.ev("block_end", 1, 3, 170, attrs={"r": "ok"}),
            self.ev("effect", 2, 1, 130, "recv", interaction="message",
                    causes=[cause_here, lost, unsampled, foreign], resumes=True),
            self.ev("counter", 2, 2, 140, "load", value=0.5, unit="%"),
        ])
        self.assertEqual(t.unmatched, 1)
        outer, inner = t.blocks()
        self.assertIsNone(outer.end)
        self.assertIsNone(outer.duration)
        self.assertIsNone(outer.end_ns)
        self.assertIsNone(outer.duration_ms)
        self.assertIsNone(outer.self_duration)
        self.assertEqual(inner.duration, 50)
        self.assertEqual(inner.self_duration, 50)
        self.assertEqual(inner.attrs, {"k": 1, "r": "ok"})
        self.assertEqual([e.name for e in outer.events], ["send", "inner", ""])
        recv, = t.select(kind="effect")
        send, = t.select(name="send")
        self.assertEqual(recv.causes, [send])
        self.assertEqual(send.effects, [recv])
        self.assertTrue(recv.resumes)
        self.assertEqual(len(recv.cause_refs), 4)
        self.assertEqual([(e.name, c.entity_id) for e, c in t.dangling], [("recv", 9)])
        self.assertEqual([(e.name, c.entity_id) for e, c in t.external], [("recv", 7)])
        self.assertEqual([e.kind for e in t.events],
                         ["block_end", "block_begin", "cause", "block_begin", "effect", "counter",
                          "block_end"])
        load, = t.select(kind="counter")
        self.assertEqual((load.value, load.unit), (0.5, "%"))
        self.assertEqual(t.duration, 120)
        self.assertEqual(t.entities[1].process.service, "svc")
        self.assertEqual(t.entities[1].label, f"{1:016x}")
        self.assertEqual(t.name, "")

    def test_malformed_answers(self):
        for bad in ({"kind": "point"}, {"time_ns": 1, "kind": "point", "entity": "zz", "seq": 0},
                    {"time_ns": "x", "kind": "point", "entity": "01", "seq": 0}):
            with self.assertRaises(analysis.ServiceError):
                analysis._raw_from_json("test", bad, [])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hx_binary():
    p = os.environ.get("HX") or os.path.join(os.environ.get("HX_BUILD_DIR", ""), "src", "cli",
                                             "hx")
    return p if os.path.isfile(p) and os.access(p, os.X_OK) else None


class Service:
    """A real `hx serve` on free ports, with a token; stopped by close()."""

    def __init__(self, hx_path, data):
        self.hx = hx_path
        self.log = open(data + ".log", "wb")      # hx serve's stderr, for a failing test
        for attempt in range(5):
            self.native, self.http = free_port(), free_port()
            self.proc = subprocess.Popen(
                [hx_path, "serve", "--data", data, "--listen", f"127.0.0.1:{self.native}",
                 "--http", f"127.0.0.1:{self.http}", "--token", TOKEN, "--complete-idle", "1s"],
                env=hxsupport.peer_env(), stdout=subprocess.DEVNULL, stderr=self.log)
            self.url = f"http://127.0.0.1:{self.http}"
            if self.wait_ready():
                return
            self.close()
        raise AssertionError(f"hx serve did not start (see {data}.log)")

    def wait_ready(self):
        deadline = time.monotonic() + 60
        req = urllib.request.Request(self.url + "/health",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False                          # a port taken meanwhile: try others
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    if r.status == 200:
                        return True
            except OSError:
                time.sleep(0.1)
        return False

    def ship(self, d):
        r = subprocess.run([self.hx, "ship", d, "--to", f"tcp://127.0.0.1:{self.native}",
                            "--token", TOKEN, "--once", "--quiet"],
                           env=hxsupport.peer_env(), capture_output=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"hx ship failed: {r.stderr.decode()}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class TestService(hxsupport.TracingTest, Checks):
    @classmethod
    def setUpClass(cls):
        cls.hx = hx_binary()
        if cls.hx is None:
            raise unittest.SkipTest("no hx binary (set HX, or HX_BUILD_DIR to a build that has "
                                    "src/cli/hx): the service source is not tested")
        cls.tmp = tempfile.mkdtemp(prefix="hx-py-svc-")
        cls.files = os.path.join(cls.tmp, "files")
        cls.recorded = in_child("record", cls.files)
        cls.order_id = cls.recorded.split()[0]
        cls.svc = Service(cls.hx, os.path.join(cls.tmp, "data"))
        cls.svc.ship(cls.files)
        cls.saved_env = {k: os.environ.get(k) for k in ("HX_TOKEN", "no_proxy", "NO_PROXY")}
        os.environ["HX_TOKEN"] = TOKEN
        os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"

    @classmethod
    def tearDownClass(cls):
        cls.svc.close()
        cls.svc.log.close()
        for k, v in cls.saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def wait_traces(self, url, n):
        deadline = time.monotonic() + 60
        while True:
            ts = list(analysis.traces(url))
            if len(ts) >= n or time.monotonic() > deadline:
                return ts
            time.sleep(0.2)

    def test_service_source(self):
        ts = self.wait_traces(self.svc.url + "/api/traces?service=shop", 2)
        self.assertEqual([t.name for t in ts], ["order", "refund"])
        self.check_order(ts[0], self.recorded)
        self.check_refund(ts[1])
        # the same blocks as the files give (times converted by the service's clock map and the
        # reader's may round differently: within a microsecond)
        from_files = list(analysis.traces(self.files))
        for a, b in zip(ts, from_files):
            self.assertEqual([(x.name, x.depth) for x in a.blocks()],
                             [(x.name, x.depth) for x in b.blocks()])
            for x, y in zip(a.blocks(), b.blocks()):
                self.assertLessEqual(abs(x.duration - y.duration), 1000)
            self.assertEqual(len(a.events), len(b.events))
        # a search, one trace by its URL
        found = list(analysis.traces(self.svc.url + "/api/traces?name=db.query"))
        self.assertEqual([t.trace_id for t in found], [self.order_id])
        one, = analysis.traces(f"{self.svc.url}/api/traces/{self.order_id.upper()}")
        self.check_order(one, self.recorded)
        self.assertEqual(list(analysis.traces(self.svc.url + "/api/traces?service=none")), [])

    def test_service_errors(self):
        with self.assertRaises(analysis.ServiceError) as cm:
            list(analysis.traces(self.svc.url, token="wrong"))
        self.assertEqual(cm.exception.status, 401)
        with self.assertRaises(analysis.ServiceError) as cm:
            list(analysis.traces(f"{self.svc.url}/api/traces/{'0' * 32}"))
        self.assertEqual(cm.exception.status, 404)
        with self.assertRaises(analysis.ServiceError) as cm:
            list(analysis.traces(self.svc.url + "/api/traces?bogus=1"))
        self.assertEqual(cm.exception.status, 400)
        self.assertIn("bogus", cm.exception.message)
        with self.assertRaises(analysis.ServiceError) as cm:
            list(analysis.traces(f"http://127.0.0.1:{free_port()}"))
        self.assertIsNone(cm.exception.status)

    def follow_in_thread(self, **kw):
        got, errors = [], []

        def run():
            try:
                got.append(analysis.follow(self.svc.url, seen.append, poll=0.2, **kw))
            except Exception as e:          # noqa: BLE001 - reported by the test
                errors.append(e)
        seen = []
        th = threading.Thread(target=run, daemon=True)
        th.start()
        th.join(120)
        self.assertFalse(th.is_alive(), f"follow() did not return; traces seen: {seen}")
        self.assertEqual(errors, [])
        return seen, got[0]

    def test_follow(self):
        # each complete trace once, in the order the service found them (after --complete-idle)
        seen, cursor = self.follow_in_thread(limit=2)
        self.assertEqual(sorted(t.name for t in seen), ["order", "refund"])
        order = next(t for t in seen if t.name == "order")
        self.check_order(order, self.recorded)
        self.assertIsNotNone(cursor)
        # from the cursor: nothing more until a new trace completes
        d = os.path.join(self.dir, "more")
        in_child("record_late", d)
        self.svc.ship(d)
        seen2, _ = self.follow_in_thread(after=cursor, limit=1)
        self.assertEqual([t.name for t in seen2], ["late"])
        # fn returning False stops at once
        stopped = []
        cur = analysis.follow(self.svc.url, lambda t: (stopped.append(t), False)[1], poll=0.2)
        self.assertEqual(len(stopped), 1)
        self.assertIsNotNone(cur)
        with self.assertRaises(analysis.ServiceError) as cm:
            analysis.follow(self.svc.url, print, token="wrong")
        self.assertEqual(cm.exception.status, 401)

    def test_command_line_follow(self):
        script = os.path.join(self.dir, "count.py")
        with open(script, "w") as f:
            f.write("import sys\nnames = []\n"
                    "def analyze(trace):\n"
                    "    names.append(trace.name)\n"
                    "    print('trace', trace.name, len(trace.blocks()), flush=True)\n"
                    "def summary():\n"
                    "    print('summary', sys.argv[1:], sorted(names), flush=True)\n")
        env = dict(os.environ)
        p = subprocess.Popen([sys.executable, "-m", "haruspex.analysis", script, self.svc.url,
                              "--follow", "--poll", "0.2", "--", "x"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        deadline = time.monotonic() + 120
        try:
            while len(lines) < 2 and time.monotonic() < deadline:
                line = p.stdout.readline()
                if not line:
                    break
                lines.append(line)
        finally:
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(sorted(lines[:2]), ["trace order 4\n", "trace refund 1\n"])
        self.assertIn("summary ['x'] ['order', 'refund']\n", out)


class TestCommandLine(hxsupport.TracingTest):
    def run_cli(self, *args):
        return subprocess.run([sys.executable, "-m", "haruspex.analysis", *args],
                              env=dict(os.environ), capture_output=True, text=True, timeout=120)

    def write(self, name, text):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_files(self):
        d = os.path.join(self.dir, "traces")
        in_child("record", d)
        script = self.write("s.py", (
            "from haruspex.analysis import Trace\n"
            "seen = []\n"
            "def analyze(t):\n"
            "    assert isinstance(t, Trace)\n"
            "    for b in t.blocks():\n"
            "        print(t.name, '/'.join(x.name for x in [b.parent] if x), b.name, b.depth)\n"
            "    seen.append(t.name)\n"
            "def summary():\n"
            "    print('done', seen)\n"))
        r = self.run_cli(script, d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "order  handle 0\norder handle db.query 1\n"
                                   "order handle db.commit 1\norder  work 0\n"
                                   "refund  refund 0\ndone ['order', 'refund']\n")
        self.assertEqual(r.stderr, "")

    def test_errors(self):
        d = os.path.join(self.dir, "traces")
        in_child("record", d)
        no_analyze = self.write("none.py", "x = 1\n")
        r = self.run_cli(no_analyze, d)
        self.assertEqual(r.returncode, 2)
        self.assertIn("defines no analyze(trace)", r.stderr)
        raises = self.write("raises.py", "def analyze(t):\n    raise KeyError('boom')\n"
                                         "def summary():\n    print('not reached')\n")
        r = self.run_cli(raises, d)
        self.assertEqual(r.returncode, 1)
        self.assertIn("KeyError: 'boom'", r.stderr)
        self.assertIn("analyze() raised on trace", r.stderr)
        self.assertNotIn("not reached", r.stdout)
        ok = self.write("ok.py", "def analyze(t):\n    pass\n")
        r = self.run_cli(ok, os.path.join(self.dir, "missing"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("no such file or directory", r.stderr)
        r = self.run_cli(ok, d, "--follow")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--follow needs a service URL", r.stderr)
        r = self.run_cli(ok)
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage:", r.stderr)
        r = self.run_cli(ok, d, "--poll", "0")
        self.assertEqual(r.returncode, 2)
        r = self.run_cli(os.path.join(self.dir, "nope.py"), d)
        self.assertEqual(r.returncode, 2)
        r = self.run_cli(ok, f"http://127.0.0.1:{free_port()}")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unreachable", r.stderr)


if __name__ == "__main__":
    unittest.main()
