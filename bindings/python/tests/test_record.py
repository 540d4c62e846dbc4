"""Recording every kind of event from Python and reading it back, field by field."""

import threading
import time
import unittest

import hxsupport
import haruspex as hx

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


class TestEveryKind(hxsupport.TracingTest):
    def test_every_kind_and_attribute_type(self):
        self.start()
        hx.thread_name("main thread")
        root = hx.trace_begin("job")
        hx.annotate("trace", user="ada")
        with hx.block("work", rows=3) as b:
            hx.point("attrs", small=1, big=INT64_MAX, low=INT64_MIN, pi=3.25, yes=True, no=False,
                     text="héllo", empty="", raw=b"\x00\x01\xff", none=b"")
            hx.counter("queue", 7, "items")
            hx.counter("latency", 12.5, "ms")
            hx.counter("plain", -1)
            hx.error("bad thing", code=500)
            hx.annotate(hx.Target.ENTITY, role="worker")
            b.annotate(done=True)
            hx.state("waiting", "disk")
            hx.state(hx.State.RUNNING)
        m = hx.send("msg out", size=10)
        hx.receive("msg in", m)
        r = hx.request("req")
        hx.request_received("req in", r)
        rp = hx.reply("rep")
        hx.reply_received("rep in", rp)
        a = hx.async_start("op")
        hx.async_complete("op done", a)
        f = hx.fork("spawn")
        hx.forked("child", f)
        c1 = hx.child_done("c1 done")
        c2 = hx.child_done("c2 done")
        hx.join("joined", c1, c2, n=2)
        p = hx.publish("pub")
        hx.delivered("sub1", p)
        g = hx.cause(hx.Interaction.CAUSAL, "because")
        hx.caused_by("therefore", g)
        lk = hx.cause("lock", "release")
        hx.effect(7, "acquire", lk)
        hx.trace_end()
        self.stop()

        evs = self.mine()
        trace_id = root.trace_id
        self.assertRegex(trace_id, r"^[0-9a-f]{32}$")
        got = [(e.kind, e.name) for e in evs]
        self.assertEqual(got, [
            ("entity_begin", hxsupport.comm()), ("annotate", ""), ("trace_begin", "job"),
            ("annotate", ""), ("block_begin", "work"), ("point", "attrs"),
            ("counter", "queue"), ("counter", "latency"), ("counter", "plain"),
            ("error", "bad thing"), ("annotate", ""), ("annotate", ""), ("state", "disk"),
            ("state", ""), ("block_end", ""),
            ("cause", "msg out"), ("effect", "msg in"), ("cause", "req"), ("effect", "req in"),
            ("cause", "rep"), ("effect", "rep in"), ("cause", "op"), ("effect", "op done"),
            ("cause", "spawn"), ("effect", "child"), ("cause", "c1 done"),
            ("cause", "c2 done"), ("effect", "joined"), ("cause", "pub"), ("effect", "sub1"),
            ("cause", "because"), ("effect", "therefore"), ("cause", "release"),
            ("effect", "acquire"), ("trace_end", ""),
        ])
        # One entity, sequence numbers without gaps, time never going backwards.
        self.assertEqual([e.seq for e in evs], list(range(len(evs))))
        self.assertEqual(len({e.entity_id for e in evs}), 1)
        self.assertEqual([e.time_ns for e in evs], sorted(e.time_ns for e in evs))
        for e in evs:
            self.assertEqual(e.time_orig_ns, e.time_ns)
            self.assertEqual(e.trace_id, None if e.seq < 2 else trace_id)
            self.assertEqual(e.pid, __import__("os").getpid())
            self.assertEqual(e.service, "pytest")
        by = {(e.kind, e.name): e for e in evs}
        self.assertEqual(evs[0].entity_kind, "thread")
        self.assertEqual(evs[0].tid, threading.get_native_id())
        self.assertEqual(evs[0].parent_id, 0)
        self.assertEqual(evs[1].attrs, {"name": "main thread"})
        self.assertEqual(evs[1].target, "entity")
        self.assertEqual((evs[3].target, evs[3].attrs), ("trace", {"user": "ada"}))
        self.assertEqual(by["block_begin", "work"].attrs, {"rows": 3})

        attrs = by["point", "attrs"].attrs
        self.assertEqual(attrs, {"small": 1, "big": INT64_MAX, "low": INT64_MIN, "pi": 3.25,
                                 "yes": True, "no": False, "text": "héllo", "empty": "",
                                 "raw": b"\x00\x01\xff", "none": b""})
        # bool is recorded as BOOL, not INT; str as STRING, bytes as BYTES.
        self.assertIs(type(attrs["yes"]), bool)
        self.assertIs(type(attrs["small"]), int)
        self.assertIs(type(attrs["pi"]), float)
        self.assertIs(type(attrs["text"]), str)
        self.assertIs(type(attrs["raw"]), bytes)

        q, lat, plain = by["counter", "queue"], by["counter", "latency"], by["counter", "plain"]
        self.assertEqual((q.value, q.unit), (7, "items"))
        self.assertIs(type(q.value), int)
        self.assertEqual((lat.value, lat.unit), (12.5, "ms"))
        self.assertIs(type(lat.value), float)
        self.assertEqual((plain.value, plain.unit), (-1, ""))
        self.assertEqual(by["error", "bad thing"].attrs, {"code": 500})
        self.assertEqual((evs[10].target, evs[10].attrs), ("entity", {"role": "worker"}))
        self.assertEqual((evs[11].target, evs[11].attrs), ("block", {"done": True}))
        self.assertEqual(by["state", "disk"].state, "waiting")
        self.assertEqual(by["state", ""].state, "running")
        self.assertIsNone(by["point", "attrs"].state)

        pairs = [("msg out", "msg in", "message"), ("req", "req in", "request"),
                 ("rep", "rep in", "reply"), ("op", "op done", "async"),
                 ("spawn", "child", "fork"), ("pub", "sub1", "publish"),
                 ("because", "therefore", "causal"), ("release", "acquire", "lock")]
        for cname, ename, kind in pairs:
            with self.subTest(interaction=kind):
                c, e = by["cause", cname], by["effect", ename]
                self.assertEqual(c.interaction, kind)
                self.assertEqual(e.interaction, kind)
                self.assertEqual(e.causes, [hx.Cause(trace_id, c.entity_id, c.seq)])
                self.assertFalse(e.resumes)
        self.assertEqual(by["cause", "msg out"].attrs, {"size": 10})
        joined = by["effect", "joined"]
        self.assertEqual(joined.interaction, "join")
        self.assertEqual(joined.attrs, {"n": 2})
        self.assertEqual(joined.causes, [
            hx.Cause(trace_id, evs[0].entity_id, by["cause", "c1 done"].seq),
            hx.Cause(trace_id, evs[0].entity_id, by["cause", "c2 done"].seq)])
        # The contexts returned name the events recorded.
        self.assertEqual(m.event_id, by["cause", "msg out"].event_id)
        self.assertEqual(m.trace_id, trace_id)
        self.assertTrue(m.valid and m.sampled and not m.foreign)
        self.assertEqual(root.event_id, by["trace_begin", "job"].event_id)

    def test_effect_while_waiting_resumes(self):
        self.start()
        with hx.trace("wait"):
            c = hx.async_start("io submitted")
            hx.state("waiting", "io")
            hx.async_complete("io done", c)
        self.stop()
        evs = self.mine()
        done = [e for e in evs if e.name == "io done"][0]
        self.assertTrue(done.resumes)
        self.assertEqual(evs[evs.index(done) - 1].kind, "state")

    def test_attribute_types_rejected(self):
        self.start()
        with self.assertRaises(TypeError):
            hx.point("p", bad=None)
        with self.assertRaises(TypeError):
            hx.point("p", bad=[1])
        with self.assertRaises(OverflowError):
            hx.point("p", big=INT64_MAX + 1)
        with self.assertRaises(OverflowError):
            hx.counter("c", INT64_MIN - 1)
        with self.assertRaises(ValueError):
            hx.cause("nonsense", "x")
        with self.assertRaises(ValueError):
            hx.cause(10, "x")
        with self.assertRaises(ValueError):
            hx.state("sleeping")
        with self.assertRaises(TypeError):
            hx.effect("message", "x", "not a context")
        self.stop()
        self.assertEqual([e.kind for e in self.mine()], [])

    def test_stats_count_events_and_misuse(self):
        self.start()
        before = hx.stats()
        hx.point("one")
        hx.point("two")
        hx.trace_end()                    # no current trace: misuse, nothing recorded
        hx.effect("message", "orphan", hx.Context())   # invalid cause: skipped, counted
        after = hx.stats()
        self.stop()
        self.assertEqual(after["no_trace"] - before["no_trace"], 1)
        self.assertEqual(after["bad_context"] - before["bad_context"], 1)
        kinds = [e.kind for e in self.mine()]
        self.assertEqual(kinds[0], "entity_begin")
        self.assertEqual(after["events"] - before["events"], len(kinds))
        self.assertEqual(kinds[kinds.index("point"):], ["point", "point", "effect"])
        self.assertEqual(set(after), {n for n, _ in hx.counter_names()} | {"events"})
        self.assertEqual(list(after)[:3], ["dropped", "null_name", "name_too_long"])

    def test_after_shutdown_counted(self):
        self.start()
        self.stop()
        before = hx.stats()["after_shutdown"]
        hx.point("late")
        self.assertEqual(hx.stats()["after_shutdown"], before + 1)
        self.assertFalse(hx.shutdown())
        with hx.block("late block"):     # begun after shutdown: its end is counted too
            pass
        self.assertEqual(hx.stats()["after_shutdown"], before + 3)

    def test_init_errors(self):
        self.start()
        with self.assertRaises(hx.HaruspexError) as cm:
            hx.init(dir=self.dir)
        self.assertEqual(cm.exception.code, -4)   # HX_ESTATE: already on
        self.stop()
        with self.assertRaises(hx.HaruspexError) as cm:
            hx.init(dir=self.dir, chunk_bytes=1000, quiet=True)
        self.assertEqual(cm.exception.code, -6)   # HX_ECONFIG
        self.assertFalse(hx.enabled())
        with self.assertRaises(ValueError):
            hx.init(dir=self.dir, sink="carrier-pigeon")

    def test_callback_sink(self):
        seen = []
        self.start(sink="callback", callback=seen.append)
        with hx.trace("cb"):
            hx.point("hello", n=1, s="x")
        self.stop()
        self.assertEqual([(e.kind, e.name) for e in seen],
                         [("entity_begin", hxsupport.comm()), ("trace_begin", "cb"), ("point", "hello"),
                          ("trace_end", "")])
        self.assertEqual(seen[2].attrs, {"n": 1, "s": "x"})
        self.assertIsNone(seen[2].process)
        self.assertEqual(seen[2].trace_id, seen[1].trace_id)


