"""Kubernetes-style YAML: multi-document files and `List` objects, each document kept with where it came from, read
as Kubernetes reads them (`KubernetesLoader`)."""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Document:
    """One object from a manifest file; `where` names it for error messages (`file.yaml document 3 items[1]`)."""

    source: str
    index: int
    item: int | None
    body: Any

    @property
    def where(self) -> str:
        if self.index == 0:  # an object read from the API, not from a file: its source names it
            return self.source
        place = f"{self.source} document {self.index}"
        return place if self.item is None else f"{place} items[{self.item}]"

    @property
    def api_version(self) -> str:
        value = self.body.get("apiVersion") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else ""

    @property
    def kind(self) -> str:
        value = self.body.get("kind") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else ""


class ManifestError(ValueError):
    """A file that is not YAML at all, or cannot be read, or input without a single document; the message is one
    line and names the file (and line)."""


# What kubectl reads of a directory given to -f: these files, by name, not those of its subdirectories.
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def manifest_names(names: Iterable[str]) -> list[str]:
    """Of a directory's file names, those kubectl would read, in the order it reads them (sorted)."""
    return sorted(name for name in names if name.endswith(MANIFEST_SUFFIXES))


# ---- YAML as Kubernetes reads it ----------------------------------------------------------------------------------
#
# kubectl (and the API server, for a YAML body) turns YAML into JSON with sigs.k8s.io/yaml, which decodes with go-yaml
# v2 (go.yaml.in/yaml/v2, resolve.go) and then makes map keys strings. That is YAML 1.1 without some of it, and PyYAML's
# safe loader is YAML 1.1 in full, so the two read some unquoted (plain) scalars differently:
#   - base-60 numbers: `65000:42` (a BGP community, as MetalLB's docs write them) is the string "65000:42" to go-yaml,
#     the int 234000042 to PyYAML;
#   - timestamps: `2024-01-31` stays a string (go-yaml keeps a timestamp-looking scalar a string when decoding into
#     interface{}, which is what the JSON conversion does), a datetime.date to PyYAML;
#   - `=` is a string; PyYAML resolves it to a tag it then cannot construct;
#   - numbers are Go's: `0o17`, `0X1F`, `1e3` and `1_000` are numbers to go-yaml (strconv, underscores dropped), some
#     of them strings to PyYAML; `09` is the float 9 (not octal, not an int, yet a float by its regexp);
#   - booleans: go-yaml v2 takes y/Y/n/N as well as yes/no/on/off/true/false (3 casings each): `no` is false in a
#     cluster, so it is false here too (a Norway problem is the cluster's, and dnslb reports it as the cluster would
#     refuse it: a boolean where a string belongs);
#   - keys: a boolean or integer key becomes the JSON string "true"/"false"/"42".
# Everything else (quoted and block scalars, null, .inf/.nan, merge keys `<<`) reads the same in both.

_TAG = "tag:yaml.org,2002:"
_WORDS: dict[str, object] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
# strconv.ParseInt(s, 0, 64) and ParseUint: a base prefix, or a leading 0 for octal, or decimal
_GO_INT = re.compile(r"([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|(0[0-7]*)|([1-9][0-9]*))")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")  # resolve.go's yamlStyleFloat
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")  # what strconv.ParseFloat takes of a scalar starting with `.`


def _go_int(plain: str) -> int | None:
    match = _GO_INT.fullmatch(plain)
    if match is None:
        return None
    sign, hexadecimal, octal, binary, leading_zero, decimal = match.groups()
    if hexadecimal is not None:
        value = int(hexadecimal, 16)
    elif octal is not None:
        value = int(octal, 8)
    elif binary is not None:
        value = int(binary, 2)
    elif leading_zero is not None:
        value = int(leading_zero, 8)
    else:
        value = int(decimal)
    value = -value if sign == "-" else value
    if -(2**63) <= value < 2**63 or (not sign and 0 <= value < 2**64):
        return value
    return None  # out of int64 and uint64: go-yaml then tries it as a float


