"""Shared helpers for the binding's tests: the package on sys.path, a fresh trace directory per
test, tracing started and stopped around it, and the C peer (tests/integration/py_peer.c).

Run from the repository root:
    HX_BUILD_DIR=$PWD/build python3 -m unittest discover -s bindings/python/tests -v
"""

import os
import shutil
import sys
import tempfile
import unittest

_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(_here))

import haruspex as hx  # noqa: E402


def build_dir():
    d = os.environ.get("HX_BUILD_DIR")
    if not d:
        raise AssertionError("HX_BUILD_DIR must name the meson build directory (it holds "
                             "tests/py_peer, the C side of these tests)")
    return d


def peer_path():
    p = os.path.join(build_dir(), "tests", "py_peer")
    if not os.access(p, os.X_OK):
        raise AssertionError(f"{p} is missing: build the tree (ninja -C {build_dir()})")
    return p


def peer_env():
    """The environment for the C peer: python.sh preloads the sanitizer runtimes into Python
    and turns leak detection off for it; the peer is an ordinary (ASan-linked) program and gets
    the sanitizer settings the test run started with."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if "HX_PEER_ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] = env["HX_PEER_ASAN_OPTIONS"]
    for k in [k for k in env if k.startswith("HARUSPEX_")]:
        del env[k]
    return env


class TracingTest(unittest.TestCase):
    """Each test gets self.dir, a fresh directory; start() begins tracing into it and stop()
    ends tracing (also done after a failing test, so one failure does not spill over)."""

    def setUp(self):
        if hx.enabled():
            hx.shutdown()
        self.dir = tempfile.mkdtemp(prefix="hx-py-")

    def tearDown(self):
        if hx.enabled():
            hx.shutdown()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, **kw):
        kw.setdefault("dir", self.dir)
        kw.setdefault("service", "pytest")
        self.assertEqual(hx.init(**kw), 0)

    def stop(self):
        self.assertTrue(hx.shutdown())

    def events(self, **kw):
        return list(hx.read(self.dir, **kw))

    def mine(self, events=None):
        """The events of this process's tracing thread entity (the test's own thread)."""
        events = self.events() if events is None else events
        ids = {e.entity_id for e in events if e.kind == "entity_begin" and
               e.entity_kind == "thread" and e.tid == _gettid()}
        return [e for e in events if e.entity_id in ids]


def _gettid():
    return __import__("threading").get_native_id()


def comm():
    """The calling thread's name, as the library names a thread's entity by default."""
    with open("/proc/thread-self/comm") as f:
        return f.read().rstrip("\n")
