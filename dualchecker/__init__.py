"""DualChecker: distil an LLM teacher into a small student without importing its hallucinations.

import dualchecker
records = dualchecker.label(task, pool, texts, llm=my_chat_model)
summary = dualchecker.run("config.yaml")
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["label", "run", "RunConfig", "Task", "Record", "method", "__version__"]


def __getattr__(name: str) -> Any:  # lazy: importing the package stays cheap
    if name in ("label", "run"):
        from dualchecker import api

        return getattr(api, name)
    if name in ("RunConfig", "method"):
        from dualchecker.graph import config

        return getattr(config, name)
    if name in ("Task", "Record", "LabelDef", "SpanTypeDef", "Span"):
        from dualchecker.agents import types

        return getattr(types, name)
    raise AttributeError(name)
