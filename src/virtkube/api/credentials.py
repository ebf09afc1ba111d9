"""spec.accessCredentials: SSH keys and passwords injected into the guest.

Each credential names a Secret and how it reaches the guest: through
cloud-init (NoCloud or ConfigDrive metadata) or at runtime through the QEMU
guest agent.
"""

from __future__ import annotations

from virtkube.api.base import Empty, KubeVirtModel


class AccessCredentialSecretSource(KubeVirtModel):
    secret_name: str
    """The Secret in the VMI's namespace."""


class CredentialSource(KubeVirtModel):
    """Where the credentials are read from. Only one member may be set."""

    secret: AccessCredentialSecretSource | None = None


class QemuGuestAgentSSHPublicKeyPropagation(KubeVirtModel):
    users: list[str]
    """Guest users whose authorized_keys get the public keys."""


class SSHPublicKeyPropagationMethod(KubeVirtModel):
    """How the keys are injected. Only one member may be set."""

    config_drive: Empty | None = None
    no_cloud: Empty | None = None
    qemu_guest_agent: QemuGuestAgentSSHPublicKeyPropagation | None = None


class SSHPublicKeyAccessCredential(KubeVirtModel):
    source: CredentialSource
    propagation_method: SSHPublicKeyPropagationMethod


class UserPasswordPropagationMethod(KubeVirtModel):
    qemu_guest_agent: Empty | None = None


class UserPasswordAccessCredential(KubeVirtModel):
    source: CredentialSource
    propagation_method: UserPasswordPropagationMethod


class AccessCredential(KubeVirtModel):
    """One credential to put into the guest. Only one member may be set."""

    ssh_public_key: SSHPublicKeyAccessCredential | None = None
    user_password: UserPasswordAccessCredential | None = None
