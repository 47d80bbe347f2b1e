"""Which backend failures are worth retrying, and the error that carries them to the graph.

Three kinds of retry stay apart:
- network (timeouts, HTTP 408/409/429, 5xx, dropped connections): the client's own retries with
  backoff (``BackendConfig.max_retries``), then `BackendUnavailable`, which the graph's per-node
  `RetryPolicy` retries again with its own backoff. If the backend stays down the run stops, and
  the next `dualchecker label` resumes it: no record is stored as failed because a server hiccuped;
- malformed output: the re-ask inside the teacher checker (an `Attempt` with a parse error);
- low confidence: the graph's re-prompt edge.

Anything else a backend raises (a bad request, a missing key) is a `BackendError` and is recorded
on the record, since retrying it would fail the same way.
"""

from __future__ import annotations

from dualchecker.errors import DualCheckerError

RETRY_STATUS = frozenset({408, 409, 429})
TRANSIENT_CLASS_NAMES = frozenset(
    {
        "APIConnectionError",
        "APITimeoutError",  # openai, anthropic, ... SDKs
        "TimeoutException",
        "NetworkError",
        "RemoteProtocolError",  # httpx transports
        "ServiceUnavailableError",
        "RateLimitError",
        "InternalServerError",
    }
)


class BackendUnavailable(DualCheckerError):
    """The backend did not answer after the client's retries (timeout, 429, 5xx, connection).

    Deliberately not a `BackendError`: agents let it through, so the graph's RetryPolicy can try
    the node again and, failing that, stop the run where it can be resumed.
    """


def status_code(exc: BaseException) -> int | None:
    """The HTTP status an SDK error carries, if any."""
    for candidate in (exc, getattr(exc, "response", None)):
        code = getattr(candidate, "status_code", None)
        if isinstance(code, int):
            return code
    return None


def is_transient(exc: BaseException) -> bool:
    """True for failures a later try may not repeat: timeouts, rate limits, 5xx, lost connections."""
    code = status_code(exc)
    if code is not None:
        return code in RETRY_STATUS or code >= 500
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    return any(cls.__name__ in TRANSIENT_CLASS_NAMES for cls in type(exc).__mro__)
