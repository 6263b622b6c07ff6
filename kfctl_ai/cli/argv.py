"""Move global options typed after the subcommand to the front, as kubectl users expect.

`kfai jobs -n team-a` and `kfai -n team-a jobs` mean the same. Click only accepts group
options before the subcommand, so the argument list is rewritten once before parsing.
The typed command line and a planned step's argv both go through this function.
"""

from __future__ import annotations

# Options of the root command that take a value, and those that are flags.
VALUE_OPTIONS = {"--kubeconfig", "--context", "-n", "--namespace", "-o", "--output", "--persona"}
FLAG_OPTIONS = {"-y", "--yes", "--no-input", "--debug"}


def _split_attached(token: str) -> tuple[str, str | None]:
    """Split `--output=json` and `-ojson` into the option and its value."""
    if token.startswith("--") and "=" in token:
        name, value = token.split("=", 1)
        return name, value
    if len(token) > 2 and token[:2] in {"-n", "-o"} and not token.startswith("--"):
        return token[:2], token[2:]
    return token, None


def hoist_global_options(args: list[str]) -> list[str]:
    """Return `args` with every global option moved before the first subcommand word."""
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            rest.extend(args[index:])
            break
        name, attached = _split_attached(token)
        if name in VALUE_OPTIONS:
            if attached is not None:
                hoisted += [name, attached]
            elif index + 1 < len(args):
                hoisted += [name, args[index + 1]]
                index += 1
            else:
                # Leave a dangling option where it is so the parser reports it.
                rest.append(token)
        elif token in FLAG_OPTIONS:
            hoisted.append(token)
        else:
            rest.append(token)
        index += 1
    return hoisted + rest
