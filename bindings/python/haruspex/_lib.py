"""Loading libharuspex and declaring its C interface for ctypes.

The structs below mirror include/haruspex.h and include/haruspex/reader.h field by field; ctypes
lays them out with the C compiler's natural alignment, so the offsets match on every ABI ctypes
supports. tests/test_abi.py compares every size and offset with what a C program built against
the headers prints (tests/integration/py_peer.c, `py_peer layout`).

Functions are looked up one by one: a symbol the loaded library does not export (an older
library, or a part of the API still being written) makes only the Python functions that need it
raise `Unavailable`; importing the package never fails because of it.

Where the library comes from, first match wins:
  1. $HARUSPEX_LIB          the path of libharuspex.so itself;
  2. $HX_BUILD_DIR          a meson build directory: $HX_BUILD_DIR/src/lib/libharuspex.so;
  3. ctypes.util.find_library('haruspex')   an installed library (ldconfig, LD_LIBRARY_PATH).
"""

import ctypes
import ctypes.util
import os
from ctypes import (POINTER, Structure, Union, c_char_p, c_double, c_int, c_int64,
                    c_size_t, c_uint, c_uint8, c_uint32, c_uint64, c_void_p)

__all__ = ["lib", "lib_path", "fn", "has", "Unavailable", "HaruspexError"]


class Unavailable(NotImplementedError):
    """The loaded libharuspex does not export a function this call needs."""


def _locate():
    explicit = os.environ.get("HARUSPEX_LIB")
    if explicit:
        return explicit, "$HARUSPEX_LIB"
    build = os.environ.get("HX_BUILD_DIR")
    if build:
        return os.path.join(build, "src", "lib", "libharuspex.so"), "$HX_BUILD_DIR"
    found = ctypes.util.find_library("haruspex")
    if found:
        return found, "ctypes.util.find_library('haruspex')"
    return None, None


def _load():
    path, source = _locate()
    if path is None:
        raise ImportError(
            "haruspex: libharuspex not found. Set HARUSPEX_LIB to the path of libharuspex.so, "
            "or HX_BUILD_DIR to a meson build directory (holding src/lib/libharuspex.so), or "
            "install the library (make install) so that the dynamic loader finds it.")
    try:
        return ctypes.CDLL(path), path
    except OSError as e:
        raise ImportError(f"haruspex: cannot load libharuspex from {path} (found through "
                          f"{source}): {e}") from e


lib, lib_path = _load()

# ---- enums are C ints ---------------------------------------------------------------------------
c_enum = c_int

# ---- include/haruspex.h -------------------------------------------------------------------------
EVENT_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)  # hx_event_fn(const hx_event *, void *)


class hx_config(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("sink", c_enum),
        ("dir", c_char_p),
        ("service", c_char_p),
        ("max_file_bytes", c_uint64),
        ("max_files", c_uint32),
        ("fsync", c_enum),
        ("fsync_interval_ms", c_uint32),
        ("fsync_every", c_uint32),
        ("callback", EVENT_FN),
        ("callback_user", c_void_p),
        ("chunk_bytes", c_uint32),
        ("quiet", c_int),
        ("sampler", c_enum),
        ("sample_probability", c_double),
        ("sample_rate", c_double),
        ("disable", c_char_p),
        ("ship_to", c_char_p),
        ("ship_token", c_char_p),
    ]


class _attr_str(Structure):
    _fields_ = [("ptr", c_void_p), ("len", c_size_t)]


class _attr_value(Union):
    _fields_ = [("i", c_int64), ("d", c_double), ("b", c_int), ("s", _attr_str)]


class hx_attr(Structure):
    _fields_ = [("key", c_char_p), ("type", c_enum), ("v", _attr_value)]


class hx_context(Structure):
    _fields_ = [
        ("trace_id", c_uint8 * 16),
        ("entity_id", c_uint64),
        ("seq", c_uint64),
        ("flags", c_uint32),
        ("reserved", c_uint32),
    ]


class hx_event(Structure):
    _fields_ = [
        ("kind", c_enum),
        ("time_ns", c_uint64),
        ("entity_id", c_uint64),
        ("seq", c_uint64),
        ("trace_id", c_uint8 * 16),
        ("name", c_void_p),          # NUL-terminated, but name_len is the length
        ("name_len", c_size_t),
        ("attrs", POINTER(hx_attr)),
        ("nattrs", c_size_t),
        ("entity_kind", c_enum),
        ("tid", c_uint64),
        ("state", c_enum),
        ("target", c_enum),
        ("interaction", c_enum),
        ("causes", POINTER(hx_context)),
        ("ncauses", c_size_t),
        ("unit", c_char_p),
        ("counter_is_int", c_int),
        ("counter_int", c_int64),
        ("counter_double", c_double),
        ("parent_id", c_uint64),
        ("resumes", c_int),
        ("time_orig_ns", c_uint64),
    ]


