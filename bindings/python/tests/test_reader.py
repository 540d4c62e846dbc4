"""Reading traces: files, directories, several paths, stream and time order, damage, and the
grouping of events into traces with their links."""

import glob
import os
import shutil
import unittest
from unittest import mock

import hxsupport
import haruspex as hx
from haruspex import _lib


def key(e):
    return (e.entity_id, e.seq)


class TestRead(hxsupport.TracingTest):
    def record(self, d, tag):
        hx.init(dir=d, service=f"svc-{tag}")
        with hx.trace(f"trace {tag}"):
            for i in range(50):
                hx.point(f"p{i}", i=i, tag=tag, blob=bytes([i]) * i)
        hx.shutdown()

    def test_file_directory_and_orders(self):
        self.record(self.dir, "a")
        files = glob.glob(os.path.join(self.dir, "*.hx"))
        self.assertEqual(len(files), 1)
        from_dir = list(hx.read(self.dir))
        from_file = list(hx.read(files[0]))
        stream = list(hx.read(self.dir, order="stream"))
        self.assertEqual([key(e) for e in from_dir], [key(e) for e in from_file])
        self.assertEqual(sorted(key(e) for e in stream), sorted(key(e) for e in from_dir))
        points = [e for e in from_dir if e.kind == "point"]
        # Every event was copied out of the reader: the list holds 50 distinct values.
        self.assertEqual([e.name for e in points], [f"p{i}" for i in range(50)])
        self.assertEqual([e.attrs for e in points],
                         [{"i": i, "tag": "a", "blob": bytes([i]) * i} for i in range(50)])
        with self.assertRaises(ValueError):
            list(hx.read(self.dir, order="random"))

    def test_reader_object(self):
        self.record(self.dir, "a")
        with hx.Reader(self.dir) as r:
            n = sum(1 for _ in r)
            self.assertEqual(r.damage(), [])
            info = r.info()
            procs = r.processes
        self.assertEqual(n, 1 + 1 + 50 + 1)     # entity_begin, trace_begin, points, trace_end
        self.assertEqual((info["files"], info["events"], info["damaged"]), (1, n, False))
        self.assertEqual(len(procs), 1)
        p = procs[0]
        self.assertEqual((p.index, p.pid, p.service, p.clean, p.files),
                         (0, os.getpid(), "svc-a", True, 1))
        self.assertEqual(p.host, os.uname().nodename)
        self.assertRegex(p.instance, r"^[0-9a-f]{32}$")
        self.assertEqual(set(p.counters), {n for n, _ in hx.counter_names()})

    def test_several_paths(self):
        d1, d2 = os.path.join(self.dir, "one"), os.path.join(self.dir, "two")
        self.record(d1, "one")
        self.record(d2, "two")
        single = list(hx.read(d1)) + list(hx.read(d2))
        expected = sorted(key(e) for e in single)
        for use_paths in (True, False):
            with self.subTest(hx_reader_open_paths=use_paths):
                real_has = _lib.has
                with mock.patch.object(_lib, "has", lambda n: use_paths and real_has(n)):
                    both = list(hx.read([d1, d2]))
                    stream = list(hx.read([d1, d2], order="stream"))
                    with hx.Reader([d1, d2]) as r:
                        services = sorted(p.service for p in r.processes)
                self.assertEqual(sorted(key(e) for e in both), expected)
                self.assertEqual(sorted(key(e) for e in stream), expected)
                times = [e.time_ns for e in both]
                self.assertEqual(times, sorted(times))
                self.assertEqual(services, ["svc-one", "svc-two"])
                self.assertEqual({e.service for e in both}, {"svc-one", "svc-two"})
                self.assertEqual(len({e.process.index for e in both}), 2)

    def test_errors(self):
        with self.assertRaises(NotImplementedError) as cm:
            hx.read("http://localhost:7070/traces")
        self.assertIn("http://localhost:7070/traces", str(cm.exception))
        with self.assertRaises(NotImplementedError):
            list(hx.read_traces(["https://example.com"]))
        with self.assertRaises(FileNotFoundError):
            list(hx.read(os.path.join(self.dir, "missing")))
        junk = os.path.join(self.dir, "junk.hx")
        with open(junk, "wb") as f:
            f.write(b"this is not a trace file" * 100)
        with self.assertRaises(hx.HaruspexError) as cm:
            list(hx.read(junk))
        self.assertEqual(cm.exception.code, _lib.HX_EFORMAT)
        with self.assertRaises(ValueError):
            hx.Reader([])

    def test_damaged_file(self):
        self.record(self.dir, "a")
        path = glob.glob(os.path.join(self.dir, "*.hx"))[0]
        intact = list(hx.read(path))
        copy = os.path.join(self.dir, "copy")
        os.mkdir(copy)
        bad = os.path.join(copy, "bad.hx")
        shutil.copy(path, bad)
        with open(bad, "r+b") as f:
            data = f.read()
            at = data.index(b"p25")      # inside the chunk holding the events
            f.seek(at)
            f.write(b"X")
        with hx.Reader(bad) as r:
            got = list(r)
            damage = r.damage()
            info = r.info()
        self.assertTrue(info["damaged"])
        self.assertGreaterEqual(len(damage), 1)
        self.assertEqual(damage[0].kind, "checksum")
        self.assertEqual(damage[0].file, bad)
        self.assertLess(len(got), len(intact))
        self.assertEqual({key(e) for e in got} - {key(e) for e in intact}, set())