def _go_float(text: str) -> float | None:
    value = float(text)
    return value if not math.isinf(value) else None  # out of range: strconv fails, and go-yaml keeps the string


def go_yaml_scalar(text: str) -> object:
    """The value go-yaml v2 gives an unquoted scalar decoded into interface{} (resolve.go's `resolve`)."""
    if text in _WORDS:
        return _WORDS[text]
    if text.startswith("."):
        value = _go_float(text) if _DOT_FLOAT.fullmatch(text) else None
        return text if value is None else value
    if text[:1] and text[0] in "+-0123456789":
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return number
        if _GO_FLOAT.fullmatch(plain):
            value = _go_float(plain)
            if value is not None:
                return value
    return text


_TAGS = {bool: "bool", int: "int", float: "float", str: "str", type(None): "null"}
_NAMES = {bool: "true or false", int: "a whole number", float: "a number"}


def _plain_tag(text: str) -> str:
    return _TAG + ("merge" if text == "<<" else _TAGS[type(go_yaml_scalar(text))])


class KubernetesLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading plain scalars and keys as kubectl does (see above); quoted scalars are strings."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _plain_tag(value)
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """As PyYAML's, with a boolean or integer key made the string JSON has (as each key is read: 1 and true
        are one key to Python)."""
        self.flatten_mapping(node)
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            key = _json_key(self.construct_object(key_node, deep=deep))
            if not isinstance(key, Hashable):
                problem = "found a list or mapping as a key"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def _json_key(key: object) -> object:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key) if isinstance(key, int) else key  # a float key stays a float (sigs.k8s.io/yaml writes Go's %g)


def _construct_scalar(wanted: type) -> Any:
    """A constructor for an explicit or resolved bool, int or float tag: the value as go-yaml reads it."""

    def construct(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
        text = loader.construct_scalar(node)
        value = go_yaml_scalar(text) if isinstance(text, str) else text
        if wanted is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # `!!float 1`, as go-yaml
        if type(value) is not wanted:
            problem = f"{text!r} is not {_NAMES[wanted]} (tag !!{_TAGS[wanted]})"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)
        return value

    return construct


for _kind in (bool, int, float):
    KubernetesLoader.add_constructor(_TAG + _TAGS[_kind], _construct_scalar(_kind))


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    """An explicit !!timestamp: the string as written, as go-yaml decodes it into interface{}."""
    return loader.construct_scalar(node)


KubernetesLoader.add_constructor(_TAG + "timestamp", _timestamp)


class KubernetesDumper(yaml.SafeDumper):
    """PyYAML's safe dumper quoting every string that kubectl (go-yaml) or a YAML 1.1 reader would take for something
    else: `y`, `0o17` and `1e3` as well as `yes` and `65000:42`."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        if kind is yaml.ScalarNode and implicit[0] and tag == _TAG + "str":
            return _plain_tag(value)
        return tag


def dump_documents(bodies: Iterable[Any]) -> str:
    """A YAML stream of these objects (each document starting `---`), read back alike by kubectl and by PyYAML."""
    return yaml.dump_all(bodies, Dumper=KubernetesDumper, sort_keys=False, explicit_start=True, allow_unicode=False)


def read_documents(source: str, text: str) -> list[Document]:
    """Split a YAML stream into objects, expanding `kind: List` (and `*List`) into their items; skip empty documents.
    The YAML is read as Kubernetes reads it (`KubernetesLoader`)."""
    try:
        bodies = list(yaml.load_all(text, Loader=KubernetesLoader))  # a safe loader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(f"{source}{line}: not valid YAML: {problem}") from None
    return list(_expand(source, bodies))


def _expand(source: str, bodies: list[Any]) -> Iterator[Document]:
    for index, body in enumerate(bodies, start=1):
        if body is None:
            continue
        kind = body.get("kind") if isinstance(body, dict) else None
        if isinstance(kind, str) and kind.endswith("List") and isinstance(body.get("items"), list):
            for item, element in enumerate(body["items"]):
                yield Document(source, index, item, element)
        else:
            yield Document(source, index, None, body)
