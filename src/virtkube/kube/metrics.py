"""The client layer's own Prometheus metrics, in the default registry.

Each process serves the default registry on its /metrics endpoint; these say how
often its caches lost the API server and had to recover, which is what an operator
needs after an API server upgrade or an etcd hiccup ("did everything come back?").
"""

from __future__ import annotations

from prometheus_client import Counter

#: One per watch or list that ended in a failure, by resource and by how it ended
#: (unavailable, gone, throttled, closed, error, ...).
WATCH_FAILURES = Counter(
    "virtkube_informer_watch_failures_total",
    "Lists and watches of an informer that failed, by resource and reason.",
    ["resource", "reason"],
)
#: One per outage an informer came back from (a re-list after failures).
RECOVERIES = Counter(
    "virtkube_informer_recoveries_total",
    "Times an informer re-listed and resumed watching after a failure.",
    ["resource"],
)
