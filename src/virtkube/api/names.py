"""Kubernetes name formats that more than one process holds names to.

virt-api rejects a volume or disk name that is not a DNS-1123 label, and the
launcher, which turns such names into paths (vmi-disks/<volume>/, its state
files), refuses them again when called without admission in front of it.
"""

from __future__ import annotations

import re

#: k8s.io/apimachinery IsDNS1123Label: what KubeVirt requires of network and volume names.
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL_MAX = 63


def is_dns_label(value: str) -> bool:
    return len(value) <= DNS1123_LABEL_MAX and DNS1123_LABEL.match(value) is not None


#: k8s.io/apimachinery IsDNS1123Subdomain: a Secret's or ConfigMap's name.
DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_SUBDOMAIN_MAX = 253


def is_dns_subdomain(value: str) -> bool:
    return len(value) <= DNS1123_SUBDOMAIN_MAX and DNS1123_SUBDOMAIN.match(value) is not None
