"""Custom training on Kubeflow Trainer: pick the runtime for a script, check the cluster,
and build the CustomTrainer TrainJob to approve.

The script itself is read and wrapped by `custom_script`; this module adds the launch
command, the runtime, the cluster checks and the TrainJob.
"""

from __future__ import annotations

import difflib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from kfctl_ai.core.checks import Check, check_namespace, check_permission, check_quota, gpu_nodes
from kfctl_ai.core.custom_script import (
    EntryPoint,
    Script,
    build_entry_point,
    imported_frameworks,
    load_script,
    outside_names_note,
    parse_pairs,
    primary_framework,
    script_argv,
    sibling_imports,
)
from kfctl_ai.core.errors import DoesNotFitError, KfaiError, NotFoundError, UsageError
from kfctl_ai.core.runtimes import RuntimeInfo, parse_runtimes, upstream_runtimes
from kfctl_ai.core.trainjob import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    sdk_runtime,
    submit,
    trainjob_object,
    validate_name,
)

DEFAULT_RUNTIMES = {
    "torch": "torch-distributed",
    "deepspeed": "deepspeed-distributed",
    "mlx": "mlx-distributed",
    "jax": "jax-distributed",
    "xgboost": "xgboost-distributed",
}
# Runtime frameworks (`trainer.kubeflow.org/framework`) that can run a script of each
# framework. DeepSpeed reads the RANK and WORLD_SIZE that torchrun sets, so it also runs
# on a torch runtime.
COMPATIBLE_RUNTIMES = {
    "torch": {"torch"},
    "deepspeed": {"deepspeed", "torch"},
    "mlx": {"mlx"},
    "jax": {"jax"},
    "xgboost": {"xgboost"},
}

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$")
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIAL", re.IGNORECASE)
HEREDOC_DELIMITER = "KFAI_TRAIN_CODE"
MASKED = "***"


# --- the launch command and the runtime ---------------------------------------------


def _launch_command(entrypoint: str, code: str) -> str:
    """Return the `bash -c` text the SDK fills with `{func_code}` and `{func_file}`.

    SDK 0.5.0 writes the code with an unquoted here-document, where bash expands `$`,
    backquotes and backslashes inside the code. A quoted delimiter keeps the code as is.
    """
    delimiter = HEREDOC_DELIMITER
    lines = set(code.splitlines())
    while delimiter in lines:
        delimiter += "_"
    return (
        f"read -r -d '' SCRIPT << '{delimiter}'\n"
        "{func_code}\n"
        f"{delimiter}\n"
        'printf "%s\\n" "$SCRIPT" > "{func_file}"\n'
        f'{entrypoint} "{{func_file}}"'
    )


# NOTE: SDK 0.5.0 starts a CustomTrainer on a torch runtime with a bare `torchrun FILE`,
# which upstream users report hanging on more than one node. kfai compensates: it passes
# the node count, rank and master address explicitly from the PET_* variables that the
# Trainer's torch plugin sets on every node, with torchrun's single-node defaults when a
# variable is unset. That it fixes the reported hang is not verified on a real cluster.
TORCHRUN = (
    'torchrun --nnodes="${{PET_NNODES:-1}}" --nproc_per_node="${{PET_NPROC_PER_NODE:-1}}" '
    '--node_rank="${{PET_NODE_RANK:-0}}" --master_addr="${{PET_MASTER_ADDR:-127.0.0.1}}" '
    '--master_port="${{PET_MASTER_PORT:-29500}}"'
)


def train_runtime(info: RuntimeInfo, entry: EntryPoint | None) -> Any:
    """Build the SDK `Runtime` for `info`, with a launch command that keeps the code intact."""
    runtime = sdk_runtime(info)
    if entry is None:
        return runtime
    code = entry.shipped_code()
    if info.framework == "torch":
        command: tuple[str, ...] = ("bash", "-c", _launch_command(TORCHRUN, code))
    elif info.mpi:
        command = ("mpirun", "--hostfile", "/etc/mpi/hostfile", "bash", "-c", _launch_command("python", code))
    else:
        command = ("bash", "-c", _launch_command("python", code))
    runtime.trainer.set_command(command)
    return runtime


# --- runtime choice and checks ------------------------------------------------------


