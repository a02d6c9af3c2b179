"""kopf wiring: watches fill the store and wake the reconcilers; nothing here decides what to build."""
