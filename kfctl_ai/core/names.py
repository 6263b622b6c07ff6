"""Validate the names kfai puts into API paths, label selectors and local file paths.

An empty name would turn `.../trainjobs/NAME` into the collection path, where a DELETE
can mean deletecollection. A name with '/' or ',' would change the path or the label
selector, and `../x` would leave the local jobs folder. So kfai rejects every name that
the API server would not accept for that kind of object, before any request is sent.

Messages quote a value with `repr`, which escapes control characters and the lone
surrogates that Python makes of bytes that are not UTF-8 (`$'\\xff'` on the command
line), so the message always encodes as UTF-8.
"""

from __future__ import annotations

import re
from typing import TypeGuard

from kfctl_ai.core.errors import UsageError

MAX_LABEL_LENGTH = 63

# RFC 1123 label, as Kubernetes checks namespace names (`validation.IsDNS1123Label`).
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# RFC 1035 label. The TrainJob CRD of Kubeflow Trainer (kubeflow/trainer,
# pkg/apis/trainer/v1alpha1/trainjob_types.go) requires it for metadata.name with two
# CEL rules: `^[a-z]([-a-z0-9]*[a-z0-9])?$` and a size of at most 63.
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")

_JOB_NAME_RULE = (
    f"it must be 1 to {MAX_LABEL_LENGTH} lower-case letters, digits or '-', "
    "starting with a letter and ending with a letter or digit (an RFC 1035 DNS label)"
)
_NAMESPACE_RULE = (
    f"it must be 1 to {MAX_LABEL_LENGTH} lower-case letters, digits or '-', "
    "starting and ending with a letter or digit (an RFC 1123 DNS label)"
)


def _is_label(value: object, pattern: re.Pattern[str]) -> TypeGuard[str]:
    # `fullmatch`, because `$` in a `match` pattern also accepts a trailing newline.
    return isinstance(value, str) and len(value) <= MAX_LABEL_LENGTH and pattern.fullmatch(value) is not None


def is_trainjob_name(name: object) -> TypeGuard[str]:
    """Return whether the Trainer's TrainJob CRD accepts `name` as metadata.name."""
    return _is_label(name, _DNS1035_LABEL)


def validate_trainjob_name(name: object, hint: str | None = None) -> str:
    """Return `name` if it is a valid TrainJob name; raise `UsageError` otherwise."""
    if not is_trainjob_name(name):
        raise UsageError(
            f"invalid TrainJob name {name!r}: {_JOB_NAME_RULE}",
            hint=hint or "list the TrainJobs of the namespace with `kfai jobs`",
        )
    return name


def validate_local_job_name(name: object, hint: str | None = None) -> str:
    """Return `name` if it can name a local job folder; raise `UsageError` otherwise.

    Local jobs follow the TrainJob rule, so a name that runs locally also works on the
    cluster, and the rule leaves no room for '/', '.' or '..' in the folder name.
    """
    if not is_trainjob_name(name):
        raise UsageError(
            f"invalid local job name {name!r}: {_JOB_NAME_RULE}",
            hint=hint or "list local jobs with `kfai jobs --local`",
        )
    return name


def validate_namespace(namespace: object, source: str | None = None, hint: str | None = None) -> str:
    """Return `namespace` if it is a valid namespace name; raise `UsageError` otherwise.

    `source` names where the value came from, for example "from KFAI_NAMESPACE".
    """
    if not _is_label(namespace, _DNS1123_LABEL):
        where = f" {source}" if source else ""
        raise UsageError(
            f"invalid namespace {namespace!r}{where}: {_NAMESPACE_RULE}",
            hint=hint or "pass an existing namespace, for example `-n team-a` (`kubectl get namespaces` lists them)",
        )
    return namespace
