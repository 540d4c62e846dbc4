"""The ctypes mirror of the C structs has the C sizes and offsets: compared, field by field, with
what py_peer (compiled against the headers) prints."""

import ctypes
import subprocess
import unittest

import hxsupport
import haruspex as hx
from haruspex import _lib


def c_layout():
    out = subprocess.run([hxsupport.peer_path(), "layout"], check=True, capture_output=True,
                         text=True, env=hxsupport.peer_env(), timeout=60).stdout
    sizes, offsets, values = {}, {}, {}
    for line in out.splitlines():
        what, name, value = line.split()
        {"sizeof": sizes, "offsetof": offsets, "value": values}[what][name] = int(value)
    return sizes, offsets, values


def py_offset(cls, path):
    """Offset of a dotted field path ("v.s.len") inside ctypes struct cls."""
    off = 0
    for part in path.split("."):
        field = getattr(cls, part)
        off += field.offset
        cls = dict(cls._fields_)[part]
    return off


STRUCTS = {
    "hx_config": _lib.hx_config,
    "hx_attr": _lib.hx_attr,
    "hx_context": _lib.hx_context,
    "hx_event": _lib.hx_event,
    "hx_damage": _lib.hx_damage,
    "hx_process_info": _lib.hx_process_info,
    "hx_reader_info": _lib.hx_reader_info,
    "hx_header_pair": _lib.hx_header_pair,
}


class TestLayout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sizes, cls.offsets, cls.values = c_layout()

    def test_every_struct_size(self):
        for name, cls in STRUCTS.items():
            with self.subTest(struct=name):
                self.assertEqual(ctypes.sizeof(cls), self.sizes[name])

    def test_every_field_offset(self):
        checked = 0
        for key, offset in self.offsets.items():
            struct, _, path = key.partition(".")
            if struct == "hx_stats":
                continue
            with self.subTest(field=key):
                self.assertEqual(py_offset(STRUCTS[struct], path), offset)
            checked += 1
        # Every field of every mirrored struct was printed by the C side.
        expected = sum(len(cls._fields_) for cls in STRUCTS.values()) + 5  # + hx_attr.v.i, .d, .b, .s.ptr, .s.len
        self.assertEqual(checked, expected)

    def test_mirrors_have_no_extra_fields(self):
        for name, cls in STRUCTS.items():
            for field, _ in cls._fields_:
                with self.subTest(field=f"{name}.{field}"):
                    self.assertIn(f"{name}.{field}", self.offsets)

    def test_newest_event_fields(self):
        self.assertEqual(_lib.hx_event._fields_[-2][0], "resumes")
        self.assertEqual(_lib.hx_event._fields_[-1][0], "time_orig_ns")
        self.assertEqual(_lib.hx_event.time_orig_ns.offset,
                         self.offsets["hx_event.time_orig_ns"])

    def test_stats_read_through_counter_names(self):
        n = self.values["HX_COUNT__MAX"]
        self.assertEqual(len(hx.counter_names()), n)
        self.assertEqual(self.sizes["hx_stats"], 8 * (n + 1))
        self.assertEqual(self.offsets["hx_stats.events"], 8 * n)
        self.assertGreater(_lib.STATS_WORDS, n + 1)
        self.assertEqual(len(hx.stats()), n + 1)

    def test_constants(self):
        for name in ("HX_TRACEPARENT_LEN", "HX_TRACESTATE_MAX", "HX_CONTEXT_BINARY_MAX",
                     "HX_BAGGAGE_MAX_BYTES", "HX_FILE_COUNTERS_PUBLIC"):
            with self.subTest(name=name):
                self.assertEqual(getattr(_lib, name), self.values[name])

    def test_library_has_every_function(self):
        self.assertEqual(hx.missing_functions(), [])
        self.assertEqual(hx.version(), "0.1.0")
        self.assertEqual(hx.version_number(), 100)


if __name__ == "__main__":
    unittest.main()