def choose_runtime(runtimes: list[RuntimeInfo], requested: str | None, framework: str | None, script_name: str) -> RuntimeInfo:
    """Pick the runtime by name or by the script's framework; reject one that cannot run it."""
    if requested:
        runtime = next((r for r in runtimes if r.name == requested), None)
        if runtime is None:
            close = difflib.get_close_matches(requested, [r.name for r in runtimes], n=3, cutoff=0.4)
            raise NotFoundError(
                f"runtime '{requested}' not found" + (f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""),
                hint="list them with `kfai runtimes`",
            )
        if runtime.builtin:
            raise UsageError(
                f"runtime '{runtime.name}' is a torchtune runtime; it runs only torchtune recipes, not {script_name}",
                hint="fine-tune with `kfai fine-tune`, or pick a custom runtime such as torch-distributed",
            )
        allowed = COMPATIBLE_RUNTIMES.get(framework or "", set())
        if framework and runtime.framework not in allowed:
            raise UsageError(
                f"runtime '{runtime.name}' runs {runtime.framework}, but {script_name} imports {framework}",
                hint=f"use a {' or '.join(sorted(allowed))} runtime, for example {DEFAULT_RUNTIMES[framework]}",
            )
        return runtime

    target = framework or "torch"
    default = next((r for r in runtimes if r.name == DEFAULT_RUNTIMES[target]), None)
    if default is not None:
        return default
    fitting = sorted((r for r in runtimes if r.framework in COMPATIBLE_RUNTIMES[target]), key=lambda r: r.name)
    if fitting:
        return fitting[0]
    custom = ", ".join(r.name for r in runtimes if not r.builtin) or "none"
    raise NotFoundError(
        f"no {target} runtime found for {script_name}",
        hint=f"custom runtimes here: {custom}; pick one with --runtime, or ask your platform team for {DEFAULT_RUNTIMES[target]}",
    )


def check_gpu_nodes(cluster: Any, gpus_per_node: int, nodes: int) -> Check:
    """Check that enough nodes have `gpus_per_node` GPUs, free now or once other jobs end."""
    if gpus_per_node <= 0:
        return Check("gpus", "pass", "no GPUs requested")
    try:
        candidates = gpu_nodes(cluster)
    except KfaiError as exc:
        return Check("gpus", "warn", f"could not read GPU nodes: {exc.message}")
    if not candidates:
        error = DoesNotFitError("no node in the cluster has GPUs", hint="train on CPUs without --gpus, or rerun with --force to submit anyway")
        return Check("gpus", "fail", error.message, error)
    big_enough = [n for n in candidates if n.allocatable >= gpus_per_node]
    if not big_enough:
        largest = max(n.allocatable for n in candidates)
        error = DoesNotFitError(
            f"no node has {gpus_per_node} GPUs; the largest has {largest}",
            hint=f"use --gpus {largest} and more --nodes, or rerun with --force to submit anyway",
        )
        return Check("gpus", "fail", error.message, error)
    if len(big_enough) < nodes:
        error = DoesNotFitError(
            f"only {len(big_enough)} node(s) have {gpus_per_node} GPUs; the job asks for {nodes}",
            hint="lower --nodes, or rerun with --force to submit anyway",
        )
        return Check("gpus", "fail", error.message, error)
    free_now = [n for n in big_enough if n.free >= gpus_per_node]
    summary = ", ".join(f"{n.name}: {n.free}/{n.allocatable} free" for n in big_enough[:6])
    if len(free_now) >= nodes:
        return Check("gpus", "pass", f"{len(free_now)} node(s) with {gpus_per_node} free GPU(s) for {nodes} node(s) ({summary})")
    return Check("gpus", "warn", f"only {len(free_now)} node(s) have {gpus_per_node} free GPU(s) for {nodes} node(s) now; the job will wait ({summary})")


def _quantity_value(value: str, option: str) -> float:
    from kfctl_ai.core.checks import _quantity

    if not _QUANTITY.match(value):
        raise UsageError(f"invalid {option} '{value}'", hint="use a Kubernetes quantity such as 4, 500m or 16Gi")
    return _quantity(value)


# --- the plan -----------------------------------------------------------------------


@dataclass
class TrainParams:
    script: str | None
    function: str | None = None
    args: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    pip_index_urls: list[str] = field(default_factory=list)
    gpus: int | None = None
    nodes: int | None = None
    cpu: str | None = None
    memory: str | None = None
    env: list[str] = field(default_factory=list)
    runtime: str | None = None
    image: str | None = None
    name: str | None = None
    force: bool = False


