"""Personas: what each kind of user may run, enforced where commands execute.

`readonly` < `data-scientist` < `ml-engineer` < `platform-admin`. A persona only narrows
what the cluster's RBAC already allows; it never grants anything.
"""

from __future__ import annotations

from kfctl_ai.core.errors import ForbiddenError

PERSONAS = ("readonly", "data-scientist", "ml-engineer", "platform-admin")
RISKS = ("read", "write", "delete")

_ALLOWED_RISKS = {
    "readonly": {"read"},
    "data-scientist": {"read", "write", "delete"},
    "ml-engineer": {"read", "write", "delete"},
    "platform-admin": {"read", "write", "delete"},
}


def rank(persona: str) -> int:
    return PERSONAS.index(persona)


def check_command(persona: str, command: str, risk: str) -> None:
    """Reject a command whose risk the persona does not allow."""
    if risk in {"plan", "local"}:
        return
    if risk not in _ALLOWED_RISKS[persona]:
        raise ForbiddenError(
            f"persona '{persona}' may not run `kfai {command}` (a {risk} command)",
            hint="run it with a persona that allows it (--persona data-scientist or higher), "
            "if your platform team grants you one",
            persona=persona,
            command=command,
        )


def check_delete_job(persona: str, job: str, managed_by_kfai: bool) -> None:
    """Below platform-admin, only jobs that kfai created may be deleted.

    This is stricter than "ml-engineer deletes any job": a job that another tool or team
    submitted is deleted only by the persona that runs the platform.
    """
    if not managed_by_kfai and rank(persona) < rank("platform-admin"):
        raise ForbiddenError(
            f"persona '{persona}' may not delete TrainJob '{job}': kfai did not create it "
            "(no app.kubernetes.io/managed-by=kfai label)",
            hint="ask its owner or a platform admin to delete it",
            persona=persona,
            command="jobs delete",
        )


def check_custom_image(persona: str, image: str) -> None:
    """Custom images need ml-engineer or higher."""
    if rank(persona) < rank("ml-engineer"):
        raise ForbiddenError(
            f"persona '{persona}' may not run the custom image '{image}'",
            hint="use a runtime's own image, or --persona ml-engineer if you are allowed to",
            persona=persona,
            command="train",
        )
