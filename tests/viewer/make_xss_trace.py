#!/usr/bin/env python3
"""make_xss_trace.py - record a trace whose every name is hostile, with the Python binding.

    make_xss_trace.py PAYLOADS.json OUT_DIR

The trace name, the service, the thread and entity names, every block and point name, attribute
keys and values, a counter and an error message are strings from PAYLOADS.json (markup, script,
URLs, bidi overrides, control characters). xss.test.mjs opens the trace in the viewer and checks
that each shows as the same characters and none runs. Needs HX_BUILD_DIR (the binding finds
libharuspex.so there) and bindings/python on the path (added here from this file's location).
"""
import json
import os
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "bindings", "python"))
import haruspex as hx  # noqa: E402


def main():
    payloads = json.load(open(sys.argv[1], encoding="utf-8"))
    out = sys.argv[2]
    if hx.init(dir=out, service=payloads[0]) != 0:
        sys.exit("make_xss_trace.py: cannot write traces to " + out)
    hx.thread_name(payloads[1])
    with hx.trace(payloads[2]):
        for i, p in enumerate(payloads):
            with hx.block(p, **{p: p, "index": i}):
                hx.point(p, **{"payload": p})
                time.sleep(0.002)   # wide enough to be drawn whole, with its label
        hx.counter(payloads[3], 5, payloads[4][:32])
        hx.error(payloads[5], **{payloads[6]: payloads[7]})
        # An interaction to another thread, named by payloads too: an arrow in the viewer.
        ctx = hx.send(payloads[8])

        def other():
            hx.thread_name(payloads[9])
            with hx.trace(payloads[10], context=ctx):
                hx.receive(payloads[11], ctx)
                with hx.block(payloads[12]):
                    pass

        t = threading.Thread(target=other)
        t.start()
        t.join()
    hx.shutdown()


if __name__ == "__main__":
    main()
