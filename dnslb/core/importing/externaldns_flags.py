"""An external-dns Deployment's flags as external-dns reads them: its container's args (`$(VAR)` expanded) and
`EXTERNAL_DNS_*` variables, each value with where it is now (a Secret's, when this cannot see it)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dnslb.core.importing.fields import Collector, Source
from dnslb.core.importing.results import Body, Note


@dataclass(frozen=True)
class Value:
    """A flag's or a variable's value; `text` None when it is kept where this cannot read it (a Secret)."""

    text: str | None
    origin: str  # where it is now, for a note: "the Deployment's args", "Secret external-dns/keys key tsig"


@dataclass(frozen=True)
class ExternalDNS:
    source: Source
    name: str  # the DNSProvider's
    flags: Mapping[str, tuple[Value, ...]]
    env: Mapping[str, Value]
    sidecars: tuple[str, ...]  # the pod's other containers (a webhook provider's server)
    namespace: str  # dnslb's

    def values(self, flag: str) -> list[str]:
        """The visible values of a repeatable flag, comma-separated lists split."""
        texts = [v.text for v in self.flags.get(flag, ()) if v.text is not None]
        return [part.strip() for text in texts for part in text.split(",") if part.strip()]

    def value(self, flag: str) -> Value | None:
        found = self.flags.get(flag, ())
        return found[-1] if found else None

    def text(self, flag: str) -> str:
        found = self.value(flag)
        return (found.text or "") if found is not None else ""

    def on(self, flag: str) -> bool:
        """A boolean flag set true, as kingpin reads it (Go's strconv.ParseBool)."""
        return self.text(flag) in _TRUE

    def note(self, message: str) -> Note:
        return self.source.note(message)


def external_dns_container(body: Body) -> Body | None:
    """The container running external-dns's controller: the one whose image is external-dns
    (`registry.k8s.io/external-dns/external-dns:v0.15.1`), else one given both flags external-dns requires, --source
    and --provider. A webhook provider's sidecar is neither (`ghcr.io/.../external-dns-unifi-webhook`), wherever the
    pod lists it, and an external-dns run with --webhook-server serves a provider to another external-dns."""
    spec = body.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    pod = template.get("spec") if isinstance(template, dict) else None
    listed = pod.get("containers") if isinstance(pod, dict) else None
    containers = [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
    controllers = [c for c in containers if not _webhook_server(c)]
    by_image = [c for c in controllers if _image_name(c.get("image")) == "external-dns"]
    by_flags = [c for c in controllers if _given(c, "source") and _given(c, "provider")]
    found = by_image or by_flags
    return found[0] if found else None


def _image_name(image: object) -> str:
    """`registry:5000/org/name:tag@sha256:...` → name."""
    if not isinstance(image, str):
        return ""
    return image.partition("@")[0].rpartition("/")[2].partition(":")[0]


_TRUE = ("1", "t", "T", "true", "TRUE", "True")  # Go's strconv.ParseBool, as kingpin reads a boolean flag


def _webhook_server(container: Body) -> bool:
    tokens = _tokens(container)
    if any(t == "--webhook-server" or (t.startswith("--webhook-server=") and t[17:] in _TRUE) for t in tokens):
        return True
    env = [e for e in container.get("env") or [] if isinstance(e, dict)]
    return any(e.get("name") == "EXTERNAL_DNS_WEBHOOK_SERVER" and str(e.get("value")) in _TRUE for e in env)


def _given(container: Body, flag: str) -> bool:
    """The flag is on the container's command line, or in its environment as EXTERNAL_DNS_<FLAG>."""
    if any(t == f"--{flag}" or t.startswith(f"--{flag}=") for t in _tokens(container)):
        return True
    variable = _ENV_PREFIX + flag.upper().replace("-", "_")
    return any(isinstance(e, dict) and e.get("name") == variable for e in container.get("env") or [])


def _tokens(container: Body) -> list[str]:
    parts = [*(container.get("command") or []), *(container.get("args") or [])]
    return [str(p) for p in parts if isinstance(p, str | int | float)]


_ENV_PREFIX = "EXTERNAL_DNS_"
_VARIABLE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def read_instance(source: Source, body: Body, name: str, out: Collector) -> ExternalDNS:
    container = external_dns_container(body)
    assert container is not None  # chosen for having one
    env = _env(source, container, out)
    flags: dict[str, list[Value]] = {}
    for flag, value in _args(_tokens(container), env):
        flags.setdefault(flag, []).append(value)
    for variable, value in env.items():
        flag = variable.removeprefix(_ENV_PREFIX).lower().replace("_", "-")
        if variable.startswith(_ENV_PREFIX) and flag not in flags:
            texts = value.text.split("\n") if value.text is not None else [None]
            flags[flag] = [Value(text, value.origin) for text in texts]
    pod = body["spec"]["template"]["spec"]
    sidecars = tuple(
        str(c.get("name")) for c in pod.get("containers") or [] if isinstance(c, dict) and c is not container
    )
    return ExternalDNS(source, name, {k: tuple(v) for k, v in flags.items()}, env, sidecars, out.namespace)


def _env(source: Source, container: Body, out: Collector) -> dict[str, Value]:
    env: dict[str, Value] = {}
    for item in container.get("env") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise source.invalid("spec.template.spec.containers[].env", "expected entries with a name")
        env[item["name"]] = _env_value(source, item)
    for item in container.get("envFrom") or []:
        if isinstance(item, dict):
            ref = item.get("secretRef") or item.get("configMapRef") or {}
            kind = "Secret" if "secretRef" in item else "ConfigMap"
            message = f"envFrom {kind} {ref.get('name')}: the flags it sets are not seen here; carry them over by hand"
            out.notes.append(source.note(message))
    return env


def _env_value(source: Source, item: Body) -> Value:
    name = item["name"]
    if "value" in item:
        return Value(str(item["value"]), f"the Deployment's env {name}")
    value_from = item.get("valueFrom") or {}
    for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
        ref = value_from.get(key)
        if isinstance(ref, dict):
            return Value(None, f"{kind} {source.namespace}/{ref.get('name')} key {ref.get('key')}")
    return Value(None, f"the Deployment's env {name}, set from the pod")


def _args(tokens: Sequence[str], env: Mapping[str, Value]) -> list[tuple[str, Value]]:
    """(flag, value) for each `--flag=value`, `--flag value`, `--flag` (true) and `--no-flag` (false)."""
    found = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("--"):
            continue
        flag, equals, text = token[2:].partition("=")
        if not equals:
            if index < len(tokens) and not tokens[index].startswith("-"):  # external-dns takes no positional args
                text, index = tokens[index], index + 1
            elif flag.startswith("no-"):
                flag, text = flag[3:], "false"
            else:
                text = "true"
        found.append((flag, _expand(text, env)))
    return found


def _expand(text: str, env: Mapping[str, Value]) -> Value:
    """The value Kubernetes passes for an argument: `$(VAR)` replaced by the container's variable."""
    for match in _VARIABLE.finditer(text):
        variable = env.get(match.group(1))
        if variable is not None and variable.text is None:
            return variable
    expanded = _VARIABLE.sub(lambda m: (env[m.group(1)].text or "") if m.group(1) in env else m.group(0), text)
    return Value(expanded, "the Deployment's args")
