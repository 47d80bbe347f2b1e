"""Progress bars for the steps that take minutes, switched on or off for the whole process.

Like transformers' ``disable_progress_bar``, one switch for the process: a run started with
``progress=False`` (the CLI's ``--no-progress``) shows none. Inside a Ray worker a bar is Ray's
``tqdm_ray``, which the driver draws, so a student fine-tuned in a worker shows its epochs too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_enabled = True

Advance = Callable[[int], None]
"""Told how many steps are done so far."""


def progress_bars_enabled() -> bool:
    """Whether this process shows progress bars."""
    return _enabled


def enable_progress_bars(enabled: bool = True) -> None:
    """Show (or, with False, hide) progress bars in this process from now on."""
    global _enabled
    _enabled = enabled


@contextmanager
def progress_bars(enabled: bool) -> Iterator[None]:
    """Progress bars on or off for the block, as they were after it."""
    before = _enabled
    enable_progress_bars(enabled)
    try:
        yield
    finally:
        enable_progress_bars(before)


def _in_ray_worker() -> bool:
    ray = sys.modules.get("ray")  # a worker has imported it; nothing else needs it imported
    if ray is None:
        return False
    return ray.is_initialized() and ray.get_runtime_context().worker.mode == ray.WORKER_MODE


@contextmanager
def progress_bar(total: int, desc: str, *, unit: str = "it", initial: int = 0) -> Iterator[Advance]:
    """A bar over `total` steps (with rate and ETA) while the block runs; a no-op when progress
    bars are off. The block calls the advance function with the steps done so far."""
    if not _enabled or total <= 0:
        yield lambda done: None
        return
    if _in_ray_worker():
        from ray.experimental.tqdm_ray import tqdm as ray_tqdm

        bar, shown = ray_tqdm(total=total, desc=desc, unit=unit), [0]
    else:
        from tqdm.auto import tqdm

        bar, shown = tqdm(total=total, initial=initial, desc=desc, unit=unit), [initial]

    def advance(done: int) -> None:
        if done > shown[0]:
            bar.update(done - shown[0])
            shown[0] = done

    advance(initial)
    try:
        yield advance
    finally:
        bar.close()
