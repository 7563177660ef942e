"""CPython's thread switch interval, set for an event loop that hands work to threads.

A thread that wants the GIL back (the SQLite writer after a commit, the reader after a query,
a password check) waits on it for up to the switch interval, 5 ms by default, before it asks
the holder to let go. Under load the event loop holds the GIL nearly all the time, so each hand
back from a thread waited up to 5 ms, and the next SQLite transaction waited behind it. At
0.5 ms the one process took 5,553 against 5,133 submit_sm/s (medians of four interleaved runs
each, SQLite, `docs/performance.md`). Two threads that both run Python for long would switch
more often; here the threads mostly run C code with the GIL released.
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005


def shorten_switch_interval() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL)
