"""CPython's cyclic garbage collector, set for a long-running message pipeline.

With the defaults the collector took about a fifth of the gateway's CPU under SMPP load (perf:
gc_collect_main, visit_decref and visit_reachable). Every message allocates dozens of tracked
objects (PDUs, dataclasses, futures, rows), so a young-generation collection ran every few
messages, and objects that were merely in flight got promoted and later walked again by full
collections, along with the ~100,000 objects that importing FastAPI, pydantic and the rest
leaves behind for good.

Two changes, made once the process has started:
- `gc.freeze()` moves everything alive after start-up into the permanent generation, which no
  collection walks again. Those objects live as long as the process anyway.
- The first generation's threshold goes from 700 to 50,000 allocations. Nearly everything a
  message allocates is freed by reference counting before that, so collections find less to
  promote. The cycles they still find wait a little longer: at most 50,000 objects, a few MB.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000  # CPython's default is 700


def tune_for_service() -> None:
    """Call once start-up is done (stores open, routes and caches loaded)."""
    gc.collect()  # what start-up left as garbage is not frozen with the rest
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
