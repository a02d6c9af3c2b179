"""Client-side token bucket for API requests (client-go: 5 QPS, burst 10 by default; ours is configurable)."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """Allows `burst` requests at once, refilled at `qps` per second. Waiters are served in arrival order."""

    def __init__(self, qps: float, burst: int) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("qps must be > 0 and burst >= 1")
        self._qps = qps
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._qps)
        self._updated = now

    async def acquire(self) -> float:
        """Takes one token, sleeping until one is available; returns the seconds waited."""
        async with self._lock:
            now = time.monotonic()
            self._refill(now)
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self._qps
            if wait:
                await asyncio.sleep(wait)
                self._refill(time.monotonic())
            self._tokens -= 1
            return wait
