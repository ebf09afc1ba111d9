"""spec.accessCredentials: KubeVirt's validateAccessCredentials.

One credential kind, one source and one propagation method each; a Secret name that is a
DNS-1123 subdomain (it becomes a folder of the launcher pod); and a propagation through
cloud-init needs that cloud-init volume: the keys ride in its meta-data.
"""

from __future__ import annotations

from virtkube.api.names import is_dns_subdomain
from virtkube.apiserver.causes import Cause
from virtkube.apiserver.checks.names import Obj, items

_VOLUME_OF = {"noCloud": "cloudInitNoCloud", "configDrive": "cloudInitConfigDrive"}


def _one_of(obj: Obj, keys: tuple[str, ...], path: str) -> list[Cause]:
    given = [k for k in keys if obj.get(k) is not None]
    if len(given) == 1:
        return []
    return [Cause(path, f"must have exactly one of {', '.join(keys)}",
                  "FieldValueRequired" if not given else "FieldValueInvalid")]


def _credential(cred: Obj, path: str, volumes: set[str]) -> list[Cause]:
    causes = _one_of(cred, ("sshPublicKey", "userPassword"), path)
    for kind in ("sshPublicKey", "userPassword"):
        body = cred.get(kind)
        if not isinstance(body, dict):
            continue
        where = f"{path}.{kind}"
        given = body.get("source")
        source: Obj = given if isinstance(given, dict) else {}
        causes += _one_of(source, ("secret",), f"{where}.source")
        secret = source.get("secret")
        name = secret.get("secretName") if isinstance(secret, dict) else None
        if isinstance(secret, dict):
            field = f"{where}.source.secret.secretName"
            if not name:
                causes.append(Cause(field, "must not be empty", "FieldValueRequired"))
            elif not is_dns_subdomain(str(name)):
                causes.append(Cause(field, f"{name!r} must be a DNS-1123 subdomain"))
        method_given = body.get("propagationMethod")
        how: Obj = method_given if isinstance(method_given, dict) else {}
        methods = (("configDrive", "noCloud", "qemuGuestAgent") if kind == "sshPublicKey"
                   else ("qemuGuestAgent",))
        causes += _one_of(how, methods, f"{where}.propagationMethod")
        for method, volume in _VOLUME_OF.items():
            if method in how and volume not in volumes:
                causes.append(Cause(f"{where}.propagationMethod.{method}",
                                    f"{path} requires a {volume} volume to exist when the "
                                    f"{method} propagationMethod is in use"))
    return causes


def check(spec: Obj, base: str = "spec") -> list[Cause]:
    volumes = {key for v in items(spec, "volumes") for key in v}
    causes: list[Cause] = []
    for i, cred in enumerate(items(spec, "accessCredentials")):
        causes += _credential(cred, f"{base}.accessCredentials[{i}]", volumes)
    return causes
