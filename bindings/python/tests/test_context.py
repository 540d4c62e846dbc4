"""Contexts: W3C traceparent/tracestate, the binary form, header dicts, baggage, and what a
malformed input gives (an invalid context, with which continue_trace() starts a new trace)."""

import unittest

import hxsupport
import haruspex as hx

TID = "0af7651916cd43dd8448eb211c80319c"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class TestContextValue(unittest.TestCase):
    def test_fields_and_immutability(self):
        c = hx.Context(TID, 0x1122334455667788, 300, hx.CTX_VALID | hx.CTX_SAMPLED)
        self.assertEqual(c.trace_id, TID)
        self.assertEqual(c.trace_id_bytes, bytes.fromhex(TID))
        self.assertEqual((c.entity_id, c.seq, c.event_id), (0x1122334455667788, 300,
                                                             (0x1122334455667788, 300)))
        self.assertTrue(c.valid and c.sampled and not c.foreign and bool(c))
        self.assertEqual(c, hx.Context(bytes.fromhex(TID), 0x1122334455667788, 300, 3))
        self.assertEqual(hash(c), hash(hx.Context(TID, 0x1122334455667788, 300, 3)))
        with self.assertRaises(AttributeError):
            c.seq = 1
        with self.assertRaises(ValueError):
            hx.Context("abcd")
        invalid = hx.Context()
        self.assertFalse(invalid.valid or invalid)
        self.assertIsNone(invalid.trace_id)
        self.assertIsNone(invalid.traceparent())
        self.assertIsNone(invalid.tracestate())
        self.assertEqual(invalid.to_bytes(), b"")
        self.assertEqual(hx.inject(invalid, {}), {})
        self.assertEqual(repr(invalid), "Context(invalid)")

    def test_traceparent_exact_and_round_trip(self):
        c = hx.Context(TID, 0x00f067aa0ba902b7, 5, hx.CTX_VALID | hx.CTX_SAMPLED)
        digest = hx.event_digest(c.entity_id, c.seq)
        self.assertNotEqual(digest, 0)
        self.assertEqual(c.traceparent(), f"00-{TID}-{digest:016x}-01")
        self.assertEqual(c.tracestate(), "hx=00f067aa0ba902b7-5")
        self.assertEqual(c.tracestate("congo=t61rcWkgMzE,hx=0000000000000001-2,rojo=00f067"),
                         "hx=00f067aa0ba902b7-5,congo=t61rcWkgMzE,rojo=00f067")
        # With its tracestate the full event ID comes back; without it the cause is foreign.
        self.assertEqual(hx.Context.from_traceparent(c.traceparent(), c.tracestate()), c)
        foreign = hx.Context.from_traceparent(c.traceparent())
        self.assertEqual(foreign, hx.Context(TID, digest, 0,
                                             hx.CTX_VALID | hx.CTX_SAMPLED | hx.CTX_FOREIGN))
        self.assertTrue(foreign.foreign)
        # A tracestate naming another event leaves it foreign.
        other = hx.Context.from_traceparent(c.traceparent(), "hx=00f067aa0ba902b7-6")
        self.assertEqual(other, foreign)
        # Unsampled.
        u = hx.Context(TID, 7, 9, hx.CTX_VALID)
        self.assertTrue(u.traceparent().endswith("-00"))
        self.assertEqual(hx.Context.from_traceparent(u.traceparent(), u.tracestate()), u)
        # bytes in, too.
        self.assertEqual(hx.Context.from_traceparent(c.traceparent().encode(),
                                                     c.tracestate().encode()), c)

    def test_traceparent_from_another_tracer(self):
        c = hx.Context.from_traceparent(f"00-{TID}-b7ad6b7169203331-01", "congo=t61rcWkgMzE")
        self.assertEqual((c.trace_id, c.entity_id, c.seq), (TID, 0xb7ad6b7169203331, 0))
        self.assertTrue(c.valid and c.sampled and c.foreign)
        # A later version is read by the version-00 layout.
        c2 = hx.Context.from_traceparent(f"cc-{TID}-b7ad6b7169203331-01-what-the-future-holds")
        self.assertEqual((c2.trace_id, c2.entity_id, c2.valid), (TID, 0xb7ad6b7169203331, True))

    def test_malformed_traceparent_is_invalid_and_counted(self):
        bad = [
            "", "garbage", None,
            f"ff-{TID}-b7ad6b7169203331-01",                        # version ff
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace-id
            f"00-{TID}-0000000000000000-01",                        # zero parent-id
            f"00-{TID.upper()}-b7ad6b7169203331-01",                # upper case
            f"00-{TID}-b7ad6b716920333-01",                         # short parent-id
            f"00-{TID[:-1]}x-b7ad6b7169203331-01",                   # not hex
            f"00-{TID}-b7ad6b7169203331-01-extra",                  # trailing data, version 00
            f"00_{TID}_b7ad6b7169203331_01",                         # wrong separators
        ]
        for tp in bad:
            with self.subTest(traceparent=tp):
                before = hx.stats()["bad_header"]
                c = hx.Context.from_traceparent(tp)
                self.assertFalse(c.valid)
                self.assertEqual(c, hx.Context())
                if tp is not None:
                    self.assertEqual(hx.stats()["bad_header"], before + 1)

    def test_binary_exact_and_round_trip(self):
        for flags, seq in ((hx.CTX_VALID | hx.CTX_SAMPLED, 0), (hx.CTX_VALID, 300),
                           (hx.CTX_VALID | hx.CTX_SAMPLED | hx.CTX_FOREIGN, 0),
                           (hx.CTX_VALID | hx.CTX_SAMPLED, (1 << 64) - 1)):
            with self.subTest(flags=flags, seq=seq):
                c = hx.Context(TID, 0x0102030405060708, seq, flags)
                b = c.to_bytes()
                wire_flags = (1 if flags & hx.CTX_SAMPLED else 0) | \
                             (2 if flags & hx.CTX_FOREIGN else 0)
                self.assertEqual(b, bytes([1, wire_flags]) + bytes.fromhex(TID) +
                                 (0x0102030405060708).to_bytes(8, "little") + varint(seq))
                self.assertLessEqual(len(b), 40)
                self.assertEqual(hx.Context.from_bytes(b), c)
                self.assertEqual(hx.Context.from_bytes(b + b"trailing"), c)

    def test_malformed_binary_is_invalid(self):
        good = hx.Context(TID, 5, 6, hx.CTX_VALID | hx.CTX_SAMPLED).to_bytes()
        for bad in (b"", b"\x02" + good[1:], good[:10], good[:-1] + b"\x80",
                    good[:2] + bytes(16) + good[18:], bytearray(good[:26])):
            with self.subTest(data=bytes(bad).hex()):
                self.assertEqual(hx.Context.from_bytes(bad), hx.Context())


