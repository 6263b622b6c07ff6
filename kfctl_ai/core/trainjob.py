"""Build the TrainJob for a fine-tune through the Kubeflow SDK's own types.

The same SDK objects (`BuiltinTrainer`, `TorchTuneConfig`, `Initializer`, options) serve
the preview and the submission. `preview_trainjob` assembles the object with the SDK's
public helpers, and `submit` passes the same inputs to `TrainerClient.train`. So what the
user approves is what the API server receives.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from kfctl_ai.core.errors import UsageError
from kfctl_ai.core.names import validate_trainjob_name
from kfctl_ai.core.runtimes import RuntimeInfo

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "kfai"
MODEL_LABEL = "kfai.kubeflow.org/model"
DEFAULT_TOKEN_KEY = "HF_TOKEN"

# torchtune calls the attention output projection `output_proj`, where Hugging Face uses `o_proj`.
_ATTENTION_MODULES = {"q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", "o_proj": "output_proj", "output_proj": "output_proj"}
_MLP_MODULES = {"gate_proj", "up_proj", "down_proj", "mlp", "w1", "w2", "w3"}


@dataclass
class FineTuneRequest:
    model_id: str
    dataset_uri: str
    runtime: RuntimeInfo
    namespace: str
    name: str
    epochs: int | None = None
    batch_size: int | None = None
    seq_len: int | None = None
    method: str = "full"
    lora_rank: int | None = None
    lora_targets: list[str] = field(default_factory=list)
    dtype: str | None = None
    optimizer: str | None = None
    gradient_checkpointing: bool | None = None
    loss: str | None = None
    gpus: int | None = None
    nodes: int | None = None
    hf_token_secret: str | None = None


def job_name(model_id: str, dataset_uri: str) -> str:
    """Make a readable, unique DNS-1035 name such as `llama-3-2-1b-alpaca-5c1e9`."""
    model_part = re.sub(r"-?(instruct|it|chat)(-v[\d.]+)?$", "", model_id.split("/")[-1].lower())
    dataset_part = dataset_uri.rstrip("/").split("/")[-1].lower()
    base = re.sub(r"[^a-z0-9]+", "-", f"{model_part}-{dataset_part}").strip("-")[:50].strip("-")
    if not base or not base[0].isalpha():
        base = f"job-{base}".strip("-")
    return f"{base}-{secrets.token_hex(3)[:5]}"


def validate_name(name: str) -> str:
    """Return a `--name` for a new TrainJob if the Trainer accepts it; raise `UsageError` otherwise."""
    return validate_trainjob_name(name, hint="pass another --name, or leave it out for a generated one")


_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")


def parse_secret_ref(value: str) -> tuple[str, str]:
    """Split `NAME[:KEY]` into the Secret name and the key that stores the token."""
    name, _, key = value.partition(":")
    if not _SECRET_NAME.match(name) or (key and not _SECRET_KEY.match(key)):
        # The value is not repeated: people paste the token itself here by mistake.
        raise UsageError(
            "invalid --hf-token-secret: expected the name of a Kubernetes Secret (NAME or NAME:KEY), not a token",
            hint="create the Secret with `kubectl create secret generic hf-token --from-literal=HF_TOKEN=$HF_TOKEN` "
            "and pass --hf-token-secret hf-token",
        )
    return name, key or DEFAULT_TOKEN_KEY


def lora_modules(targets: list[str]) -> tuple[list[str], bool]:
    """Map `--lora-targets` to torchtune's attention module names and its MLP switch."""
    attention: list[str] = []
    mlp = False
    for target in targets:
        if target == "all":
            attention += ["q_proj", "k_proj", "v_proj", "output_proj"]
            mlp = True
        elif target == "attention":
            attention += ["q_proj", "k_proj", "v_proj", "output_proj"]
        elif target in _MLP_MODULES:
            mlp = True
        elif target in _ATTENTION_MODULES:
            attention.append(_ATTENTION_MODULES[target])
        else:
            raise UsageError(
                f"invalid LoRA target '{target}'",
                hint="use q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, all, attention or mlp",
            )
    return list(dict.fromkeys(attention)), mlp