class TestTraces(hxsupport.TracingTest):
    def test_grouping_links_dangling_external(self):
        self.start()
        hx.point("outside")
        with hx.trace("first") as first:
            m = hx.send("msg")
            with hx.block("b"):
                hx.error("oops")
        with hx.trace("second") as second:
            hx.receive("msg in", m)           # a cause in the first trace
            lost = hx.Context(second.trace_id, 0x1234, 99, hx.CTX_VALID | hx.CTX_SAMPLED)
            hx.caused_by("from nowhere", lost)
            ext = hx.Context.from_traceparent(f"00-{second.trace_id}-b7ad6b7169203331-01")
            hx.caused_by("from another tracer", ext)
        self.stop()
        traces = hx.read_traces(self.dir)
        self.assertEqual([t.trace_id for t in traces], [first.trace_id, second.trace_id])
        t1, t2 = traces
        self.assertEqual((t1.name, t2.name), ("first", "second"))
        self.assertEqual([(e.kind, e.name) for e in t1.events], [
            ("trace_begin", "first"), ("cause", "msg"), ("block_begin", "b"), ("error", "oops"),
            ("block_end", ""), ("trace_end", "")])
        self.assertEqual([e.name for e in t1.errors], ["oops"])
        self.assertEqual(t1.links, [])
        self.assertEqual(len(t1), 6)
        self.assertEqual(t1.start_ns, t1.events[0].time_ns)
        self.assertEqual(t1.duration_ns, t1.events[-1].time_ns - t1.events[0].time_ns)
        me = list(t1.entities)
        self.assertEqual(len(me), 1)
        self.assertEqual(t1.entities[me[0]]["kind"], "thread")
        self.assertEqual(t1.entities[me[0]]["name"], hxsupport.comm())
        self.assertEqual([p.pid for p in t1.processes], [os.getpid()])

        self.assertEqual(len(t2.links), 1)
        link = t2.links[0]
        self.assertEqual((link.cause.name, link.effect.name, link.interaction),
                         ("msg", "msg in", "message"))
        self.assertEqual(link.cause.trace_id, first.trace_id)
        self.assertEqual([(e.name, c) for e, c in t2.dangling],
                         [("from nowhere", hx.Cause(second.trace_id, 0x1234, 99))])
        self.assertEqual([(e.name, c) for e, c in t2.external],
                         [("from another tracer",
                           hx.Cause(second.trace_id, 0xb7ad6b7169203331, 0))])
        # Events outside any trace belong to none.
        everything = [e for t in traces for e in t.events]
        self.assertNotIn("outside", [e.name for e in everything])


if __name__ == "__main__":
    unittest.main()
