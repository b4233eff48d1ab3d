"""Process-wide tuning of a long-running server process."""

from __future__ import annotations

import gc


def exempt_from_cyclic_gc() -> None:
    """Move everything alive now out of the cyclic garbage collector's reach.

    Call it after loading what a process keeps for its whole life (the app, its
    routes and SQL metadata; the IP data). Every full collection walked those
    objects again, tens of ms each (the IP data: ~65 ms; a started app: enough to
    take a 1,300-peer participants list from p50 15 ms to p99 105 ms), stalling
    whichever request was allocating at that moment. Frozen objects are still
    freed by reference counting; only the cycle detector stops visiting them.
    """
    gc.collect()
    gc.freeze()
