"""NVIDIA GPU products: memory by `nvidia.com/gpu.product` label, and `--gpu-type` names.

GPU feature discovery labels each GPU node with `nvidia.com/gpu.product` (the product
name with spaces as dashes) and `nvidia.com/gpu.memory` (total memory in MiB, as
`nvidia-smi` reports it). When a node carries the memory label, it is the better
source; this table serves nodes without it and estimates without a cluster.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from kfctl_ai.core.errors import UnknownNameError

# Not all of the total is free for tensors: an "80GB" card labelled 81,920 MiB offers
# about 79.2 GiB to CUDA allocations, 1% less. The same share is assumed for the others.
# NOTE: 1% is measured on 80 GB cards only; smaller cards may keep back a larger share.
USABLE_FRACTION = 0.99


def usable_memory_gib(memory_mib: float) -> float:
    """Convert a `nvidia.com/gpu.memory` value (MiB) to the GiB that CUDA can allocate."""
    return memory_mib * USABLE_FRACTION / 1024


@dataclass(frozen=True)
class GpuProduct:
    """A GPU product: its `nvidia.com/gpu.product` label value and total memory in MiB."""

    product: str
    memory_mib: int
    names: tuple[str, ...]

    @property
    def memory_gib(self) -> float:
        """Memory available to a training process, in GiB."""
        return usable_memory_gib(self.memory_mib)


# Totals in MiB as nvidia-smi and GPU feature discovery report them. `names` are the
# short forms accepted by --gpu-type; the first one is shown in suggestions.
GPU_PRODUCTS: tuple[GpuProduct, ...] = (
    GpuProduct("NVIDIA-H200", 143771, ("h200", "h200-141gb")),
    GpuProduct("NVIDIA-H100-80GB-HBM3", 81559, ("h100", "h100-80gb", "h100-sxm")),
    GpuProduct("NVIDIA-H100-PCIe", 81559, ("h100-pcie",)),
    GpuProduct("NVIDIA-H100-NVL", 95830, ("h100-nvl", "h100-94gb")),
    GpuProduct("NVIDIA-A100-SXM4-80GB", 81920, ("a100-80gb", "a100-sxm4-80gb", "a100-80")),
    GpuProduct("NVIDIA-A100-80GB-PCIe", 81920, ("a100-80gb-pcie",)),
    GpuProduct("NVIDIA-A100-SXM4-40GB", 40960, ("a100", "a100-40gb", "a100-sxm4-40gb", "a100-40")),
    GpuProduct("NVIDIA-A100-PCIE-40GB", 40960, ("a100-pcie", "a100-40gb-pcie")),
    GpuProduct("NVIDIA-L40S", 46068, ("l40s",)),
    GpuProduct("NVIDIA-L40", 46068, ("l40",)),
    GpuProduct("NVIDIA-L4", 23034, ("l4",)),
    GpuProduct("NVIDIA-A10G", 23028, ("a10g",)),
    GpuProduct("NVIDIA-A10", 23028, ("a10",)),
    GpuProduct("NVIDIA-RTX-A6000", 49140, ("a6000", "rtx-a6000")),
    GpuProduct("NVIDIA-RTX-6000-Ada-Generation", 49140, ("rtx-6000-ada", "6000-ada")),
    GpuProduct("NVIDIA-GeForce-RTX-4090", 24564, ("4090", "rtx-4090", "rtx4090")),
    GpuProduct("NVIDIA-GeForce-RTX-3090", 24576, ("3090", "rtx-3090", "rtx3090")),
    GpuProduct("Tesla-V100-SXM2-32GB", 32768, ("v100-32gb", "v100-sxm2-32gb")),
    GpuProduct("Tesla-V100-SXM2-16GB", 16384, ("v100", "v100-16gb", "v100-sxm2-16gb")),
    GpuProduct("Tesla-T4", 15360, ("t4",)),
)

_BY_PRODUCT = {gpu.product.lower(): gpu for gpu in GPU_PRODUCTS}
_BY_NAME = {_name: gpu for gpu in GPU_PRODUCTS for _name in gpu.names}


def _normalize(name: str) -> str:
    text = re.sub(r"[\s_]+", "-", name.strip().lower())
    return re.sub(r"^(nvidia-|tesla-|geforce-)+", "", text)


def product_for_label(product: str) -> GpuProduct | None:
    """Return the table entry for a `nvidia.com/gpu.product` label value, or None."""
    gpu = _BY_PRODUCT.get(product.strip().lower())
    if gpu is not None:
        return gpu
    # Labels gain suffixes such as "-SHARED" (time-slicing) or "-MIG-1g.10gb"; MIG
    # slices have less memory, so only the sharing suffix is stripped.
    base = re.sub(r"-shared$", "", product.strip().lower())
    return _BY_PRODUCT.get(base)


def memory_for_product(product: str) -> float | None:
    """Return the usable GiB of a GPU given its `nvidia.com/gpu.product` label, or None if unknown."""
    gpu = product_for_label(product)
    return gpu.memory_gib if gpu else None


def resolve_gpu_type(name: str) -> GpuProduct:
    """Resolve a `--gpu-type` value (`a100`, `h100`, `l4`, or a full product label).

    Raises `UnknownNameError` with up to three close names when nothing matches.
    """
    gpu = product_for_label(name)
    if gpu is not None:
        return gpu
    key = _normalize(name)
    if key in _BY_NAME:
        return _BY_NAME[key]
    candidates = list(_BY_NAME) + [_normalize(g.product) for g in GPU_PRODUCTS]
    suggestions: list[str] = []
    for match in difflib.get_close_matches(key, candidates, n=10, cutoff=0.5):
        gpu = _BY_NAME.get(match) or next(g for g in GPU_PRODUCTS if _normalize(g.product) == match)
        if gpu.names[0] not in suggestions:
            suggestions.append(gpu.names[0])
    raise UnknownNameError(
        "GPU type",
        name,
        suggestions[:3],
        hint="known types: " + ", ".join(g.names[0] for g in GPU_PRODUCTS) + "; or give --gpu-memory GIB",
    )


def product_matches(gpu_type: str, product: str) -> bool:
    """Tell whether a node's `nvidia.com/gpu.product` label is of the requested GPU type.

    A type matches its own table entry, and any label that contains all of its
    dash-separated words: `a100` matches both A100 memory sizes, `a100-80gb` only the
    80 GB ones, and an unknown type such as `a40` still selects `NVIDIA-A40` nodes.
    """
    words = set(_normalize(gpu_type).split("-"))
    if words <= set(_normalize(product).split("-")):
        return True
    try:
        expected = resolve_gpu_type(gpu_type)
    except UnknownNameError:
        return False
    return product_for_label(product) is expected
