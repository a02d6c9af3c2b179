"""Crash points for tests of the operator's restart safety: `KEMR_CRASH_AT=<point>` makes the process SIGKILL
itself there, exactly as a node failure would stop it. Unset in production: one environment lookup a call."""

from __future__ import annotations

import os
import signal

ENV = "KEMR_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
