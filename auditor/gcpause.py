"""One switch for the cyclic garbage collector during bulk work.

pathaudit's large allocations (parsed JSON, the typed estate, flows, findings) are acyclic and
long-lived, freed by reference counting. With the cyclic collector running, every full collection
rescans all of them: measured at 10k subnets, that cost as much as the parse during loading, about
half the flow analysis, and a fifth of the rules and report (tests/bench/load.py, paths.py). So
bulk stages pause it; it is re-enabled (if it was on) when the outermost pause ends, and then
reclaims whatever cycles were left meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Set by the console entry point (auditor.cli.main): the process ends when the command does.
EXITS_AFTER_COMMAND = False


def settle() -> None:
    """Once a command has computed its result and only renders it before the process exits: move every
    object alive into the permanent generation (gc.freeze), so neither the collections that rendering
    triggers nor the one at interpreter exit rescans the estate, the flows and the findings. Measured at
    10k subnets: 2.3 s of `whatif` (two audits' heaps) and about 1 s of `audit`. Only under the console
    entry point: a library caller or an in-process test keeps its collector as it was."""
    if EXITS_AFTER_COMMAND:
        gc.freeze()
