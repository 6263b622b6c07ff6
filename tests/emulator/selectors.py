"""Label and field selectors with the syntax of the Kubernetes API server.

Label selectors accept `k=v`, `k==v`, `k!=v`, `k in (a, b)`, `k notin (a, b)`, `k` and `!k`,
joined by commas; commas inside parentheses belong to the value set. Field selectors accept
`path=v`, `path==v` and `path!=v` joined by commas, where `path` is a dotted path into the
object (`status.phase`, `metadata.name`, `involvedObject.uid`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_LABEL_KEY = re.compile(r"^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$")
_SET_REQUIREMENT = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")


class SelectorError(ValueError):
    """A selector string that does not parse."""


@dataclass(frozen=True)
class Requirement:
    """One label requirement: `operator` is one of `=`, `!=`, `in`, `notin`, `exists`, `!`."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "!":
            return self.key not in labels
        if self.operator in ("=", "in"):
            return self.key in labels and labels[self.key] in self.values
        # `!=` and `notin` also match objects that lack the label, as in Kubernetes.
        return labels.get(self.key) not in self.values


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced parentheses in selector {text!r}")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise SelectorError(f"unbalanced parentheses in selector {text!r}")
    parts.append("".join(current))
    return parts


def _check_key(key: str, selector: str) -> str:
    if not _LABEL_KEY.match(key):
        raise SelectorError(f"unable to parse requirement: invalid label key {key!r} in {selector!r}")
    return key


def _parse_requirement(part: str, selector: str) -> Requirement:
    text = part.strip()
    set_match = _SET_REQUIREMENT.match(text)
    if set_match:
        values = tuple(value.strip() for value in set_match["values"].split(",") if value.strip())
        return Requirement(_check_key(set_match["key"], selector), set_match["op"], values)
    for operator in ("!=", "==", "="):
        if operator in text:
            key, _, value = text.partition(operator)
            canonical = "=" if operator == "==" else operator
            return Requirement(_check_key(key.strip(), selector), canonical, (value.strip(),))
    if text.startswith("!"):
        return Requirement(_check_key(text[1:].strip(), selector), "!")
    return Requirement(_check_key(text, selector), "exists")


def parse_label_selector(selector: str | None) -> list[Requirement]:
    """Parse a label selector. An empty or missing selector matches everything."""
    if not selector or not selector.strip():
        return []
    return [_parse_requirement(part, selector) for part in _split_top_level(selector)]


def labels_match(requirements: list[Requirement], labels: dict[str, str] | None) -> bool:
    actual = labels or {}
    return all(requirement.matches(actual) for requirement in requirements)


def _lookup_path(obj: dict, path: str) -> str | None:
    value: object = obj
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if value is None:
        return None
    return str(value)


def parse_field_selector(selector: str | None) -> Callable[[dict], bool]:
    """Parse a field selector into a predicate over a whole object.

    A path that is missing in an object compares as the empty string, which is what the API
    server does for fields such as an unset `spec.nodeName`.
    """
    if not selector or not selector.strip():
        return lambda obj: True

    checks: list[tuple[str, bool, str]] = []
    for part in selector.split(","):
        text = part.strip()
        for operator in ("!=", "==", "="):
            if operator in text:
                path, _, value = text.partition(operator)
                checks.append((path.strip(), operator == "!=", value.strip()))
                break
        else:
            raise SelectorError(f"invalid field selector {selector!r}: {text!r} has no operator")

    def predicate(obj: dict) -> bool:
        for path, negated, value in checks:
            actual = _lookup_path(obj, path) or ""
            if (actual == value) == negated:
                return False
        return True

    return predicate


def equality_value(requirements: list[Requirement], key: str) -> str | None:
    """Return the value that `key` must equal, when a requirement pins it to one value."""
    for requirement in requirements:
        if requirement.key == key and requirement.operator in ("=", "in") and len(requirement.values) == 1:
            return requirement.values[0]
    return None
