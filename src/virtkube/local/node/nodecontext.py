"""What every pod worker of one local node shares, in a module of its own so that the
pod-level worker (podworker.py) and the per-container lifecycle it mixes in
(containerlife.py) both name it without importing each other; the agent builds it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from virtkube.kube.client import Client
from virtkube.kube.events import EventRecorder
from virtkube.local.node.layout import ClusterNet, NodeDirs
from virtkube.local.node.volumes import VolumeMaker


@dataclass
class NodeContext:
    """What every pod worker of one node shares."""

    client: Client
    events: EventRecorder
    net: ClusterNet
    dirs: NodeDirs
    index: int
    node_name: str
    node_ip: str
    service_cidr: str
    local_image: str
    image_id: str
    volumes: VolumeMaker
    lookup: Any  # env.DataLookup
    base_env: dict[str, str]