@dataclass
class TrainPlan:
    params: TrainParams
    name: str
    namespace: str
    runtime: RuntimeInfo
    script: Script | None
    entry: EntryPoint | None
    framework: str | None
    inputs: dict[str, Any] = field(repr=False)
    trainjob: dict[str, Any] = field(repr=False)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        """Return the equivalent typed command with every resolved value; secret-looking `--env` values are masked."""
        p = self.params
        argv = ["kfai", "train"]
        if p.script:
            argv.append(p.script)
        argv += ["--runtime", self.runtime.name, "--name", self.name]
        if p.function:
            argv += ["--func", p.function]
        for value in p.args:
            argv += ["--arg", value]
        for value in p.packages:
            argv += ["--packages", value]
        for value in p.pip_index_urls:
            argv += ["--pip-index-url", value]
        for option, value in (("--gpus", p.gpus), ("--nodes", p.nodes), ("--cpu", p.cpu), ("--memory", p.memory), ("--image", p.image)):
            if value is not None:
                argv += [option, str(value)]
        for key, value in parse_pairs(p.env, "--env"):
            argv += ["--env", f"{key}={MASKED if _SECRET_NAME.search(key) else value}"]
        return argv + ["-n", self.namespace]

    def preview_object(self) -> dict[str, Any]:
        """Return the TrainJob to preview, with the values of secret-looking `--env` names masked."""
        trainer = (self.trainjob.get("spec") or {}).get("trainer") or {}
        if not any(_SECRET_NAME.search(item.get("name", "")) for item in trainer.get("env") or []):
            return self.trainjob
        import copy

        masked = copy.deepcopy(self.trainjob)
        for item in masked["spec"]["trainer"]["env"]:
            if _SECRET_NAME.search(item.get("name", "")):
                item["value"] = MASKED
        return masked

    def checks_dict(self) -> list[dict[str, Any]]:
        return [check.to_dict() for check in self.checks]


def _name_base(script: Script | None, image: str | None) -> str:
    if script is not None:
        return script.stem
    return (image or "train").rsplit("/", 1)[-1].split(":")[0].split("@")[0]


def default_job_name(stem: str) -> str:
    """Make a DNS-1035 name such as `train-regression-3f9a1` from a script or image name."""
    base = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:50].strip("-")
    if not base or not base[0].isalpha():
        base = f"train-{base}".strip("-")
    return f"{base}-{secrets.token_hex(3)[:5]}"


def _resources(params: TrainParams) -> dict[str, Any] | None:
    resources: dict[str, Any] = {}
    if params.gpus:
        # A string, because the SDK turns an int quantity into a float (`2.0`).
        resources["gpu"] = str(params.gpus)
    if params.cpu is not None:
        _quantity_value(params.cpu, "--cpu")
        resources["cpu"] = params.cpu
    if params.memory is not None:
        _quantity_value(params.memory, "--memory")
        resources["memory"] = params.memory
    return resources or None


def _trainer(params: TrainParams, entry: EntryPoint | None, env: dict[str, str], resources: dict[str, Any] | None) -> Any:
    from kubeflow.trainer.constants import constants
    from kubeflow.trainer.types import types

    if entry is None:
        return types.CustomTrainerContainer(
            image=params.image or "", num_nodes=params.nodes, resources_per_node=resources, env=env or None
        )
    return types.CustomTrainer(
        func=entry.function,
        func_args=entry.kwargs,
        image=params.image,
        packages_to_install=params.packages or None,
        pip_index_urls=params.pip_index_urls or list(constants.DEFAULT_PIP_INDEX_URLS),
        num_nodes=params.nodes,
        resources_per_node=resources,
        env=env or None,
    )


def _options(name: str, params: TrainParams, entry: EntryPoint | None) -> list[Any]:
    from kubeflow.trainer.options import Labels, Name, TrainerArgs

    options: list[Any] = [Name(name=name), Labels(labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE})]
    if entry is None and params.args:
        # Without a script, `--arg` values become the image's command-line arguments.
        options.append(TrainerArgs(args=script_argv(parse_pairs(params.args, "--arg"))))
    return options