class TestEntities(hxsupport.TracingTest):
    def test_entity_enter_leave_end(self):
        self.start()
        with hx.trace("tasks"):
            task = hx.Entity("conn 42", hx.EntityKind.TASK)
            with task:
                hx.point("inside", n=1)
            task.enter()
            hx.point("again")
            task.leave()
            hx.point("outside")
            task.end()
            self.assertTrue(task.ended)
            with self.assertRaises(ValueError):
                task.enter()
        self.stop()
        evs = self.events(order="stream")
        te = [e for e in evs if e.entity_id == [x for x in evs if x.name == "conn 42"][0].entity_id]
        self.assertEqual([(e.kind, e.name, e.state) for e in te], [
            ("entity_begin", "conn 42", None), ("state", "", "running"),
            ("point", "inside", None), ("state", "", "waiting"), ("state", "", "running"),
            ("point", "again", None), ("state", "", "waiting"), ("entity_end", "", None)])
        self.assertEqual(te[0].entity_kind, "task")
        me = self.mine(evs)
        self.assertEqual(te[0].parent_id, me[0].entity_id)
        # The task inherited the trace of the entity that created it.
        self.assertEqual({e.trace_id for e in te}, {me[1].trace_id})
        self.assertIn(("point", "outside"), [(e.kind, e.name) for e in me])
        self.assertNotIn(("point", "inside"), [(e.kind, e.name) for e in me])

    def test_mutex_handoff(self):
        self.start()
        m = hx.Mutex("table lock")
        holding = threading.Event()
        waiter_started = threading.Event()
        result = {}

        def waiter():
            hx.thread_name("waiter")
            waiter_started.set()
            holding.wait()
            with m:
                result["tid"] = threading.get_native_id()

        with hx.trace("locks"):
            t = threading.Thread(target=waiter)
            t.start()
            waiter_started.wait()
            m.lock()
            holding.set()
            # The waiter blocks in hx_mutex_lock (with the GIL released) after recording STATE
            # waiting; the live trace file shows when it got there.
            deadline = time.monotonic() + 60
            while not any(e.kind == "state" and e.name == "table lock"
                          for e in hx.read(self.dir, order="stream")):
                self.assertLess(time.monotonic(), deadline, "the waiter never waited")
                time.sleep(0.01)
            m.unlock()
            t.join()
        self.assertTrue(m.trylock())
        m.unlock()
        m.close()
        with self.assertRaises(ValueError):
            m.lock()
        self.stop()
        evs = self.events()
        waiter_id = [e for e in evs if e.kind == "entity_begin" and e.tid == result["tid"]][0].entity_id
        w = [e for e in evs if e.entity_id == waiter_id]
        self.assertEqual([(e.kind, e.name, e.state) for e in w[:4]], [
            ("entity_begin", w[0].name, None), ("annotate", "", None),
            ("state", "table lock", "waiting"), ("effect", "table lock", None)])
        # The thread's ENTITY_END is recorded when the OS thread exits, which may come after
        # Thread.join() returns and so after shutdown() (then it is counted, not recorded).
        self.assertIn([e.kind for e in w[4:]], ([], ["entity_end"]))
        self.assertEqual(w[1].attrs, {"name": "waiter"})
        acquire = w[3]
        self.assertEqual(acquire.interaction, "lock")
        self.assertTrue(acquire.resumes)
        release = [e for e in self.mine(evs) if e.kind == "cause"]
        self.assertEqual(len(release), 1)
        self.assertEqual(release[0].interaction, "lock")
        self.assertEqual(acquire.causes, [hx.Cause(release[0].trace_id, release[0].entity_id,
                                                   release[0].seq)])


