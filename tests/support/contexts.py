"""The operator's reconcile Context around an in-memory apiserver (support/fake_api.py), for unit tests of the
controllers: an empty store and queue, the default configuration, every namespace."""

from __future__ import annotations

from kemr.config import OperatorConfig
from kemr.controllers.run import Context, Options
from kemr.runtime.queue import WorkQueue
from kemr.runtime.store import Store
from support.fake_api import FakeApi


def fake_context(api: FakeApi) -> Context:
    """A Context whose client is `api`: its Events are posted at once (no recorder started)."""
    return Context(
        kube=api,
        store=Store(),
        queue=WorkQueue(),
        config=OperatorConfig(),
        options=Options(namespaces=[], kubeconfig=None),
    )
