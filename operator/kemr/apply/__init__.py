"""The one layer that writes to the Kubernetes API: server-side apply of desired children, pruning, status."""