class TestPropagation(hxsupport.TracingTest):
    def test_continue_trace_with_malformed_header_starts_new_trace(self):
        self.start()
        ctx = hx.Context.from_traceparent("00-not-a-traceparent-01")
        self.assertFalse(ctx.valid)
        got = hx.continue_trace(ctx, "server")
        hx.trace_end()
        joined = hx.continue_trace(hx.Context.from_traceparent(f"00-{TID}-b7ad6b7169203331-01"),
                                   "joined")
        hx.trace_end()
        self.stop()
        self.assertTrue(got.valid)
        self.assertNotEqual(got.trace_id, TID)
        self.assertEqual(joined.trace_id, TID)
        evs = [e for e in self.mine() if e.kind != "entity_begin"]
        self.assertEqual([(e.kind, e.name, e.trace_id) for e in evs], [
            ("trace_begin", "server", got.trace_id), ("trace_end", "", got.trace_id),
            ("trace_join", "joined", TID), ("trace_end", "", TID)])
        self.assertEqual(evs[0].causes, [])
        self.assertEqual(evs[2].causes, [hx.Cause(TID, 0xb7ad6b7169203331, 0)])
        self.assertTrue(evs[2].cause_contexts[0].foreign)

    def test_inject_extract_dict_and_baggage(self):
        self.start()
        with hx.trace("client") as root:
            self.assertTrue(hx.baggage_set("user", "ada"))
            self.assertTrue(hx.baggage_set("note", "a b,c;é"))
            self.assertTrue(hx.baggage_set("gone", "x"))
            self.assertTrue(hx.baggage_set("gone", None))
            with self.assertRaises(ValueError):
                hx.baggage_set("not a token", "v")
            self.assertEqual(hx.baggage_get("user"), "ada")
            self.assertEqual(hx.baggage_get("note"), "a b,c;é")
            self.assertIsNone(hx.baggage_get("gone"))
            self.assertEqual(hx.baggage_get("gone", "default"), "default")
            out = hx.request("call")
            headers = hx.inject(out, {"Traceparent": "stale", "accept": "*/*"},
                                prev_tracestate="vendor=1")
        self.assertEqual(headers, {
            "accept": "*/*",
            "traceparent": out.traceparent(),
            "tracestate": f"hx={out.entity_id:016x}-{out.seq:x},vendor=1",
            "baggage": "user=ada,note=a%20b%2Cc%3B%C3%A9",
        })
        self.assertEqual(hx.baggage_header(root), headers["baggage"])
        # Outside any trace there is no baggage.
        self.assertIsNone(hx.baggage_get("user"))
        self.assertFalse(hx.baggage_set("user", "bob"))

        received = {k.upper(): v for k, v in headers.items()}   # any letter case
        ctx = hx.extract(received)
        self.assertEqual(ctx, out)
        with hx.trace("server", context=ctx):
            self.assertEqual(hx.baggage_get("user"), "ada")
            hx.request_received("call in", ctx)
        # Repeated headers as lists, pairs instead of a dict.
        self.assertEqual(hx.extract([("traceparent", headers["traceparent"]),
                                     ("tracestate", [headers["tracestate"], "x=1"])]), out)
        self.assertEqual(hx.extract({}), hx.Context())
        self.assertEqual(hx.extract({"traceparent": "nonsense"}), hx.Context())
        self.stop()
        evs = [e for e in self.mine() if e.kind != "entity_begin"]
        self.assertEqual([(e.kind, e.name) for e in evs], [
            ("trace_begin", "client"), ("cause", "call"), ("trace_end", ""),
            ("trace_join", "server"), ("effect", "call in"), ("trace_end", "")])
        self.assertEqual(evs[4].causes, [hx.Cause(root.trace_id, out.entity_id, out.seq)])

    def test_baggage_parse_into_trace(self):
        self.start()
        with hx.trace("t") as ctx:
            self.assertTrue(hx.baggage_parse("k1=v1,k2=v%202"))
            self.assertEqual(hx.baggage_get("k2"), "v 2")
            self.assertFalse(hx.baggage_parse("=broken,k3=v3", ctx))
            self.assertEqual(hx.baggage_get("k3"), "v3")
            self.assertEqual(hx.baggage_header(), "k1=v1,k2=v%202,k3=v3")
        self.stop()

    def test_current_context(self):
        self.assertFalse(hx.Context.current().valid)    # tracing off
        self.start()
        hx.point("p")
        cur = hx.Context.current()
        self.stop()
        p = [e for e in self.mine() if e.kind == "point"][0]
        self.assertEqual(cur.event_id, p.event_id)
        self.assertIsNone(cur.trace_id)


if __name__ == "__main__":
    unittest.main()
