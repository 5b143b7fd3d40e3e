"""Prometheus metrics: what flows in and out, and how far behind the queues are.

Counters and histograms are bumped where things happen (dispatch, outbox); the queue
gauges are read from the database at scrape time, so every replica reports the shared
truth and nothing has to keep them in step. One registry of our own keeps test runs and
embedding apps free of the process-wide default collectors' surprises.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS_IN = Counter(
    "hrbot_events_in",
    "Platform events stored for handling (retries of a stored event not counted)",
    ["platform"],
    registry=REGISTRY,
)
HANDLER_SECONDS = Histogram(
    "hrbot_handler_seconds",
    "Time to handle one event: lock, transaction, handler, outbox rows",
    ["platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
PLATFORM_ERRORS = Counter(
    "hrbot_platform_errors",
    "Failed deliveries by platform and error code (http_5xx, throttled, timeout, errcode...)",
    ["platform", "code"],
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "hrbot_outbox_depth", "Outbox messages waiting to be sent", registry=REGISTRY
)
OUTBOX_OLDEST_AGE = Gauge(
    "hrbot_outbox_oldest_age_seconds",
    "Age of the oldest message waiting to be sent (0 when none)",
    registry=REGISTRY,
)
DUE_LAG = Gauge(
    "hrbot_due_lag_seconds",
    "How long the most overdue pending due item has been due (0 when none)",
    registry=REGISTRY,
)

HTTP_REFUSED = Counter(
    "hrbot_http_connections_refused",
    "Connections closed on arrival: too many open in total or from one client address",
    ["reason"],
    registry=REGISTRY,
)
HTTP_ABORTED = Counter(
    "hrbot_http_aborted_requests",
    "Requests that ended before their body was read: client gone, or body too slow",
    ["reason"],
    registry=REGISTRY,
)

# Error codes come from platform answers; an unbounded set would explode the series count.
_MAX_CODE_LENGTH = 40


def count_event_in(platform: str) -> None:
    """One new event stored for ``platform``."""
    EVENTS_IN.labels(platform=platform).inc()


def count_http_refused(reason: str) -> None:
    """One connection closed on arrival (``total`` or ``per_client`` cap)."""
    HTTP_REFUSED.labels(reason=reason).inc()


def count_http_aborted(reason: str) -> None:
    """One request given up before its body was read (``client_gone``, ``body_timeout``)."""
    HTTP_ABORTED.labels(reason=reason).inc()


def observe_handler(platform: str, seconds: float) -> None:
    """One event of ``platform`` took ``seconds`` to handle."""
    HANDLER_SECONDS.labels(platform=platform).observe(seconds)


def count_platform_error(platform: str, code: str) -> None:
    """One failed delivery attempt on ``platform``, classified by ``code``."""
    PLATFORM_ERRORS.labels(platform=platform, code=code[:_MAX_CODE_LENGTH] or "unknown").inc()


def error_code(err: BaseException) -> str:
    """A short, low-cardinality code for a delivery failure.

    A platform's own errcode wins (it names the cause); then an HTTP status class; then a
    timeout or throttle named by the error's class or text; else the exception class.
    """
    for cause in _chain(err):
        errcode = getattr(cause, "errcode", None)
        if errcode not in (None, "", 0):
            return str(errcode)
        response = getattr(cause, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            return "throttled" if status == 429 else f"http_{status // 100}xx"
    text = " ".join(f"{type(c).__name__} {c}" for c in _chain(err)).lower()
    if "timeout" in text or "timed out" in text:
        return "timeout"
    if "429" in text or "throttl" in text or "flow-control" in text or "rate" in text:
        return "throttled"
    for status in ("500", "502", "503", "504"):
        if status in text:
            return "http_5xx"
    return type(err).__name__


def _chain(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def set_queue_gauges(*, outbox_depth: int, outbox_oldest_age: float, due_lag: float) -> None:
    """Record the queue readings taken at scrape time."""
    OUTBOX_DEPTH.set(outbox_depth)
    OUTBOX_OLDEST_AGE.set(max(0.0, outbox_oldest_age))
    DUE_LAG.set(max(0.0, due_lag))


def render() -> tuple[bytes, str]:
    """The registry in Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
