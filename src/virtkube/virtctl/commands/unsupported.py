"""KubeVirt's virtctl commands that virtkube does not carry out yet.

Each exists with KubeVirt's name, arguments and flags (from pkg/virtctl/<verb>/), so a
script written for KubeVirt gets past the parser and `--help` reads as KubeVirt's, and then
answers in one line which open work it waits for, with exit code 1 (never a traceback or
"No such command", which would read as a typo). The commands are data, not one function
each: a table is easier to check against KubeVirt's than forty empty functions, and a
command moves out of here into its verb group's module when it is implemented.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from virtkube.virtctl.commands.base import new_app, not_supported


@dataclass(frozen=True)
class Flag:
    """One KubeVirt flag: its spellings (`-f,--file`), value type and help."""

    decls: str
    kind: type = str
    help: str = ""
    multiple: bool = False

    @property
    def names(self) -> list[str]:
        return self.decls.split(",")

    @property
    def param(self) -> str:
        longest = max(self.names, key=len)
        return longest.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Unsupported:
    """A command: its path under virtctl, KubeVirt's positional arguments (metavars; a
    trailing `?` makes one optional), flags, short help, and the work it waits for."""

    path: str
    args: tuple[str, ...]
    flags: tuple[Flag, ...]
    help: str
    topic: str


DRY_RUN = Flag("--dry-run", bool, "Ask the server to change nothing.")
OUTPUT = Flag("-o,--output", str, "yaml or json")
PERSIST = Flag("--persist", bool, "[deprecated] this flag has no effect")

HOTPLUG = "volume hotplug, issue 16"
MIGRATION = "live migration and evacuation, issue 14"
STORAGE = "DataVolumes, uploads and exports, issue 15"
INSTANCETYPES = "instance types and preferences, issue 17"
GUEST_AGENT = "this guest-agent query is not served by virt-api yet, issue 21"
CREDENTIALS = "accessCredentials management, issue 21"

_MEMORY_DUMP = (
    Flag("--claim-name", help="PVC name to contain the memory dump"),
    Flag("--create-claim", bool, "Create the PVC that will contain the memory dump"),
    Flag("--storage-class", help="The storage class for the PVC."),
    Flag("--access-mode", help="The access mode for the PVC."),
    Flag("--port-forward", bool, "Download through port-forward on a random local port"),
    Flag("--local-port", help="Local port for --port-forward"),
    Flag("--format", help="Format of the download: gzip or raw"),
    Flag("--output", help="Path of the downloaded memory dump"),
)
_VMEXPORT = (
    Flag("--vm", help="Export a VirtualMachine of this name"),
    Flag("--snapshot", help="Export a VirtualMachineSnapshot of this name"),
    Flag("--pvc", help="Export a PersistentVolumeClaim of this name"),
    Flag("--vmtemplate", help="Export a VirtualMachineTemplate of this name"),
    Flag("--output", help="Path of the downloaded volume"),
    Flag("--volume", help="The volume to download"),
    Flag("--format", help="gzip (default) or raw"),
    Flag("--insecure", bool, "Do not verify the export server's certificate"),
    Flag("--keep-vme", bool, "Keep the VirtualMachineExport after the download"),
    Flag("--delete-vme", bool, "Delete the VirtualMachineExport after the download"),
    Flag("--ttl", help="Time after which the export may be deleted"),
    Flag("--manifest", bool, "Retrieve the VM manifest instead of a volume"),
    Flag("--manifest-output-format", help="yaml or json"),
    Flag("--include-secret", bool, "Include a Secret with the headers CDI needs"),
    Flag("--service-url", help="Service URL to use in the returned manifest"),
    Flag("--port-forward", bool, "Download through port-forward on a random local port"),
    Flag("--local-port", help="Local port for --port-forward"),
    Flag("--retry", int, "Retries on transient errors of the export server"),
    Flag("--labels", help="Labels of the export object and its pod", multiple=True),
    Flag("--annotations", help="Annotations of the export object and its pod", multiple=True),
    Flag("--readiness-timeout", help="Longest wait for the export to be ready"),
)
_KEY = (
    Flag("-u,--user", help="Name of the user."),
    Flag("--secret", help="Name of the secret with SSH keys."),
    Flag("-f,--file", help="Path to the SSH public key file."),
    Flag("--value", help="Literal value of the SSH public key."),
    Flag("--force", bool, "Update the secret even if the VM does not own it."),
)
_LOG_COMPONENTS = tuple(
    Flag(f"--{c}", int, f"show/set {c} log verbosity (0-9)")
    for c in ("virt-api", "virt-controller", "virt-handler", "virt-launcher", "virt-operator",
              "all"))

COMMANDS: tuple[Unsupported, ...] = (
    Unsupported("addvolume", ("VMI",), (
        Flag("--volume-name", help="Name of the volume source, a DataVolume or PVC"),
        Flag("--disk-name", help="Name used in the disk/volume section of the spec"),
        Flag("--serial", help="Serial number of the disk"),
        Flag("--cache", help="Cache mode of the disk"),
        Flag("--disk-type", help="disk or lun (default disk)"),
        Flag("--bus", help="Disk bus (default scsi)"),
        PERSIST, DRY_RUN), "Hotplug a volume into a running VMI.", HOTPLUG),
    Unsupported("removevolume", ("VMI",), (
        Flag("--volume-name", help="Name used in the volumes section of the spec"),
        PERSIST, DRY_RUN), "Unplug a hotplugged volume from a running VMI.", HOTPLUG),
    Unsupported("migrate-cancel", ("VM",), (DRY_RUN,),
                "Cancel a VM's live migration (deletes its active migration).", MIGRATION),
    Unsupported("evacuate-cancel", ("KIND", "NAME?"), (DRY_RUN,),
                "Cancel evacuation of a VM, VMI or node (KIND: vm, vmi or node).", MIGRATION),
    Unsupported("expand", (), (
        Flag("--vm", help="Name of the VirtualMachine to expand (or --file)"),
        Flag("-f,--file", help="Expand the VirtualMachine in this file (or --vm)"),
        OUTPUT), "Print a VM with its instancetype and preference expanded.", INSTANCETYPES),
    Unsupported("vnc screenshot", ("VMI",), (
        Flag("-f,--file", help="Where to write the PNG screenshot ('-' for stdout)"),
        Flag("-m,--move-cursor", bool, "Move the cursor first to wake a screensaver"),
    ), "Save a PNG screenshot of a VMI's screen.", "the vnc/screenshot subresource, issue 21"),
    Unsupported("userlist", ("VMI",), (), "List the users logged into the guest.", GUEST_AGENT),
    Unsupported("fslist", ("VMI",), (), "List the guest's file systems.", GUEST_AGENT),
    Unsupported("reset", ("VMI",), (), "Hard-reset a VMI (like pressing the reset button).",
                "the reset subresource, issue 21"),
    Unsupported("objectgraph", ("NAME",), (
        Flag("--vmi", bool, "Return the object graph of the VMI instead of the VM."),
        Flag("--exclude-optional", bool, "Exclude optional nodes from the object graph."),
        Flag("--selector", help="key=value label selectors", multiple=True),
        OUTPUT), "Print the objects a VM or VMI depends on.",
                "the objectgraph subresource, issue 21"),
    Unsupported("usbredir", ("DEVICE", "VMI"), (
        Flag("--no-launch", bool, "Do not launch the usbredir client; launch it yourself"),
    ), "Redirect a local USB device (vendor:product or bus-device) to a VMI.",
                "USB redirection"),
    Unsupported("permitted-devices", (), (), "List the host devices VMs may use.",
                "permitted host devices"),
    Unsupported("guestfs", ("PVC",), (
        Flag("--image", help="libguestfs-tools container image"),
        Flag("--pull-policy", help="Pull policy of the libguestfs image"),
        Flag("--kvm", bool, "Use KVM in the libguestfs-tools container"),
        Flag("--root", bool, "Run the container as uid 0"),
        Flag("--uid", help="uid of the container"),
        Flag("--gid", help="gid of the container (with --uid)"),
        Flag("--fsGroup", help="fsGroup of the container"),
        Flag("--vm", help="Apply this VM's scheduling constraints to the pod"),
    ), "Start a shell in a libguestfs pod on a PVC.", STORAGE),
    Unsupported("image-upload", ("KIND?", "NAME?"), (
        Flag("--insecure", bool, "Allow insecure server connections when using HTTPS."),
        Flag("--uploadproxy-url", help="The URL of the cdi-upload proxy service."),
        Flag("--pvc-name", help="[deprecated] the destination name; give it as an argument"),
        Flag("--pvc-size", help="[deprecated] use --size"),
        Flag("--size", help="Size of the DataVolume to create (ex. 10Gi)"),
        Flag("--storage-class", help="The storage class for the PVC."),
        Flag("--access-mode", help="The access mode for the PVC."),
        Flag("--block-volume", bool, "[deprecated] use --volume-mode block"),
        Flag("--volume-mode", help="block or filesystem"),
        Flag("--image-path", help="Path to the local VM image."),
        Flag("--archive-path", help="Path to the local archive."),
        Flag("--no-create", bool, "Do not create a new DataVolume/PVC."),
        Flag("--wait-secs", int, "Seconds to wait for the upload pod to start."),
        Flag("--retry", int, "Retries on transient errors of the upload server"),
        Flag("--force-bind", bool, "Bind the PVC at once, ignoring WaitForFirstConsumer."),
        Flag("--datasource", bool, "Create a DataSource pointing to the volume."),
        Flag("--default-instancetype", help="Default instance type of the image"),
        Flag("--default-instancetype-kind", help="Kind of the default instance type"),
        Flag("--default-preference", help="Default preference of the image"),
        Flag("--default-preference-kind", help="Kind of the default preference"),
    ), "Upload a disk image into a DataVolume or PVC (KIND: dv or pvc).", STORAGE),
    *(Unsupported(f"memory-dump {verb}", ("VM",), _MEMORY_DUMP,
                  f"{verb.capitalize()} a memory dump of a VM.", STORAGE)
      for verb in ("get", "download", "remove")),
    *(Unsupported(f"vmexport {verb}", ("NAME",), _VMEXPORT,
                  f"{verb.capitalize()} a VirtualMachineExport.", STORAGE)
      for verb in ("create", "delete", "download")),
    Unsupported("create instancetype", (), (
        Flag("--name", help="Name of the instance type."),
        Flag("--cpu", int, "Number of CPUs."),
        Flag("--memory", help="Amount of memory."),
        Flag("--gpu", help="vGPU to pass through", multiple=True),
        Flag("--hostdevice", help="Host device to pass through", multiple=True),
        Flag("--iothreadspolicy", help="IOThreadsPolicy"),
        Flag("--namespaced", bool, "A namespaced VirtualMachineInstancetype"),
        OUTPUT), "Print an instance type manifest.", INSTANCETYPES),
    Unsupported("create preference", (), (
        Flag("--name", help="Name of the preference."),
        Flag("--volume-storage-class", help="Preferred storage class"),
        Flag("--machine-type", help="Preferred machine type"),
        Flag("--cpu-topology", help="Preferred guest CPU topology"),
        Flag("--namespaced", bool, "A namespaced VirtualMachinePreference"),
        OUTPUT), "Print a preference manifest.", INSTANCETYPES),
    Unsupported("create clone", (), (
        Flag("--name", help="Name of the clone object"),
        Flag("--source-name", help="Name of the source"),
        Flag("--target-name", help="Name of the target"),
        Flag("--source-type", help="vm or snapshot"),
        Flag("--target-type", help="vm"),
        Flag("--label-filter", help="Labels to copy", multiple=True),
        Flag("--annotation-filter", help="Annotations to copy", multiple=True),
        Flag("--template-label-filter", help="Template labels to copy", multiple=True),
        Flag("--template-annotation-filter", help="Template annotations to copy",
             multiple=True),
        Flag("--new-mac-address", help="interface:MAC of the target", multiple=True),
        Flag("--new-smbios-serial", help="SMBIOS serial of the target"),
        OUTPUT), "Print a VirtualMachineClone manifest.", STORAGE),
    Unsupported("credentials add-ssh-key", ("VM",), (
        *_KEY,
        Flag("--create-secret", bool, "Create a new secret for the key"),
        Flag("--update-secret", bool, "Add the key to the existing secret"),
    ), "Add an SSH key to a VM's accessCredentials.", CREDENTIALS),
    Unsupported("credentials remove-ssh-key", ("VM",), _KEY,
                "Remove an SSH key from a VM's accessCredentials.", CREDENTIALS),
    Unsupported("credentials set-password", ("VM",), (
        Flag("-u,--user", help="Name of the user."),
        Flag("--secret", help="Name of the secret with the password."),
        Flag("-p,--password", help="Password for the user"),
        Flag("--force", bool, "Update the secret even if the VM does not own it."),
    ), "Set a user's password through a VM's accessCredentials.", CREDENTIALS),
    Unsupported("template process", ("NAME?",), (
        Flag("--name", help="Name of the template"),
        Flag("-f,--file", help="Template file"),
        OUTPUT,
        Flag("-p,--param", help="NAME=VALUE", multiple=True),
        Flag("--params-file", help="File of parameters"),
        Flag("--local", bool, "Process locally"),
        Flag("--create", bool, "Create the result"),
        Flag("--print-params", bool, "Print the template's parameters"),
    ), "Process a VirtualMachineTemplate.", "VirtualMachineTemplates"),
    Unsupported("template create", (), (
        Flag("--vm-name", help="Name of the VM to make a template of"),
        Flag("--vm-namespace", help="Namespace of that VM"),
        Flag("--name", help="Name of the template"),
    ), "Create a VirtualMachineTemplate from a VM.", "VirtualMachineTemplates"),
    Unsupported("template convert", ("NAME?",), (
        Flag("--name", help="Name of the template"),
        Flag("-f,--file", help="Template file"),
        OUTPUT,
    ), "Convert an OpenShift template to a VirtualMachineTemplate.",
                "VirtualMachineTemplates"),
    Unsupported("adm log-verbosity", (), (
        *_LOG_COMPONENTS,
        Flag("--reset", bool, "Reset log verbosity to the default (2)."),
    ), "Show, set or reset the log verbosity of KubeVirt's components.",
                "virtkube's components take no log verbosity from the KubeVirt CR yet"),
)

#: Help of the verb groups made only of commands from this table.
GROUP_HELP = {
    "memory-dump": "Dump a VM's memory to a PVC, download or remove it.",
    "vmexport": "Export a VM, snapshot or volume (VirtualMachineExport).",
    "credentials": "Manage a VM's SSH keys and passwords (accessCredentials).",
    "template": "VirtualMachineTemplate tooling.",
    "adm": "Administrate KubeVirt's components.",
}


def _param(flag: Flag) -> tuple[inspect.Parameter, Any]:
    annotation: Any = (list[str] | None if flag.multiple
                       else bool if flag.kind is bool else flag.kind | None)
    default = False if flag.kind is bool else None
    option = typer.Option(default, *flag.names, help=flag.help, show_default=False)
    # Prefixed: a flag and an argument may share a name (`--name` and NAME).
    return (inspect.Parameter(f"flag_{flag.param}", inspect.Parameter.KEYWORD_ONLY,
                              default=option,
                              annotation=annotation), annotation)


def _argument(metavar: str) -> tuple[inspect.Parameter, Any]:
    optional = metavar.endswith("?")
    name = metavar.rstrip("?")
    default = typer.Argument(None if optional else ..., metavar=name, show_default=False)
    annotation: Any = str | None if optional else str
    return (inspect.Parameter(f"arg_{name.lower()}", inspect.Parameter.KEYWORD_ONLY,
                              default=default,
                              annotation=annotation), annotation)


def handler(spec: Unsupported) -> Callable[..., None]:
    """A function typer reads as a command with the spec's arguments and flags (typer reads
    `__signature__` and `__annotations__`), which answers that virtkube lacks it."""

    def answer(**_: Any) -> None:
        not_supported(spec.path, spec.topic)

    params = [_argument(a) for a in spec.args] + [_param(f) for f in spec.flags]
    answer.__signature__ = inspect.Signature([p for p, _ in params])  # type: ignore[attr-defined]
    answer.__annotations__ = {p.name: a for p, a in params}
    answer.__doc__ = spec.help
    return answer


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the table's commands: `groups` holds the verb groups other modules made already
    (e.g. `create`); the ones only this table fills are made here."""
    for spec in COMMANDS:
        *parent, name = spec.path.split()
        target = app
        if parent:
            group = parent[0]
            if group not in groups:
                groups[group] = new_app(help=GROUP_HELP.get(group, ""))
                app.add_typer(groups[group], name=group)
            target = groups[group]
        target.command(name, help=f"{spec.help} Not supported by virtkube yet.")(
            handler(spec))