def preview_custom_trainjob(inputs: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Assemble the TrainJob that `TrainerClient.train(**inputs)` creates for a custom trainer."""
    from kubeflow.trainer.backends.kubernetes import utils as sdk_utils
    from kubeflow_trainer_api import models

    from kfctl_ai.core.trainjob import _apply_option

    job_spec: dict[str, Any] = {}
    for option in inputs["options"]:
        _apply_option(option, job_spec, inputs["trainer"])
    metadata = job_spec.get("metadata", {})
    overrides = job_spec.get("spec", {}).get("trainer", {})

    runtime = inputs["runtime"]
    trainer_cr = sdk_utils.get_trainer_cr_from_custom_trainer(runtime, inputs["trainer"])
    if "command" in overrides:
        trainer_cr.command = overrides["command"]
    if "args" in overrides:
        trainer_cr.args = overrides["args"]
    spec = models.TrainerV1alpha1TrainJobSpec(
        runtimeRef=models.TrainerV1alpha1RuntimeRef(name=runtime.name, kind=runtime.kind.value),
        trainer=trainer_cr if trainer_cr != models.TrainerV1alpha1Trainer() else None,
    )
    return trainjob_object(metadata, namespace, spec)


def _cluster_checks(cluster: Any, runtime: RuntimeInfo, params: TrainParams) -> list[Check]:
    nodes = params.nodes or runtime.num_nodes
    gpus = params.gpus if params.gpus is not None else runtime.gpus_per_node
    cpu = _quantity_value(params.cpu, "--cpu") if params.cpu else 0.0
    memory = _quantity_value(params.memory, "--memory") if params.memory else 0.0
    return [
        check_namespace(cluster),
        Check("runtime", "pass", f"runtime '{runtime.name}' ({runtime.framework}) exists"),
        check_gpu_nodes(cluster, gpus, nodes),
        check_quota(cluster, gpus=gpus * nodes, cpu=cpu * nodes, memory_bytes=memory * nodes),
        check_permission(cluster),
    ]


def _raise_blocking(checks: list[Check], force: bool, notes: list[str]) -> None:
    """Raise the first failed check's error; with `force`, a does-not-fit failure only warns."""
    for check in checks:
        if check.status != "fail" or check.error is None:
            continue
        if force and isinstance(check.error, DoesNotFitError):
            notes.append(f"--force: submitting although {check.error.message}")
            continue
        raise check.error


def _advice(script: Script | None, entry: EntryPoint | None, env: dict[str, str]) -> list[str]:
    """Return notes on what would break or leak once the job runs on the cluster."""
    notes = []
    if any(_SECRET_NAME.search(key) for key in env):
        notes.append("--env values whose names look secret are masked here but stored in plain text in the TrainJob; prefer a Kubernetes Secret.")
    note = outside_names_note(entry) if entry is not None else None
    if note:
        notes.append(note)
    siblings = sibling_imports(script) if script is not None else []
    if script is not None and siblings:
        notes.append(
            f"{script.name} imports {', '.join(siblings)} from its own folder, but only {script.name} is shipped: "
            "the job fails unless the image or --packages provides them."
        )
    return notes


def prepare_train(params: TrainParams, cluster: Any | None, namespace: str, persona: str) -> TrainPlan:
    """Validate the input, pick the runtime, run the checks and build the TrainJob to approve."""
    from kfctl_ai.core.personas import check_custom_image

    if params.script is None and params.image is None:
        raise UsageError("missing SCRIPT", hint="pass a training script, or --image IMAGE whose entrypoint trains")
    if params.script is None and (params.function or params.packages):
        raise UsageError("--func and --packages need a SCRIPT", hint="pass the script that defines the function")
    if params.image is not None and not params.image.strip():
        raise UsageError("empty --image value", hint="pass a container image such as ghcr.io/org/train:1.0, or leave out --image to use the runtime's image")
    script = load_script(params.script) if params.script is not None else None
    if params.name is not None:
        validate_name(params.name)
    if params.image:
        check_custom_image(persona, params.image)

    env = dict(parse_pairs(params.env, "--env"))
    pairs = parse_pairs(params.args, "--arg")
    resources = _resources(params)
    entry = build_entry_point(script, params.function, pairs) if script else None
    framework = None
    if script is not None:
        node = script.functions()[params.function] if params.function else script.tree
        framework = primary_framework(imported_frameworks(node) or imported_frameworks(script.tree))

    notes: list[str] = []
    checks: list[Check] = []
    if cluster is None:
        runtimes = upstream_runtimes()
        notes.append("No cluster configured: the runtime comes from the upstream Kubeflow Trainer v2.3.0 list and no cluster check ran.")
    else:
        runtimes = parse_runtimes(cluster.list_runtime_objects())
    runtime = choose_runtime(runtimes, params.runtime, framework, script.name if script else params.image or "the image")
    if cluster is not None:
        checks = _cluster_checks(cluster, runtime, params)
        _raise_blocking(checks, params.force, notes)
    notes += _advice(script, entry, env)

    name = params.name or default_job_name(_name_base(script, params.image))
    inputs = {
        "runtime": train_runtime(runtime, entry),
        "trainer": _trainer(params, entry, env, resources),
        "options": _options(name, params, entry),
    }
    try:
        trainjob = preview_custom_trainjob(inputs, namespace)
    except ValueError as exc:  # the SDK validates resources (for example GPU and MIG together)
        raise UsageError(f"invalid training setup: {exc}") from exc
    return TrainPlan(
        params=params, name=name, namespace=namespace, runtime=runtime, script=script, entry=entry,
        framework=framework, inputs=inputs, trainjob=trainjob, checks=checks, notes=notes,
    )


def execute_train(plan: TrainPlan, cluster: Any) -> dict[str, Any]:
    name = submit(cluster, plan.inputs)
    trainer = (plan.trainjob.get("spec") or {}).get("trainer") or {}
    return {
        "status": "created",
        "job": name,
        "namespace": plan.namespace,
        "runtime": plan.runtime.name,
        "script": plan.params.script,
        "function": plan.params.function,
        "num_nodes": trainer.get("numNodes") or plan.runtime.num_nodes,
        "resources_per_node": (trainer.get("resourcesPerNode") or {}).get("limits"),
    }