def sdk_inputs(request: FineTuneRequest) -> dict[str, Any]:
    """Build the arguments of `TrainerClient.train` for this request."""
    from kubeflow.trainer.types import types
    from kubeflow.trainer.options import Labels, Name

    runtime = sdk_runtime(request.runtime)

    peft = None
    if request.method in {"lora", "qlora"}:
        attention, mlp = lora_modules(request.lora_targets or ["q_proj", "v_proj"])
        peft = types.LoraConfig(
            lora_rank=request.lora_rank,
            lora_attn_modules=attention,
            apply_lora_to_mlp=mlp or None,
            quantize_base=True if request.method == "qlora" else None,
        )

    resources: dict[str, Any] | None = None
    if request.gpus:
        resources = {"gpu": request.gpus}

    config = types.TorchTuneConfig(
        dtype=types.DataType(request.dtype) if request.dtype else None,
        batch_size=request.batch_size,
        epochs=request.epochs,
        loss=types.Loss.CEWithChunkedOutputLoss if request.loss == "chunked-ce" else None,
        num_nodes=request.nodes,
        peft_config=peft,
        resources_per_node=resources,
    )
    initializer = types.Initializer(
        dataset=types.HuggingFaceDatasetInitializer(storage_uri=request.dataset_uri),
        model=types.HuggingFaceModelInitializer(storage_uri=f"hf://{request.model_id}"),
    )
    trainer = types.BuiltinTrainer(config=config)

    options: list[Any] = [
        Name(name=request.name),
        Labels(labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE, MODEL_LABEL: _label_value(request.model_id)}),
    ]

    # NOTE: for a top-level Hub dataset (`hf://org/name`) SDK 0.5.0 emits
    # `dataset.data_dir=/workspace/dataset/.`, a known upstream problem. SDK options
    # cannot change a BuiltinTrainer's args (TrainerArgs rejects it), so kfai keeps them.
    if request.hf_token_secret:
        options.append(_token_patch(request.hf_token_secret))

    return {"runtime": runtime, "initializer": initializer, "trainer": trainer, "options": options}