class TestSampling(hxsupport.TracingTest):
    def test_sampled_out_trace_records_nothing(self):
        self.start(sampler="never")
        self.assertTrue(hx.sampled())           # in no trace: recorded
        with hx.trace("dropped") as ctx:
            self.assertFalse(hx.sampled())
            hx.point("invisible")
            out = hx.send("out")
        self.stop()
        self.assertTrue(ctx.valid)
        self.assertFalse(ctx.sampled)
        self.assertFalse(out.sampled)
        self.assertEqual(out.trace_id, ctx.trace_id)
        # Only the thread's entity_begin, which is outside any trace.
        self.assertEqual([(e.kind, e.trace_id) for e in self.mine()], [("entity_begin", None)])

    def test_sampler_forms(self):
        cases = [({"sampler": "probability:0"}, False),
                 ({"sampler": "probability:1"}, True),
                 ({"sampler": hx.Sampler.PROBABILITY, "sample_probability": 0.0}, False),
                 ({"sampler": "always"}, True),
                 ({"sampler": hx.Sampler.NEVER}, False),
                 ({"sampler": "rate:1000"}, True)]
        for kw, expected in cases:
            with self.subTest(**{k: str(v) for k, v in kw.items()}):
                self.start(**kw)
                with hx.trace("t") as ctx:
                    self.assertEqual(hx.sampled(), expected)
                self.stop()
                self.assertTrue(ctx.valid)
                self.assertEqual(ctx.sampled, expected)
        with self.assertRaises(ValueError):
            hx.init(dir=self.dir, sampler="always:3")
        with self.assertRaises(ValueError):
            hx.init(dir=self.dir, sampler="sometimes")
        self.assertFalse(hx.enabled())

    def test_disabled_names(self):
        self.start(disable=["noisy.*", "skip"])
        hx.point("noisy.tick")
        hx.point("skip")
        hx.point("kept")
        with hx.block("noisy.block"):
            hx.point("inner")
        hx.name_enable("skip", True)
        hx.point("skip")
        hx.name_enable("kept", False)
        hx.point("kept")
        self.stop()
        self.assertEqual([(e.kind, e.name) for e in self.mine()][1:],
                         [("point", "kept"), ("point", "inner"), ("point", "skip")])
        with self.assertRaises(ValueError):
            hx.name_enable("")


if __name__ == "__main__":
    unittest.main()