# hx_stats is uint64_t count[HX_COUNT__MAX] followed by uint64_t events; HX_COUNT__MAX grows with
# the library, so the binding asks hx_counter_name() how many counters there are and reads the
# struct through a buffer with room to spare.
STATS_WORDS = 512

# ---- include/haruspex/reader.h ------------------------------------------------------------------
HX_FILE_COUNTERS_PUBLIC = 128


class hx_damage(Structure):
    _fields_ = [
        ("kind", c_enum),
        ("file", c_char_p),
        ("offset", c_uint64),
        ("bytes", c_uint64),
        ("stream", c_uint32),
        ("chunk_seq", c_uint64),
        ("reason", c_char_p),
    ]


class hx_process_info(Structure):
    _fields_ = [
        ("instance", c_uint8 * 16),
        ("pid", c_uint64),
        ("host", c_char_p),
        ("program", c_char_p),
        ("service", c_char_p),
        ("files", c_uint32),
        ("clean", c_int),
        ("counters", c_uint64 * HX_FILE_COUNTERS_PUBLIC),
        ("clock_kind", c_uint32),
        ("ticks_per_sec", c_uint64),
        ("syncs", c_uint32),
    ]


class hx_reader_info(Structure):
    _fields_ = [
        ("files", c_uint64),
        ("bytes", c_uint64),
        ("chunks", c_uint64),
        ("chunks_damaged", c_uint64),
        ("events", c_uint64),
        ("records", c_uint64),
        ("payload_bytes", c_uint64),
        ("event_bytes", c_uint64),
        ("damaged", c_int),
    ]


# ---- include/haruspex/propagation.h -------------------------------------------------------------
class hx_header_pair(Structure):
    _fields_ = [("name", c_char_p), ("value", c_char_p)]


HEADER_SET_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_char_p, c_char_p)

HX_TRACEPARENT_LEN = 55
HX_TRACESTATE_MAX = 512
HX_CONTEXT_BINARY_MAX = 40
HX_BAGGAGE_MAX_BYTES = 8192

# ---- prototypes ---------------------------------------------------------------------------------
_P = POINTER
_ctx_p = _P(hx_context)
_attr_p = _P(hx_attr)