def _label_value(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", model_id.split("/")[-1])[:63].strip("_.-")


def settings_not_passed(request: FineTuneRequest) -> list[str]:
    """Options that shape the memory estimate but that `TorchTuneConfig` cannot pass to torchtune."""
    ignored = []
    if request.seq_len:
        ignored.append("--seq-len")
    if request.gradient_checkpointing is not None:
        ignored.append("--gradient-checkpointing")
    if request.optimizer:
        ignored.append("--optimizer")
    if request.loss == "ce":
        ignored.append("--loss ce")
    return ignored


def _token_patch(secret_ref: str) -> Any:
    """Give the model initializer `ACCESS_TOKEN` from a Secret, so the token never appears in the TrainJob."""
    from kubeflow.trainer.options import kubernetes as k8s_options

    secret, key = parse_secret_ref(secret_ref)
    container = k8s_options.ContainerPatch(
        name="model-initializer",
        env=[{"name": "ACCESS_TOKEN", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}],
    )
    job = k8s_options.ReplicatedJobPatch(
        name="model-initializer",
        template=k8s_options.JobTemplatePatch(
            spec=k8s_options.JobSpecPatch(
                template=k8s_options.PodTemplatePatch(spec=k8s_options.PodSpecPatch(containers=[container]))
            )
        ),
    )
    return k8s_options.RuntimePatch(
        training_runtime_spec=k8s_options.TrainingRuntimeSpecPatch(
            template=k8s_options.JobSetTemplatePatch(spec=k8s_options.JobSetSpecPatch(replicated_jobs=[job]))
        )
    )


def sdk_runtime(info: RuntimeInfo) -> Any:
    """Build the SDK's `Runtime` from a parsed runtime, as `TrainerClient.get_runtime` would."""
    from kubeflow.trainer.types import types
    from kubeflow.trainer.constants import constants

    trainer = types.RuntimeTrainer(
        trainer_type=types.TrainerType.BUILTIN_TRAINER if info.builtin else types.TrainerType.CUSTOM_TRAINER,
        framework=info.framework,
        image=info.image or "",
        num_nodes=info.num_nodes,
    )
    if info.gpus_per_node:
        trainer.device = "gpu"
        trainer.device_count = str(info.gpus_per_node * info.num_nodes)
    if info.builtin:
        trainer.set_command(constants.TORCH_TUNE_COMMAND)
    elif info.framework == "torch":
        trainer.set_command(constants.TORCH_COMMAND)
    elif info.mpi:
        trainer.set_command(constants.MPI_COMMAND)
    else:
        trainer.set_command(constants.DEFAULT_COMMAND)
    return types.Runtime(name=info.name, trainer=trainer, kind=types.RuntimeKind(info.kind))


def preview_trainjob(inputs: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Assemble the TrainJob object that `TrainerClient.train(**inputs)` will create."""
    from kubeflow.trainer.backends.kubernetes import utils as sdk_utils
    from kubeflow_trainer_api import models

    job_spec: dict[str, Any] = {}
    for option in inputs["options"]:
        _apply_option(option, job_spec, inputs["trainer"])
    metadata = job_spec.get("metadata", {})
    spec_section = job_spec.get("spec", {})

    runtime = inputs["runtime"]
    trainer_cr = sdk_utils.get_trainer_cr_from_builtin_trainer(runtime, inputs["trainer"], inputs["initializer"])

    initializer = inputs["initializer"]
    spec = models.TrainerV1alpha1TrainJobSpec(
        runtimeRef=models.TrainerV1alpha1RuntimeRef(name=runtime.name, kind=runtime.kind.value),
        trainer=trainer_cr,
        runtimePatches=[models.TrainerV1alpha1RuntimePatch.from_dict(p) for p in spec_section.get("runtimePatches", [])] or None,
        initializer=models.TrainerV1alpha1Initializer(
            dataset=sdk_utils.get_dataset_initializer(initializer.dataset),
            model=sdk_utils.get_model_initializer(initializer.model),
        ),
    )
    return trainjob_object(metadata, namespace, spec)


def trainjob_object(metadata: dict[str, Any], namespace: str, spec: Any) -> dict[str, Any]:
    """Build the TrainJob dict as the SDK posts it, from the options' metadata and a spec."""
    from kubeflow_trainer_api import models

    job = models.TrainerV1alpha1TrainJob(
        apiVersion="trainer.kubeflow.org/v1alpha1",
        kind="TrainJob",
        metadata=models.IoK8sApimachineryPkgApisMetaV1ObjectMeta(
            name=metadata.get("name"), namespace=namespace, labels=metadata.get("labels")
        ),
        spec=spec,
    )
    return job.to_dict()


def _apply_option(option: Any, job_spec: dict[str, Any], trainer: Any) -> None:
    """Apply one SDK option to a job spec dict the way `KubernetesBackend.train` does."""
    from kubeflow.trainer.backends.kubernetes.backend import KubernetesBackend

    # NOTE: SDK 0.5.0 options only check that the backend is a KubernetesBackend and
    # never use it, so an instance without a connection lets a preview run offline.
    offline_backend = KubernetesBackend.__new__(KubernetesBackend)
    option(job_spec, trainer, offline_backend)


def submit(cluster: Any, inputs: dict[str, Any]) -> str:
    """Create the TrainJob through the SDK and return its name."""
    return cluster.call(
        lambda: cluster.trainer.train(**inputs),
        "create",
        "TrainJob",
        trainer_api=True,
    )
