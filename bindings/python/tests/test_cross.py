"""A Python process and a C process (tests/integration/py_peer.c) exchange a context over a pipe,
and their events form one trace.

Python begins a trace and sends a request: the request's context goes down the C peer's stdin,
in the binary form or as traceparent + tracestate. The peer continues the trace (TRACE_JOIN),
records the request's arrival, does some work, and sends its reply's context back up its stdout
in the other form. Python records the reply's arrival. Reading the directory both processes
wrote gives one trace holding both processes' events, and every effect names a cause event that
is in the files."""

import os
import subprocess
import unittest

import hxsupport
import haruspex as hx


class TestCrossLanguage(hxsupport.TracingTest):
    def exchange(self, form):
        self.start(service="py-client")
        peer = subprocess.Popen([hxsupport.peer_path(), "serve", self.dir],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=hxsupport.peer_env(), text=True)
        try:
            with hx.trace("py request") as root:
                req = hx.request("call peer", form=form)
                if form == "bin":
                    line = "bin " + req.to_bytes().hex()
                else:
                    line = f"tp {req.traceparent()} {req.tracestate()}"
                out, err = peer.communicate(line + "\n", timeout=120)
                self.assertEqual(peer.returncode, 0, err)
                lines = out.splitlines()
                self.assertEqual(len(lines), 2, out)
                reply_form, _, payload = lines[0].partition(" ")
                self.assertEqual(reply_form, "tp" if form == "bin" else "bin")
                if reply_form == "tp":
                    tp, ts = payload.split(" ")
                    reply = hx.Context.from_traceparent(tp, ts)
                else:
                    reply = hx.Context.from_bytes(bytes.fromhex(payload))
                self.assertTrue(reply.valid and reply.sampled and not reply.foreign)
                self.assertEqual(reply.trace_id, root.trace_id)
                peer_entity = int(lines[1].split()[1], 16)
                self.assertEqual(reply.entity_id, peer_entity)
                hx.reply_received("peer replied", reply)
        finally:
            if peer.poll() is None:
                peer.kill()
                peer.wait()
        self.stop()
        return root, req, reply, peer.pid

    def check(self, form):
        root, req, reply, peer_pid = self.exchange(form)
        traces = hx.read_traces(self.dir)
        self.assertEqual(len(traces), 1)
        t = traces[0]
        self.assertEqual(t.trace_id, root.trace_id)
        self.assertEqual(sorted((p.pid, p.service) for p in t.processes),
                         sorted([(os.getpid(), "py-client"), (peer_pid, "py_peer")]))
        self.assertEqual(t.name, "py request")

        mine = [(e.kind, e.name) for e in t.events if e.pid == os.getpid()]
        theirs = [(e.kind, e.name) for e in t.events if e.pid == peer_pid]
        self.assertEqual(mine, [("trace_begin", "py request"), ("cause", "call peer"),
                                ("effect", "peer replied"), ("trace_end", "")])
        self.assertEqual(theirs, [("trace_join", "peer"), ("effect", "request arrived"),
                                  ("block_begin", "peer work"), ("point", "computed"),
                                  ("block_end", ""), ("cause", "reply"), ("trace_end", "")])
        by = {(e.kind, e.name): e for e in t.events}
        self.assertEqual(by["point", "computed"].attrs, {"answer": 42, "lang": "c"})
        self.assertEqual(by["cause", "call peer"].attrs, {"form": form})
        self.assertEqual(by["cause", "call peer"].event_id, req.event_id)
        self.assertEqual(by["cause", "reply"].event_id, reply.event_id)
        self.assertEqual(by["cause", "reply"].interaction, "reply")

        # Every effect of both processes names a cause that is in the files.
        links = sorted(((l.cause.pid, l.cause.name), (l.effect.pid, l.effect.name),
                        l.interaction) for l in t.links)
        self.assertEqual(links, sorted([
            ((os.getpid(), "call peer"), (peer_pid, "peer"), "causal"),
            ((os.getpid(), "call peer"), (peer_pid, "request arrived"), "request"),
            ((peer_pid, "reply"), (os.getpid(), "peer replied"), "reply"),
        ]))
        self.assertEqual(t.dangling, [])
        self.assertEqual(t.external, [])
        # The peer's events all belong to the peer's one entity, in sequence.
        peer_events = [e for e in hx.read(self.dir) if e.pid == peer_pid]
        self.assertEqual(len({e.entity_id for e in peer_events}), 1)
        self.assertEqual([e.seq for e in peer_events], list(range(len(peer_events))))

    def test_binary_there_traceparent_back(self):
        self.check("bin")

    def test_traceparent_there_binary_back(self):
        self.check("tp")


if __name__ == "__main__":
    unittest.main()
