"""Status: computed from the spec, what was observed and the previous status (pure functions)."""