_PROTOTYPES = {
    # versions, errors, life cycle
    "hx_version": (c_char_p, []),
    "hx_version_number": (c_uint, []),
    "hx_strerror": (c_char_p, [c_int]),
    "hx_config_init": (None, [_P(hx_config)]),
    "hx_init": (c_int, [_P(hx_config)]),
    "hx_shutdown": (c_int, []),
    "hx_enabled": (c_int, []),
    # contexts and traces
    "hx_context_current": (hx_context, []),
    "hx_trace_begin": (hx_context, [c_char_p]),
    "hx_trace_join": (None, [_ctx_p, c_char_p]),
    "hx_trace_end": (None, []),
    "hx_trace_continue": (hx_context, [_ctx_p, c_char_p]),
    "hx_trace_sampled": (c_int, []),
    "hx_name_enable": (c_int, [c_char_p, c_int]),
    # entities and states
    "hx_entity_begin": (c_void_p, [c_char_p, c_enum]),
    "hx_entity_enter": (None, [c_void_p]),
    "hx_entity_leave": (None, []),
    "hx_entity_end": (None, [c_void_p]),
    "hx_state_set": (None, [c_enum, c_char_p]),
    "hx_thread_name": (None, [c_char_p]),
    # events
    "hx_block_begin_attrs": (None, [c_char_p, _attr_p, c_size_t]),
    "hx_block_end_attrs": (None, [_attr_p, c_size_t]),
    "hx_point_attrs": (None, [c_char_p, _attr_p, c_size_t]),
    "hx_counter": (None, [c_char_p, c_double, c_char_p]),
    "hx_counter_int": (None, [c_char_p, c_int64, c_char_p]),
    "hx_error_attrs": (None, [c_char_p, _attr_p, c_size_t]),
    "hx_annotate": (None, [c_enum, _attr_p, c_size_t]),
    "hx_cause_attrs": (hx_context, [c_enum, c_char_p, _attr_p, c_size_t]),
    "hx_effect_attrs": (hx_context, [c_enum, c_char_p, _ctx_p, c_size_t, _attr_p, c_size_t]),
    # mutex
    "hx_mutex_create": (c_void_p, [c_char_p]),
    "hx_mutex_destroy": (None, [c_void_p]),
    "hx_mutex_lock": (None, [c_void_p]),
    "hx_mutex_trylock": (c_int, [c_void_p]),
    "hx_mutex_unlock": (None, [c_void_p]),
    # statistics and names
    "hx_stats_get": (None, [c_void_p]),
    "hx_counter_name": (c_char_p, [c_int]),
    "hx_counter_text": (c_char_p, [c_int]),
    "hx_event_kind_name": (c_char_p, [c_int]),
    "hx_interaction_name": (c_char_p, [c_int]),
    # reader
    "hx_reader_open": (c_int, [_P(c_void_p), c_char_p, c_enum]),
    "hx_reader_open_paths": (c_int, [_P(c_void_p), _P(c_char_p), c_size_t, c_enum]),
    "hx_reader_close": (None, [c_void_p]),
    "hx_reader_next": (c_int, [c_void_p, _P(hx_event)]),
    "hx_reader_event_process": (c_size_t, [c_void_p]),
    "hx_reader_damage": (_P(hx_damage), [c_void_p, _P(c_size_t)]),
    "hx_damage_kind_name": (c_char_p, [c_int]),
    "hx_reader_processes": (c_size_t, [c_void_p]),
    "hx_reader_process": (_P(hx_process_info), [c_void_p, c_size_t]),
    "hx_reader_info_get": (None, [c_void_p, _P(hx_reader_info)]),
    # propagation
    "hx_traceparent_format": (c_int, [_ctx_p, c_char_p, c_size_t]),
    "hx_traceparent_parse": (c_int, [c_char_p, c_size_t, _ctx_p]),
    "hx_tracestate_format": (c_int, [_ctx_p, c_char_p, c_char_p, c_size_t]),
    "hx_tracestate_apply": (c_int, [c_char_p, c_size_t, _ctx_p]),
    "hx_event_digest": (c_uint64, [c_uint64, c_uint64]),
    "hx_context_to_binary": (c_int, [_ctx_p, _P(c_uint8), c_size_t]),
    "hx_context_from_binary": (c_int, [_P(c_uint8), c_size_t, _ctx_p]),
    "hx_baggage_set": (c_int, [c_char_p, c_char_p]),
    "hx_baggage_get": (c_int, [c_char_p, c_char_p, c_size_t]),
    "hx_baggage_format": (c_int, [_P(c_uint8), c_char_p, c_size_t]),
    "hx_baggage_parse": (c_int, [_P(c_uint8), c_char_p, c_size_t]),
    "hx_inject": (c_int, [_ctx_p, c_char_p, HEADER_SET_FN, c_void_p]),
    "hx_extract_pairs": (c_int, [_P(hx_header_pair), c_size_t, _ctx_p]),
}

_functions = {}
for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    try:
        _f = getattr(lib, _name)
    except AttributeError:
        continue
    _f.restype = _restype
    _f.argtypes = _argtypes
    _functions[_name] = _f
del _name, _restype, _argtypes


def has(name):
    """True if the loaded library exports `name` (one of the prototypes above)."""
    return name in _functions


def fn(name):
    """The prototyped C function `name`; raises Unavailable if the library lacks it."""
    f = _functions.get(name)
    if f is None:
        if name not in _PROTOTYPES:
            raise KeyError(f"haruspex binding has no prototype for {name}")
        raise Unavailable(f"{name}() is not exported by the loaded libharuspex ({lib_path}): "
                          f"the library is older than this binding")
    return f


# hx__state: 0 never started, 1 on, 2 shut down (what the C inline short forms test).
state_flag = c_int.in_dll(lib, "hx__state")

# hx_result codes (HX_ERRNO_MAP: never renumbered).
HX_OK = 0
HX_EINVAL = -1
HX_ENOMEM = -2
HX_EIO = -3
HX_ESTATE = -4
HX_ESINK = -5
HX_ECONFIG = -6
HX_EFORMAT = -7
HX_EDAMAGED = -8
HX_ENOENT = -9
HX_EOF = -10
HX_ENOSPC = -11
HX_EACCES = -12




class HaruspexError(Exception):
    """A libharuspex call failed; `code` is the negative hx_result (HX_EINVAL ...)."""

    def __init__(self, code, what):
        self.code = code
        text = fn("hx_strerror")(code).decode()
        super().__init__(f"{what}: {text} ({code})")

