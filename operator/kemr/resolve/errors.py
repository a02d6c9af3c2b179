"""The one error resolving can raise: a spec the schema accepted but the operator can't build."""

from __future__ import annotations


class ResolveError(ValueError):
    """A spec the operator can't turn into children: becomes Stalled=True with this message, never a crash.

    `field` is the spec path the user must change (`spec.coreGroups[1].name`), `reason` a CamelCase condition
    reason.
    """

    def __init__(self, field: str, message: str, reason: str = "InvalidSpec") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.reason = reason
