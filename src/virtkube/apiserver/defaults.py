"""KubeVirt's admission defaults for VMs, VMIs and migrations, as pure functions.

What the mutating webhook adds, following `pkg/defaults` and the mutators of
`pkg/virt-api/webhooks/mutating-webhook` (amd64):
- VM: the template's machine type (q35) and architecture (amd64); an
  instancetype/preference matcher's kind (VirtualMachineClusterInstancetype).
- VMI (on create only): architecture, machine type, memory guest <->
  resources.requests.memory (and cpu/memory requests from limits), the CPU
  topology (sockets from the CPU request, 1 core, 1 thread) and model
  (host-model), containerDisk pull policies, a pod network with an interface of
  the cluster's default binding when none is given (autoattachPodInterface;
  refused, as KubeVirt does, when that binding is bridge and the KubeVirt CR
  does not permit bridge on the pod network), a
  disk for every volume that has none, disk targets and their bus (SATA on
  amd64), CD-ROMs read-only with a closed tray, input/watchdog/probe/feature
  defaults, and a stable firmware UUID.
- VMIM: the `kubevirt.io/vmi-name` label.

KubeVirt draws a bare VMI's firmware UUID at random; virtkube derives every
UUID from names (uuid5 in KubeVirt's own namespace UUID), so that a VMI made
from a VM gets exactly the UUID KubeVirt's VM controller gives it (from the VM
name) and golden files stay stable.

Everything works on plain JSON dicts and returns a new dict, so a manifest that
the models would reject still gets its defaults and a full list of errors from
validation afterwards.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from virtkube.api.facts import ComputeFields, cpu_topology, memory_source
from virtkube.api.hyperv import DEFAULT_SPINLOCK_RETRIES, complete_hyperv
from virtkube.api.kubevirtconfig import EffectiveConfig
from virtkube.api.quantity import value_or_none

Obj = dict[str, Any]

#: KubeVirt's namespace UUID for stable firmware UUIDs (`magicUUID` in the VM controller).
FIRMWARE_UUID_NAMESPACE = uuid.UUID("6a1a24a1-4061-4607-8bf4-a3963d0c5895")
#: The label virt-controller puts on a VM's VMI, and the owner kind that proves it.
VM_NAME_LABEL = "vm.kubevirt.io/name"
#: KubeVirt's migration label (migration-create-mutator).
VMI_NAME_LABEL = "kubevirt.io/vmi-name"


@dataclass(frozen=True)
class DefaultsConfig:
    """The cluster-wide settings KubeVirt keeps in its KubeVirt CR.

    virt-api starts from its flags; the settings the KubeVirt CR gives (the network
    ones here, the feature gates in validation) it follows while it runs
    (clusterconfig.py, `with_cluster`).
    """

    #: `spec.configuration.machineType` / the amd64 default.
    machine_type: str = "q35"
    architecture: str = "amd64"
    #: `network.defaultNetworkInterface`. KubeVirt ships bridge; the virtkube cluster's
    #: setting is masquerade (the binding its local nodes implement for the pod network).
    default_network_interface: str = "masquerade"
    #: `network.permitBridgeInterfaceOnPodNetwork` (KubeVirt's default: true).
    permit_bridge_interface_on_pod_network: bool = True
    #: pkg/defaults/amd64.go: SATA, because every guest OS drives AHCI out of the box.
    disk_bus: Literal["sata", "virtio", "scsi"] = "sata"
    #: v1.DefaultCPUModel.
    cpu_model: str = "host-model"


def with_cluster(cfg: DefaultsConfig, config: EffectiveConfig) -> DefaultsConfig:
    """`cfg` with the settings the cluster's KubeVirt CR gives now (read per request)."""
    return dataclasses.replace(
        cfg, default_network_interface=config.default_network_interface,
        permit_bridge_interface_on_pod_network=config.permit_bridge_interface_on_pod_network)


