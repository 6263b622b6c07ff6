"""Training scripts as kfai ships them: read and inspect a script without importing it,
and build the function that the SDK's CustomTrainer sends to the cluster.

The SDK ships a function, not a file: it copies `inspect.getsource(func)` into the
container and calls `func(**func_args)`. For a whole script kfai generates a small
function whose body contains the script's text, writes it to a file next to itself and
runs it with `runpy` under `sys.argv` built from `--arg`, so the script runs unchanged.
For `--func NAME` it ships that one function, as the SDK would.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import linecache
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfctl_ai.core.errors import UsageError

# Frameworks a script can import, most specific first: a DeepSpeed script imports torch too.
FRAMEWORK_ORDER = ("deepspeed", "mlx", "jax", "xgboost", "torch")
_ARG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- the script --------------------------------------------------------------------


@dataclass
class Script:
    """A training script read from disk and parsed, never imported."""

    path: Path
    typed_path: str  # the path as the user typed it, for messages and the equivalent command
    text: str
    tree: ast.Module = field(repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def stem(self) -> str:
        return self.path.stem

    def functions(self) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
        """Top-level functions by name; nested ones cannot be shipped on their own."""
        return {
            node.name: node
            for node in self.tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }

    def function_source(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
        """Return a top-level function's source with its decorators, as `inspect.getsource` would."""
        first = min([d.lineno for d in node.decorator_list] + [node.lineno])
        lines = self.text.splitlines(keepends=True)
        return "".join(lines[first - 1 : node.end_lineno])


def load_script(given: str) -> Script:
    """Read and parse a script. An empty path, a missing file or a syntax error is a usage error (exit 2)."""
    if not given.strip():
        # Path("") is the current directory, so without this check an empty path is reported as a directory.
        raise UsageError("empty SCRIPT path", hint="pass the path of a Python training script, for example examples/train_regression.py")
    path = Path(given).expanduser()
    if not path.exists():
        raise UsageError(f"script not found: {given}", hint="check the path; it is relative to the current directory")
    if path.is_dir():
        raise UsageError(f"script {given} is a directory, not a file", hint="pass the path of the Python file to run inside it")
    if not path.is_file():
        raise UsageError(f"script {given} is not a regular file", hint="pass the path of a Python file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read script {given}: {exc}") from exc
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        where = f"{given}:{exc.lineno}" + (f":{exc.offset}" if exc.offset else "")
        raise UsageError(
            f"syntax error in {where}: {exc.msg}",
            hint="fix the script; `python -m py_compile SCRIPT` shows the same error",
        ) from exc
    return Script(path=path.resolve(), typed_path=given, text=text, tree=tree)


def imported_frameworks(node: ast.AST) -> set[str]:
    """Return the known frameworks that `node` imports anywhere, including inside functions."""
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Import):
            names = [alias.name for alias in child.names]
        elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
            names = [child.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in FRAMEWORK_ORDER)
    return found


