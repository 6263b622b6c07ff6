"""Generate docs/reference.md and the shell completion scripts from kfai's command tree.

    python scripts/generate_docs.py           # rewrite the generated files
    python scripts/generate_docs.py --check   # exit 1 and name the stale files

The reference lists kfai's own commands only: `build_root` sets KFAI_PLUGINS=none while
it builds the tree, so plugins installed on a developer's machine stay out of the page. The
completion scripts are Typer's (the ones `--show-completion` prints). They hold no
command names, because each TAB runs `kfai` again to ask for candidates, so they only go
stale when the program name, the completion variable or Typer's templates change.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PATH = Path("docs/reference.md")
COMPLETION_PATHS = {
    "bash": Path("completions/kfai.bash"),
    "zsh": Path("completions/_kfai"),
    "fish": Path("completions/kfai.fish"),
}
GENERATOR_COMMAND = "python scripts/generate_docs.py"
EXAMPLE_PATTERN = re.compile(r"Example:\s*(.+?)\s*$", re.DOTALL)


def build_root() -> Any:
    """Build the click command tree of kfai with no plugins loaded."""
    import typer

    from kfctl_ai.cli.app import create_app

    saved = os.environ.get("KFAI_PLUGINS")
    os.environ["KFAI_PLUGINS"] = "none"
    try:
        return typer.main.get_command(create_app())
    finally:
        if saved is None:
            del os.environ["KFAI_PLUGINS"]
        else:
            os.environ["KFAI_PLUGINS"] = saved


# --- reference ---------------------------------------------------------------------


def split_help(text: str | None) -> tuple[str, str | None]:
    """Split a command's help into its description and the command line after `Example:`."""
    text = (text or "").strip()
    match = EXAMPLE_PATTERN.search(text)
    if match is None:
        return text, None
    description = text[: match.start()].strip()
    example = " ".join(match.group(1).split())
    return description, example


def _cell(text: object) -> str:
    """Format a value for a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _type_label(described: dict[str, Any]) -> str:
    if described["type"] == "array":
        return f"{_type_label(described['items'])}, repeatable"
    if "enum" in described:
        return " \\| ".join(f"`{choice}`" for choice in described["enum"])
    return described["type"]


def _default_label(param: Any, described: dict[str, Any]) -> str:
    if param.required:
        return "required"
    if "default" not in described:
        return ""
    default = described["default"]
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def _option_spelling(param: Any) -> str:
    spellings = [*param.opts, *getattr(param, "secondary_opts", [])]
    return ", ".join(f"`{spelling}`" for spelling in spellings)


def _options_table(params: list[Any]) -> list[str]:
    from kfctl_ai.cli.schema import describe_param

    lines = ["| option | type | default | description |", "|---|---|---|---|"]
    for param in params:
        described = describe_param(param)
        lines.append(
            f"| {_option_spelling(param)} | {_type_label(described)} | {_default_label(param, described)} "
            f"| {_cell(described['help'])} |"
        )
    return lines


def _arguments_table(params: list[Any]) -> list[str]:
    from kfctl_ai.cli.schema import describe_param

    lines = ["| argument | type | required | description |", "|---|---|---|---|"]
    for param in params:
        described = describe_param(param)
        required = "yes" if param.required else "no"
        lines.append(f"| `{_metavar(param)}` | {_type_label(described)} | {required} | {_cell(described['help'])} |")
    return lines


def _metavar(param: Any) -> str:
    return param.metavar or param.name.upper()


def _anchor(path: str) -> str:
    """GitHub's heading anchor for `kfai <path>`."""
    return re.sub(r"[^a-z0-9 -]", "", f"kfai {path}".lower()).replace(" ", "-")


def _usage(info: Any) -> str:
    pieces = [f"kfai {info.path}"]
    if any(p.param_type_name == "option" for p in info.params):
        pieces.append("[OPTIONS]")
    pieces += [_metavar(p) for p in info.params if p.param_type_name == "argument"]
    return " ".join(pieces)


