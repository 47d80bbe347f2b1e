"""The CPU cores other processes leave free: how many threads llama.cpp should run.

llama.cpp's threads wait on each other, and on an oversubscribed CPU all-core decoding was ~10x
slower than one thread; so the local model uses the cores nobody else is using. Measured once,
at load, a brief load at start-up kept a run on one thread for hours (a 300-record cell at ~5 s
a record that took ~3.5 idle); `CoreWatch` measures again over the time since its last look.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import NamedTuple


class CpuSample(NamedTuple):
    """Cumulative CPU time (clock ticks) of the whole machine, its idle part, and this process's."""

    total: int
    idle: int
    own: int


def cpu_sample() -> CpuSample:
    """Read the counters from /proc (raises OSError where there is none)."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    with open("/proc/self/stat", encoding="ascii") as handle:
        own = handle.read().rsplit(")", 1)[1].split()
    return CpuSample(sum(fields), idle, int(own[11]) + int(own[12]))  # utime + stime


def others_busy(before: CpuSample, after: CpuSample, cores: int) -> float:
    """Cores other processes kept busy between two samples (this process's own work excluded)."""
    elapsed = after.total - before.total
    if elapsed <= 0:
        return 0.0
    busy = elapsed - (after.idle - before.idle) - (after.own - before.own)
    return max(0.0, busy / elapsed * cores)


def free_of(busy: float, cores: int) -> int:
    """The cores left when others keep `busy` cores busy, at least one (a little noise is not a
    busy core)."""
    return max(1, min(cores, cores - math.ceil(busy - 0.3)))


def free_cores(window_s: float = 0.3) -> int:
    """Cores other processes are not using over a short window, at least one. On an idle 2-core
    machine that is 2; with another process busy, 1. Off Linux: the 1-minute load average."""
    cores = os.cpu_count() or 1
    try:
        before = cpu_sample()
        time.sleep(window_s)
        busy = others_busy(before, cpu_sample(), cores)
    except OSError:
        try:
            busy = os.getloadavg()[0]
        except (OSError, AttributeError):
            busy = 0.0
    return free_of(busy, cores)


class CoreWatch:
    """The free cores over the time since the last look, looked at no more often than `every_s`
    seconds; nothing is slept, the interval itself is the measuring window."""

    def __init__(
        self,
        every_s: float,
        *,
        sample: Callable[[], CpuSample] = cpu_sample,
        clock: Callable[[], float] = time.monotonic,
        cores: int | None = None,
    ):
        self.every_s, self._sample, self._clock = every_s, sample, clock
        self.cores = cores or os.cpu_count() or 1
        self._last, self._at = self._read(), clock()

    def _read(self) -> CpuSample | None:
        try:
            return self._sample()
        except OSError:
            return None

    def free(self) -> int | None:
        """The free cores since the last look, or None when it is too soon to look again (or the
        machine has no /proc to read)."""
        now = self._clock()
        if self._last is None or now - self._at < self.every_s:
            return None
        current = self._read()
        if current is None:
            return None
        busy = others_busy(self._last, current, self.cores)
        self._last, self._at = current, now
        return free_of(busy, self.cores)