def sibling_imports(script: Script) -> list[str]:
    """Return the modules the script imports from its own folder, which the SDK does not ship."""
    names: set[str] = set()
    for node in ast.walk(script.tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    folder = script.path.parent
    return sorted(
        name for name in names
        if (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()
    )


def primary_framework(frameworks: set[str]) -> str | None:
    return next((name for name in FRAMEWORK_ORDER if name in frameworks), None)


# --- --arg and --env ----------------------------------------------------------------


def parse_pairs(values: list[str] | None, option: str) -> list[tuple[str, str]]:
    """Split each `KEY=VALUE` of a repeated option, in order; reject a value without `=`."""
    pairs = []
    pattern = _ENV_KEY if option == "--env" else _ARG_KEY
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not pattern.match(key):
            example = "--env WANDB_MODE=offline" if option == "--env" else "--arg lr=0.001"
            raise UsageError(f"invalid {option} '{value}': expected KEY=VALUE", hint=f"for example {example}")
        pairs.append((key, rest))
    return pairs


def script_argv(pairs: list[tuple[str, str]]) -> list[str]:
    """Turn `--arg` pairs into a command line: `steps=300` is `--steps 300`, `verbose=` is `--verbose`."""
    argv: list[str] = []
    for key, value in pairs:
        argv.append(f"--{key}")
        if value != "":
            argv.append(value)
    return argv


def function_kwargs(pairs: list[tuple[str, str]], function: str) -> dict[str, Any]:
    """Turn `--arg` pairs into keyword arguments; values are Python literals when they parse as one."""
    kwargs: dict[str, Any] = {}
    for key, raw in pairs:
        if not key.isidentifier():
            raise UsageError(f"invalid --arg '{key}={raw}': '{key}' is not a Python parameter name of {function}()")
        if key in kwargs:
            raise UsageError(f"--arg {key} is given twice", hint=f"pass each argument of {function}() once")
        try:
            kwargs[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            kwargs[key] = raw
    return kwargs


# --- what the container runs --------------------------------------------------------


@dataclass
class EntryPoint:
    """The function that `CustomTrainer` ships, and how the SDK will call it."""

    function: Callable[..., Any]
    kwargs: dict[str, Any] | None
    source: str
    file_name: str  # the file the SDK writes the function to in the container
    outside_names: list[str] = field(default_factory=list)  # --func mode: see `names_from_outside`

    def shipped_code(self) -> str:
        """Return the Python file the container runs, built as SDK 0.5.0 builds it."""
        name = self.function.__name__
        call = f"{name}()" if self.kwargs is None else f"{name}(**{self.kwargs})"
        return f"{textwrap.dedent(self.source)}\n{call}\n"


def _identifier(text: str) -> str:
    name = re.sub(r"\W", "_", text)
    return name if name and not name[0].isdigit() else f"script_{name}"


def _string_literal(text: str) -> str:
    """Return a Python literal for `text` that keeps its lines readable where possible."""
    for quote in ("'''", '"""'):
        literal = f"r{quote}{text}{quote}"
        try:
            if ast.literal_eval(literal) == text:
                return literal
        except (SyntaxError, ValueError):
            continue
    return repr(text)


def _wrapper_source(script: Script) -> str:
    name = f"run_{_identifier(script.stem)}"
    literal = _string_literal(script.text)
    source = (
        f"def {name}(argv=None):\n"
        f'    """Run {script.name} unchanged, as `python {script.name} ARGV` would."""\n'
        "    import os\n"
        "    import runpy\n"
        "    import sys\n"
        "\n"
        f"    text = {literal}\n"
        '    folder = os.path.dirname(os.path.abspath(globals().get("__file__", "kfai")))\n'
        f"    path = os.path.join(folder, {script.name!r})\n"
        "    # Every process of the job writes the file; a rename keeps each write whole.\n"
        '    temporary = f"{path}.{os.getpid()}"\n'
        '    with open(temporary, "w", encoding="utf-8") as handle:\n'
        "        handle.write(text)\n"
        "    os.replace(temporary, path)\n"
        "    sys.argv = [path, *(argv or [])]\n"
        "    sys.path.insert(0, folder)\n"
        '    runpy.run_path(path, run_name="__main__")\n'
    )
    if textwrap.dedent(source) != source:
        # The SDK dedents the source, which would blank the script's whitespace-only lines.
        source = source.replace(literal, repr(script.text))
    return source


def _define(source: str, name: str, file_name: str, description: str) -> Callable[..., Any]:
    """Define the function `name` from `source` so that `inspect.getsource` returns `source`.

    The SDK runs the shipped source as a file of its own, where the `def` statement can use
    only built-in names. Defining it here the same way reports that failure before submission.
    """
    filename = f"<kfai>/{file_name}"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "__kfai_train__"}
    try:
        exec(compile(source, filename, "exec", dont_inherit=True), namespace)
    except Exception as exc:
        raise UsageError(
            f"{description} cannot be defined on its own: {type(exc).__name__}: {exc}",
            hint="the cluster receives only the function's source, so its decorators, default values "
            "and annotations may use only built-in names; move imports and constants into the function",
        ) from exc
    return namespace[name]


def names_from_outside(source: str) -> list[str]:
    """Return the global names a function's source reads but neither defines nor imports.

    Shipped alone, the function fails with NameError on the first of these it reaches.
    """
    import symtable

    def referenced_globals(table: symtable.SymbolTable) -> set[str]:
        names = {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
        for child in table.get_children():
            names |= referenced_globals(child)
        return names

    module = symtable.symtable(source, "<kfai>", "exec")
    names: set[str] = set()
    for function in module.get_children():
        names |= referenced_globals(function)
    defined = {s.get_name() for s in module.get_symbols() if s.is_assigned() or s.is_imported()}
    return sorted(names - defined - set(dir(builtins)))


def build_entry_point(script: Script, function: str | None, pairs: list[tuple[str, str]]) -> EntryPoint:
    """Build what the container runs: the whole script, or one function called with `--arg` values."""
    if function is None:
        source = _wrapper_source(script)
        name = f"run_{_identifier(script.stem)}"
        argv = script_argv(pairs)
        defined = _define(source, name, f"kfai_{script.stem}.py", f"the wrapper of {script.name}")
        return EntryPoint(defined, {"argv": argv} if argv else None, source, f"kfai_{script.stem}.py")

    functions = script.functions()
    node = functions.get(function)
    if node is None:
        close = difflib.get_close_matches(function, list(functions), n=3, cutoff=0.5)
        listed = ", ".join(sorted(functions)) or "none"
        raise UsageError(
            f"no top-level function '{function}' in {script.typed_path}"
            + (f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""),
            hint=f"top-level functions there: {listed}; or drop --func to run the whole script",
        )
    if isinstance(node, ast.AsyncFunctionDef):
        raise UsageError(f"function '{function}' in {script.typed_path} is async", hint="ship a plain function that runs the training")
    kwargs = function_kwargs(pairs, function)
    source = script.function_source(node)
    defined = _define(source, function, f"{script.stem}.py", f"function '{function}' in {script.typed_path}")
    return EntryPoint(defined, kwargs or None, source, f"{script.stem}.py", outside_names=names_from_outside(source))


def outside_names_note(entry: EntryPoint) -> str | None:
    if not entry.outside_names:
        return None
    name = entry.function.__name__
    return (
        f"{name}() uses {', '.join(entry.outside_names)} without defining or importing them inside the function; "
        f"only the function is shipped, so it fails with NameError there. Import inside {name}(), or drop --func to run the whole script."
    )