def _command_section(info: Any, subcommands: list[str]) -> list[str]:
    description, example = split_help(info.command.help)
    lines = [f"## kfai {info.path}", "", f"Risk: `{info.risk}`", "", description, "", "```", _usage(info), "```", ""]
    if subcommands:
        links = ", ".join(f"[`kfai {path}`](#{_anchor(path)})" for path in subcommands)
        lines += [f"Subcommands: {links}.", ""]
    if example:
        lines += ["Example:", "", "```console", f"$ {example}", "```", ""]
    arguments = [p for p in info.params if p.param_type_name == "argument"]
    options = [p for p in info.params if p.param_type_name == "option"]
    if arguments:
        lines += _arguments_table(arguments) + [""]
    if options:
        lines += _options_table(options) + [""]
    return lines


def render_reference(root: Any) -> str:
    """Render the command reference in Markdown from the click command tree."""
    from kfctl_ai.cli.tree import HIDDEN_IN_PLANS, walk

    commands = walk(root)
    description, example = split_help(root.help)
    global_options = [p for p in root.params if p.name not in HIDDEN_IN_PLANS]
    lines = [
        "# kfai command reference",
        "",
        f"Generated from the command tree by `{GENERATOR_COMMAND}`; edit the commands' help, not this page.",
        "It lists kfai's own commands: plugins add their own, and `kfai commands -o json` lists",
        "everything installed, in the same terms.",
        "",
        description,
        "",
        "Risk says what a command may do: `read` changes nothing, `write` creates resources and",
        "`delete` removes them (both preview first and need approval), `plan` is `ask`, whose",
        "steps carry their own risk, and `local` only changes kfai's own config file.",
        "",
        "## Global options",
        "",
        _cell(root.epilog or ""),
        "",
        *_options_table(global_options),
        "",
        "## Commands",
        "",
    ]
    for info in commands:
        summary = split_help(info.command.help)[0].split("\n\n")[0]
        lines.append(f"- [`kfai {info.path}`](#{_anchor(info.path)}) ({info.risk}): {_cell(summary)}")
    lines.append("")
    for info in commands:
        subcommands = [other.path for other in commands if other.path.startswith(info.path + " ")]
        lines += _command_section(info, subcommands)
    return "\n".join(lines).rstrip("\n") + "\n"


# --- completion scripts --------------------------------------------------------------


def completion_variable(prog_name: str) -> str:
    """Return the environment variable that the scripts set to request candidates, as click names it."""
    return "_{}_COMPLETE".format(prog_name.replace("-", "_").upper())


def render_completion(shell: str, prog_name: str = "kfai") -> str:
    """Return Typer's completion script for `shell` with a header that names its source."""
    from typer.completion import get_completion_script

    script = get_completion_script(prog_name=prog_name, complete_var=completion_variable(prog_name), shell=shell)
    header = f"# {shell} completion for {prog_name}. Generated by `{GENERATOR_COMMAND}`; do not edit."
    if shell == "zsh":
        # zsh reads `#compdef` only from the first line of a file in $fpath.
        first, _, rest = script.partition("\n")
        return f"{first}\n{header}\n{rest}\n"
    return f"{header}\n{script}\n"


# --- files ----------------------------------------------------------------------------


def generated_files() -> dict[Path, str]:
    """Render every generated file, keyed by its path relative to the repository root."""
    root = build_root()
    files = {REFERENCE_PATH: render_reference(root)}
    for shell, path in COMPLETION_PATHS.items():
        files[path] = render_completion(shell, root.name or "kfai")
    return files


def stale_files(base: Path = REPO_ROOT) -> list[Path]:
    """Return the generated files under `base` whose content differs from a fresh generation."""
    stale = []
    for path, content in generated_files().items():
        target = base / path
        if not target.exists() or target.read_text(encoding="utf-8") != content:
            stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate kfai's command reference and completion scripts.")
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 when there are any")
    args = parser.parse_args(argv)

    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"stale: {path} (run `{GENERATOR_COMMAND}`)", file=sys.stderr)
        return 1 if stale else 0

    for path, content in generated_files().items():
        target = REPO_ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
