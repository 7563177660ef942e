"""glibc's malloc, set so that memory taken for a password check goes back to the system.

Each scrypt check (an SMPP bind, an API key seen for the first time) allocates 16 MiB in the
thread that runs it. glibc serves a block that large with mmap and unmaps it when freed, but
then raises its mmap threshold to that size (the "dynamic" threshold, up to 32 MiB): the next
16 MiB come from the thread's malloc arena instead, and an arena keeps what it was given.
Every thread of the default executor that ever ran a check then held 16 MiB for good: 32
clients starting with the same key grew the gateway by about 100 MiB (`backlog` benchmark).

A fixed threshold turns the dynamic one off, so blocks of 1 MiB and more are always mapped
and unmapped. Python's own allocator and the event loop's buffers work in smaller blocks and
are not affected.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # malloc.h
MMAP_THRESHOLD = 1 << 20


def map_large_blocks() -> bool:
    """Fix glibc's mmap threshold at 1 MiB. False where there is no glibc (another libc or OS):
    nothing is changed there."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl has no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.warning("mallopt(M_MMAP_THRESHOLD) failed; large blocks may stay in malloc arenas")
        return False
    return True