def _dict(parent: Obj, key: str) -> Obj:
    """parent[key] as a dict, created when absent (left alone when it is not a dict)."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def _list(parent: Obj, key: str) -> list[Any]:
    value = parent.get(key)
    return value if isinstance(value, list) else []


def firmware_uuid(*, namespace: str, name: str, vm_name: str | None) -> str:
    """KubeVirt's stable UUID for a VM's VMI (from the VM name); namespace/name for a bare VMI."""
    seed = vm_name if vm_name is not None else f"{namespace}/{name}"
    return str(uuid.uuid5(FIRMWARE_UUID_NAMESPACE, seed))


def _owning_vm(meta: Obj) -> str | None:
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("kind") == "VirtualMachine" and ref.get("controller"):
            return str(ref.get("name"))
    return None


# --- VMI spec ----------------------------------------------------------------------------
def _resources_and_memory(domain: Obj) -> None:
    """setDefaultResourceRequests + setGuestMemory (memory overcommit 100%)."""
    resources = _dict(domain, "resources")
    raw_limits, raw_requests = resources.get("limits"), resources.get("requests")
    limits: Obj = raw_limits if isinstance(raw_limits, dict) else {}
    requests: Obj = raw_requests if isinstance(raw_requests, dict) else {}
    for key in ("cpu", "memory"):
        if value_or_none(limits.get(key)) and not value_or_none(requests.get(key)):
            requests[key] = limits[key]
    memory = _dict(domain, "memory")
    hugepage = (memory.get("hugepages") or {}).get("pageSize") if isinstance(
        memory.get("hugepages"), dict) else None
    if "memory" not in requests:
        source = memory.get("guest") or hugepage
        if value_or_none(source):
            requests["memory"] = source
    if requests:
        resources["requests"] = requests
    if memory.get("guest") is None:
        source = memory_source(ComputeFields.of_json(domain))
        if source is not None:
            memory["guest"] = source
    if not resources:
        domain.pop("resources", None)
    if not memory:
        domain.pop("memory", None)


def _cpu(domain: Obj, cfg: DefaultsConfig) -> None:
    """SetDefaultGuestCPUTopology and setDefaultCPUModel."""
    cpu = _dict(domain, "cpu")
    if not any(cpu.get(k) for k in ("cores", "sockets", "threads")):
        topology = cpu_topology(ComputeFields.of_json(domain))
        cpu.update({"sockets": topology.sockets, "cores": topology.cores,
                    "threads": topology.threads})
    cpu.setdefault("model", cfg.cpu_model)


def _container_disk_pull_policy(image: str) -> str:
    """setDefaultPullPoliciesOnContainerDisks: Always for :latest or untagged images."""
    if image.endswith(":latest") or not any(c in image for c in ":@"):
        return "Always"
    return "IfNotPresent"


class DefaultingError(ValueError):
    """A VMI the cluster's settings give no default for (KubeVirt answers it with its message)."""


def _network(spec: Obj, devices: Obj, cfg: DefaultsConfig) -> None:
    """vmispec.SetDefaultNetworkInterface: a pod network when none is given, with the
    cluster's default binding; bridge only where the cluster permits it on the pod network."""
    if devices.get("autoattachPodInterface") is False:
        return
    if spec.get("networks") or devices.get("interfaces"):
        return
    binding = cfg.default_network_interface
    if binding == "bridge" and not cfg.permit_bridge_interface_on_pod_network:
        raise DefaultingError("bridge interface is not enabled in kubevirt-config")
    if binding == "slirp":
        raise DefaultingError("slirp interface is deprecated as of v1.3")
    spec["networks"] = [{"name": "default", "pod": {}}]
    devices["interfaces"] = [{"name": "default", binding: {}}]


def _disks(spec: Obj, devices: Obj, cfg: DefaultsConfig) -> None:
    """util.SetDefaultVolumeDisk, SetDefaults_DiskDevice, SetDefaults_CDRomTarget, amd64 bus."""
    disks = _list(devices, "disks")
    named = {d.get("name") for d in disks if isinstance(d, dict)}
    named |= {f.get("name") for f in _list(devices, "filesystems") if isinstance(f, dict)}
    for volume in _list(spec, "volumes"):
        if isinstance(volume, dict) and volume.get("name") not in named and volume.get("name"):
            disks.append({"name": volume["name"]})
            named.add(volume["name"])
    for disk in disks:
        if not isinstance(disk, dict):
            continue
        if not any(k in disk for k in ("disk", "cdrom", "lun")):
            disk["disk"] = {}
        for kind in ("disk", "cdrom", "lun"):
            target = disk.get(kind)
            if isinstance(target, dict) and not target.get("bus"):
                target["bus"] = cfg.disk_bus
        cdrom = disk.get("cdrom")
        if isinstance(cdrom, dict):
            cdrom.setdefault("readonly", True)
            cdrom.setdefault("tray", "closed")
    if disks:
        devices["disks"] = disks


def _devices_misc(spec: Obj, devices: Obj) -> None:
    for item in _list(devices, "inputs"):
        if isinstance(item, dict):
            item.setdefault("bus", "usb")
            item.setdefault("type", "tablet")
    watchdog = devices.get("watchdog")
    if isinstance(watchdog, dict) and "diag288" not in watchdog:
        model = _dict(watchdog, "i6300esb")
        model.setdefault("action", "reset")
    for key in ("livenessProbe", "readinessProbe"):
        probe = spec.get(key)
        if isinstance(probe, dict):
            for field, floor, value in (("timeoutSeconds", 1, 1), ("periodSeconds", 1, 10),
                                        ("successThreshold", 1, 1), ("failureThreshold", 1, 3)):
                current = probe.get(field)
                if not isinstance(current, int) or current < floor:
                    probe[field] = value


