"""Blocks as context managers (also when an exception leaves them), traces as context managers,
and the @traced decorator on functions and coroutines."""

import asyncio
import unittest

import hxsupport
import haruspex as hx


class Boom(Exception):
    pass


def shape(events):
    """(kind, name) of each event after the thread's entity_begin."""
    return [(e.kind, e.name) for e in events if e.kind != "entity_begin"]


class TestBlocks(hxsupport.TracingTest):
    def test_nested_blocks(self):
        self.start()
        with hx.trace("t") as ctx:
            with hx.block("outer", level=1, name="shadowed key is fine") as b:
                self.assertIsInstance(b, hx.block)
                with hx.block("inner"):
                    hx.point("deep")
        self.stop()
        evs = self.mine()
        self.assertEqual(shape(evs), [("trace_begin", "t"), ("block_begin", "outer"),
                                      ("block_begin", "inner"), ("point", "deep"),
                                      ("block_end", ""), ("block_end", ""), ("trace_end", "")])
        self.assertEqual(evs[2].attrs, {"level": 1, "name": "shadowed key is fine"})
        self.assertEqual({e.trace_id for e in evs[1:]}, {ctx.trace_id})

    def test_exception_ends_blocks_and_records_one_error(self):
        self.start()
        with self.assertRaises(Boom) as cm:
            with hx.trace("failing"):
                with hx.block("outer"):
                    with hx.block("inner"):
                        raise Boom("disk on fire")
        self.assertEqual(str(cm.exception), "disk on fire")
        with self.assertRaises(KeyError):
            with hx.block("lookup"):
                {}["missing"]
        self.stop()
        evs = self.mine()
        self.assertEqual(shape(evs), [
            ("trace_begin", "failing"), ("block_begin", "outer"), ("block_begin", "inner"),
            ("error", "Boom: disk on fire"), ("block_end", ""), ("block_end", ""),
            ("trace_end", ""),
            ("block_begin", "lookup"), ("error", "KeyError: 'missing'"), ("block_end", "")])
        errors = [e for e in evs if e.kind == "error"]
        self.assertEqual(errors[0].attrs, {"exception.type": f"{__name__}.Boom"})
        self.assertEqual(errors[1].attrs, {"exception.type": "KeyError"})

    def test_block_started_while_off_records_no_end(self):
        before = hx.stats()["end_without_begin"]
        with hx.block("before init"):
            self.start()
            hx.point("inside")
        hx.point("after")
        self.stop()
        self.assertEqual(shape(self.mine()), [("point", "inside"), ("point", "after")])
        self.assertEqual(hx.stats()["end_without_begin"], before)

    def test_trace_with_context_continues(self):
        self.start()
        with hx.trace("client") as client:
            out = hx.request("call")
        with hx.trace("server", context=out) as server:
            hx.point("handling")
        with hx.trace("fresh", context=hx.Context()) as fresh:
            pass
        self.stop()
        evs = self.mine()
        self.assertEqual(shape(evs), [
            ("trace_begin", "client"), ("cause", "call"), ("trace_end", ""),
            ("trace_join", "server"), ("point", "handling"), ("trace_end", ""),
            ("trace_begin", "fresh"), ("trace_end", "")])
        join = evs[4]
        self.assertEqual(join.interaction, "causal")
        self.assertEqual(join.causes, [hx.Cause(client.trace_id, out.entity_id, out.seq)])
        self.assertEqual(server.trace_id, client.trace_id)
        self.assertEqual(server.event_id, join.event_id)
        self.assertNotEqual(fresh.trace_id, client.trace_id)
        self.assertEqual(evs[7].trace_id, fresh.trace_id)


class TestTraced(hxsupport.TracingTest):
    def test_decorator_forms(self):
        @hx.traced
        def plain(x, y=2):
            "doc kept"
            return x * y

        @hx.traced("named")
        def named():
            hx.point("in named")

        @hx.traced(name="with attrs", kind="io", retries=3)
        def with_attrs():
            raise Boom("no")

        class Service:
            @hx.traced
            def method(self):
                return "m"

        self.assertEqual(plain.__name__, "plain")
        self.assertEqual(plain.__doc__, "doc kept")
        self.start()
        self.assertEqual(plain(3), 6)
        self.assertEqual(plain(3, y=4), 12)
        named()
        with self.assertRaises(Boom):
            with_attrs()
        self.assertEqual(Service().method(), "m")
        self.stop()
        evs = self.mine()
        qual = "TestTraced.test_decorator_forms.<locals>"
        self.assertEqual(shape(evs), [
            ("block_begin", f"{qual}.plain"), ("block_end", ""),
            ("block_begin", f"{qual}.plain"), ("block_end", ""),
            ("block_begin", "named"), ("point", "in named"), ("block_end", ""),
            ("block_begin", "with attrs"), ("error", "Boom: no"), ("block_end", ""),
            ("block_begin", f"{qual}.Service.method"), ("block_end", "")])
        self.assertEqual(evs[8].attrs, {"kind": "io", "retries": 3})
        with self.assertRaises(TypeError):
            hx.traced(42)

    def test_coroutine(self):
        @hx.traced
        async def fetch(n):
            await asyncio.sleep(0)
            hx.point("fetched", n=n)
            return n + 1

        @hx.traced("failing fetch")
        async def failing():
            await asyncio.sleep(0)
            raise Boom("timeout")

        async def main():
            self.assertEqual(await fetch(1), 2)
            with self.assertRaises(Boom):
                await failing()

        self.assertTrue(asyncio.iscoroutinefunction(fetch))
        self.start()
        asyncio.run(main())
        self.stop()
        names = [(e.kind, e.name) for e in self.mine() if e.kind != "entity_begin"]
        self.assertEqual(names, [
            ("block_begin", "TestTraced.test_coroutine.<locals>.fetch"), ("point", "fetched"),
            ("block_end", ""), ("block_begin", "failing fetch"), ("error", "Boom: timeout"),
            ("block_end", "")])


if __name__ == "__main__":
    unittest.main()
