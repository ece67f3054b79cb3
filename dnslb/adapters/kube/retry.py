"""Retrying API calls that failed for reasons that pass: throttling (429), server errors (5xx), lost connections."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

T = TypeVar("T")
log = logging.getLogger(__name__)


def is_transient(exc: Exception) -> bool:
    if isinstance(exc, ApiException):
        return exc.status in (429, 500, 502, 503, 504) or exc.status == 0
    return isinstance(exc, HTTPError | ConnectionError | TimeoutError)


def with_retries(call: Callable[[], T], *, what: str, attempts: int = 6, on_error: Callable[[Exception], None]) -> T:
    """Run `call`; retry transient failures with jittered exponential backoff; re-raise the rest and the last."""
    delay = 0.1
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            on_error(exc)
            if attempt == attempts or not is_transient(exc):
                raise
            log.debug("%s failed (%s); retry %d in %.2fs", what, exc, attempt, delay)
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")