def _features(domain: Obj) -> None:
    """SetDefaults_FeatureState and the timers: a feature that is given is enabled."""
    features = domain.get("features")
    if isinstance(features, dict):
        for key in ("acpi", "apic", "smm", "pvspinlock", "hypervPassthrough"):
            state = features.get(key)
            if isinstance(state, dict):
                state.setdefault("enabled", True)
    hyperv = features.get("hyperv") if isinstance(features, dict) else None
    if isinstance(hyperv, dict):
        _hyperv(hyperv)
    timers = (domain.get("clock") or {}).get("timer") if isinstance(domain.get("clock"),
                                                                      dict) else None
    if isinstance(timers, dict):
        for timer in timers.values():
            if isinstance(timer, dict):
                timer.setdefault("present", True)


def _hyperv(hyperv: Obj) -> None:
    """SetDefaults_FeatureState on each enlightenment and its sub-settings (synictimer.direct,
    tlbflush.direct/extended), and SetDefaults_FeatureSpinlocks' 4096 retries."""
    for name, state in hyperv.items():
        if not isinstance(state, dict):
            continue
        state.setdefault("enabled", True)
        for sub in ("direct", "extended"):
            if isinstance(state.get(sub), dict):
                state[sub].setdefault("enabled", True)
        if name == "spinlocks" and state["enabled"] is True:
            state.setdefault("spinlocks", DEFAULT_SPINLOCK_RETRIES)


def vmi_spec_defaults(spec: Obj, cfg: DefaultsConfig) -> Obj:
    """The defaulted copy of a VMI spec (also a VM's template spec)."""
    spec = copy.deepcopy(spec)
    domain = spec.get("domain")
    if not isinstance(domain, dict):
        return spec
    spec.setdefault("architecture", cfg.architecture)
    machine = _dict(domain, "machine")
    if not machine.get("type"):
        machine["type"] = cfg.machine_type
    _resources_and_memory(domain)
    _cpu(domain, cfg)
    for volume in _list(spec, "volumes"):
        cd = volume.get("containerDisk") if isinstance(volume, dict) else None
        if isinstance(cd, dict) and isinstance(cd.get("image"), str):
            cd.setdefault("imagePullPolicy", _container_disk_pull_policy(cd["image"]))
    devices = domain.get("devices")
    if isinstance(devices, dict):
        _network(spec, devices, cfg)
        _disks(spec, devices, cfg)
        _devices_misc(spec, devices)
    _features(domain)
    # KubeVirt's SetHypervFeatureDependencies runs after the defaults, as here.
    complete_hyperv(spec)
    return spec


# --- kinds ---------------------------------------------------------------------------------
def vmi_defaults(vmi: Obj, cfg: DefaultsConfig) -> Obj:
    """The VMI as the mutating webhook leaves it on create."""
    out = copy.deepcopy(vmi)
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    out["spec"] = spec = vmi_spec_defaults(spec, cfg)
    domain = spec.get("domain")
    if isinstance(domain, dict):
        meta = out.get("metadata") or {}
        firmware = _dict(domain, "firmware")
        if not firmware.get("uuid"):
            firmware["uuid"] = firmware_uuid(namespace=str(meta.get("namespace") or ""),
                                             name=str(meta.get("name") or ""),
                                             vm_name=_owning_vm(meta))
    return out


def vm_defaults(vm: Obj, cfg: DefaultsConfig) -> Obj:
    """VMsMutator: machine type, architecture, matcher kinds. The rest waits for the VMI."""
    out = copy.deepcopy(vm)
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    for key, kind in (("instancetype", "VirtualMachineClusterInstancetype"),
                      ("preference", "VirtualMachineClusterPreference")):
        matcher = spec.get(key)
        if isinstance(matcher, dict) and not matcher.get("kind") and not matcher.get(
                "inferFromVolume"):
            matcher["kind"] = kind
    template = spec.get("template")
    tspec = template.get("spec") if isinstance(template, dict) else None
    if isinstance(tspec, dict) and isinstance(tspec.get("domain"), dict):
        tspec.setdefault("architecture", cfg.architecture)
        machine = _dict(tspec["domain"], "machine")
        if not machine.get("type"):
            machine["type"] = cfg.machine_type
    return out


def migration_defaults(vmim: Obj) -> Obj:
    """migration-create-mutator: label the migration with its VMI."""
    out = copy.deepcopy(vmim)
    spec = out.get("spec")
    name = spec.get("vmiName") if isinstance(spec, dict) else None
    if isinstance(name, str) and name:
        meta = _dict(out, "metadata")
        labels = _dict(meta, "labels")
        labels.setdefault(VMI_NAME_LABEL, name)
    return out
