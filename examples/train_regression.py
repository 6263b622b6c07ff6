"""Fit a small PyTorch MLP to synthetic regression data; a few seconds on a laptop CPU.

Run it on its own (`python train_regression.py --steps 300`), on this machine through kfai
(`kfai train examples/train_regression.py --local`), or on a cluster
(`kfai train examples/train_regression.py --gpus 1`). Started by torchrun with more than
one process, it trains with DistributedDataParallel, each process on its own data.
"""

import argparse
import os

import torch
import torch.distributed as dist
from torch import nn


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps (default: 300)")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default: 0.01)")
    parser.add_argument("--batch-size", type=int, default=64, help="samples per step and process (default: 64)")
    parser.add_argument("--log-every", type=int, default=25, help="print the loss every N steps (default: 25)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def make_data(samples: int, features: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw inputs and a noisy nonlinear target that a two-layer MLP can fit."""
    inputs = torch.randn(samples, features, generator=generator)
    weights = torch.randn(features, 1, generator=generator) / features**0.5
    targets = torch.sin(inputs @ weights) + 0.5 * inputs[:, :1] + 0.05 * torch.randn(samples, 1, generator=generator)
    return inputs, targets


def main() -> None:
    args = parse_args()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    distributed = world_size > 1
    if distributed:
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        # A model this small runs fastest on one thread: more threads only add overhead.
        torch.set_num_threads(1)

    torch.manual_seed(args.seed)
    # The same data on every process; each process draws its own batches from it.
    inputs, targets = make_data(4096, 8, torch.Generator().manual_seed(args.seed))
    inputs, targets = inputs.to(device), targets.to(device)
    batch_generator = torch.Generator().manual_seed(args.seed + 1 + rank)

    model: nn.Module = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 1)).to(device)
    if distributed:
        model = nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.MSELoss()

    if rank == 0:
        print(f"training on {device} with {world_size} process(es): {args.steps} steps, lr {args.lr}", flush=True)
    for step in range(1, args.steps + 1):
        batch = torch.randint(0, inputs.shape[0], (args.batch_size,), generator=batch_generator).to(device)
        loss = loss_fn(model(inputs[batch]), targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if rank == 0 and (step == 1 or step % args.log_every == 0 or step == args.steps):
            with torch.no_grad():
                full_loss = loss_fn(model(inputs), targets).item()
            print(f"step {step} loss {full_loss:.4f}", flush=True)

    if distributed:
        dist.destroy_process_group()
    if rank == 0:
        print("done", flush=True)


if __name__ == "__main__":
    main()
