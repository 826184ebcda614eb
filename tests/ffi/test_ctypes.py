#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""libsmr from Python ctypes: the FFI proof of docs/DESIGN.md "Conventions".

usage: test_ctypes.py PATH/TO/libsmr.so [SCRATCH_DIR]

Loads the shared library by path and uses only exported symbols: the
*_ffi twins of the inline read paths, the guard accessors and the guard
size/alignment functions.  No struct layout is declared here: every handle
is an opaque pointer and every guard an opaque byte buffer of the size the
library reports.  Exits 0 on success, 1 on the first failed check.
"""
import ctypes
import errno
import os
import sys
import tempfile

c_int, c_uint, c_bool = ctypes.c_int, ctypes.c_uint, ctypes.c_bool
c_size_t, c_uint64 = ctypes.c_size_t, ctypes.c_uint64
c_void_p, c_char_p = ctypes.c_void_p, ctypes.c_char_p
P = c_void_p  # every handle and guard: an opaque address

# name: (restype, argtypes)
SIGNATURES = {
    "smr_strerror": (c_char_p, [c_int]),
    "smr_fence_init": (c_int, [P]),
    # epoch domain
    "smr_domain_create": (c_int, [P, ctypes.POINTER(P)]),
    "smr_domain_destroy": (c_int, [P]),
    "smr_reader_register": (c_int, [P, ctypes.POINTER(P)]),
    "smr_reader_unregister": (c_int, [P]),
    "smr_enter_ffi": (None, [P]),
    "smr_leave_ffi": (None, [P]),
    "smr_in_section_ffi": (c_bool, [P]),
    "smr_synchronize": (c_int, [P]),
    # swap cell
    "smr_swap_create": (c_int, [P, P, P, ctypes.POINTER(P)]),
    "smr_swap_destroy": (c_int, [P]),
    "smr_swap_store": (c_int, [P, P]),
    "smr_swap_reader_create": (c_int, [P, ctypes.POINTER(P)]),
    "smr_swap_reader_destroy": (c_int, [P]),
    "smr_swap_reader_is_pinned": (c_bool, [P]),
    "smr_swap_read_ffi": (P, [P, P]),
    "smr_swap_guard_release_ffi": (None, [P]),
    "smr_swap_guard_version_ffi": (c_uint64, [P]),
    "smr_swap_guard_value": (P, [P]),
    "smr_swap_guard_sizeof": (c_size_t, []),
    "smr_swap_guard_alignof": (c_size_t, []),
    # channel
    "smr_channel_writer_open": (c_int, [c_char_p, P, ctypes.POINTER(P)]),
    "smr_channel_writer_close": (c_int, [P]),
    "smr_channel_publish": (c_int, [P, c_char_p, c_uint64, P]),
    "smr_channel_unlink": (c_int, [c_char_p]),
    "smr_channel_reader_open": (c_int, [c_char_p, c_uint, ctypes.POINTER(P)]),
    "smr_channel_reader_close": (c_int, [P]),
    "smr_channel_read_ffi": (c_int, [P, P]),
    "smr_channel_release_ffi": (None, [P, P]),
    "smr_channel_guard_data": (P, [P]),
    "smr_channel_guard_size": (c_uint64, [P]),
    "smr_channel_guard_version": (c_uint64, [P]),
    "smr_channel_guard_switched": (c_bool, [P]),
    "smr_channel_guard_sizeof": (c_size_t, []),
    "smr_channel_guard_alignof": (c_size_t, []),
}

checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        print("FAIL: " + what, file=sys.stderr)
        sys.exit(1)


def ok(lib, rc, what):
    check(rc == 0, "%s returned %d (%s)" % (what, rc,
                                            lib.smr_strerror(rc).decode()))


def load(path):
    lib = ctypes.CDLL(path)
    for name, (res, args) in SIGNATURES.items():
        fn = getattr(lib, name)  # AttributeError: symbol not exported
        fn.restype = res
        fn.argtypes = args
    return lib


class Guard:
    """A guard as an opaque buffer: size and alignment from the library."""

    def __init__(self, size, align):
        check(size > 0 and align > 0 and align & (align - 1) == 0,
              "guard size %d, alignment %d" % (size, align))
        self.buf = ctypes.create_string_buffer(size + align - 1)
        base = ctypes.addressof(self.buf)
        self.addr = (base + align - 1) & ~(align - 1)


def test_epoch(lib):
    d, r = P(), P()
    ok(lib, lib.smr_domain_create(None, ctypes.byref(d)), "smr_domain_create")
    ok(lib, lib.smr_reader_register(d, ctypes.byref(r)),
       "smr_reader_register")
    check(not lib.smr_in_section_ffi(r), "in section before enter")
    lib.smr_enter_ffi(r)
    check(lib.smr_in_section_ffi(r), "not in section after enter")
    lib.smr_enter_ffi(r)  # nested
    lib.smr_leave_ffi(r)
    check(lib.smr_in_section_ffi(r), "nested leave ended the section")
    # The library sees the section the twins opened.
    check(lib.smr_synchronize(d) == -errno.EDEADLK,
          "smr_synchronize inside a section did not say -EDEADLK")
    lib.smr_leave_ffi(r)
    check(not lib.smr_in_section_ffi(r), "in section after leave")
    ok(lib, lib.smr_synchronize(d), "smr_synchronize")
    ok(lib, lib.smr_reader_unregister(r), "smr_reader_unregister")
    ok(lib, lib.smr_domain_destroy(d), "smr_domain_destroy")
    print("epoch: enter/leave/in_section twins, synchronize sees the section")


def test_swap(lib):
    size, align = lib.smr_swap_guard_sizeof(), lib.smr_swap_guard_alignof()
    g = Guard(size, align)
    cell, r = P(), P()
    # No destructor: the values are integers, not owned by the cell.
    ok(lib, lib.smr_swap_create(0x1234, None, None, ctypes.byref(cell)),
       "smr_swap_create")
    ok(lib, lib.smr_swap_reader_create(cell, ctypes.byref(r)),
       "smr_swap_reader_create")
    v = lib.smr_swap_read_ffi(r, g.addr)
    check(v == 0x1234, "read %r, expected 0x1234" % v)
    check(lib.smr_swap_guard_value(g.addr) == 0x1234, "guard value")
    check(lib.smr_swap_guard_version_ffi(g.addr) == 0, "guard version 0")
    check(lib.smr_swap_reader_is_pinned(r), "reader not pinned under guard")
    ok(lib, lib.smr_swap_store(cell, 0x5678), "smr_swap_store")
    # Still pinned: the guard keeps what it read.
    check(lib.smr_swap_guard_value(g.addr) == 0x1234, "guard value moved")
    lib.smr_swap_guard_release_ffi(g.addr)
    check(not lib.smr_swap_reader_is_pinned(r), "pinned after release")
    v = lib.smr_swap_read_ffi(r, g.addr)
    check(v == 0x5678, "read %r after store, expected 0x5678" % v)
    check(lib.smr_swap_guard_value(g.addr) == 0x5678, "guard value 2")
    check(lib.smr_swap_guard_version_ffi(g.addr) == 1, "guard version 1")
    lib.smr_swap_guard_release_ffi(g.addr)
    ok(lib, lib.smr_swap_reader_destroy(r), "smr_swap_reader_destroy")
    ok(lib, lib.smr_swap_destroy(cell), "smr_swap_destroy")
    print("swap: guard of %d bytes (align %d), read 0x1234 v0 then 0x5678 v1"
          % (size, align))


def test_channel(lib, scratch):
    name = os.path.join(scratch, "ffi-%d" % os.getpid()).encode()
    size, align = lib.smr_channel_guard_sizeof(), lib.smr_channel_guard_alignof()
    g = Guard(size, align)
    w, r = P(), P()
    ok(lib, lib.smr_channel_writer_open(name, None, ctypes.byref(w)),
       "smr_channel_writer_open")
    try:
        ok(lib, lib.smr_channel_reader_open(name, 0, ctypes.byref(r)),
           "smr_channel_reader_open")
        check(lib.smr_channel_read_ffi(r, g.addr) == -errno.ENODATA,
              "read before any publish did not say -ENODATA")
        versions = []
        for payload in (b"hello from ctypes\x00\x01\x02", b"second" * 1000):
            ok(lib, lib.smr_channel_publish(w, payload, len(payload), None),
               "smr_channel_publish")
            ok(lib, lib.smr_channel_read_ffi(r, g.addr), "smr_channel_read_ffi")
            n = lib.smr_channel_guard_size(g.addr)
            data = lib.smr_channel_guard_data(g.addr)
            check(data is not None, "guard data NULL")
            got = ctypes.string_at(data, n)
            check(got == payload, "payload %r, expected %r" % (got[:32],
                                                               payload[:32]))
            versions.append(lib.smr_channel_guard_version(g.addr))
            check(lib.smr_channel_guard_switched(g.addr), "not switched")
            lib.smr_channel_release_ffi(r, g.addr)
        check(versions == [1, 2], "versions %r" % versions)
        # Unchanged: the inline fast path behind the twin, not switched.
        ok(lib, lib.smr_channel_read_ffi(r, g.addr), "read again")
        check(not lib.smr_channel_guard_switched(g.addr), "switched again")
        check(lib.smr_channel_guard_version(g.addr) == 2, "version again")
        lib.smr_channel_release_ffi(r, g.addr)
        ok(lib, lib.smr_channel_reader_close(r), "smr_channel_reader_close")
    finally:
        lib.smr_channel_writer_close(w)
    ok(lib, lib.smr_channel_unlink(name), "smr_channel_unlink")
    print("channel: guard of %d bytes (align %d), versions %r read back "
          "byte for byte" % (size, align, versions))


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    lib = load(sys.argv[1])
    print("loaded %s: %d symbols bound" % (sys.argv[1], len(SIGNATURES)))
    ok(lib, lib.smr_fence_init(None), "smr_fence_init")
    test_epoch(lib)
    test_swap(lib)
    if len(sys.argv) > 2:
        test_channel(lib, sys.argv[2])
    else:
        with tempfile.TemporaryDirectory(prefix="smr-ffi-") as scratch:
            test_channel(lib, scratch)
    print("test_ctypes: %d checks passed" % checks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
