"""Speed measurements that benchmarks and experiments share: a large matmul's GFLOP/s (the machine's ceiling)
and the training images/s of a model."""

from __future__ import annotations

import time

import torch


def matmul_gflops(n: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """GFLOP/s of an n x n matmul in ``dtype`` on the CPU (one warm-up product first)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def train_rate(net: torch.nn.Module, batch: int, steps: int, *, bf16: bool = False, channels_last: bool = True,
               forward=None, opt: torch.optim.Optimizer | None = None) -> tuple[float, float]:
    """(training images/s over ``steps`` SGD steps on random inputs, seconds of the two warm-up steps, which
    include any compilation). ``forward`` defaults to ``net`` (pass a compiled module to time it)."""
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    forward = forward or net
    opt = opt or torch.optim.SGD(net.parameters(), lr=0.01)
    x, y = torch.rand(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(forward(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t = time.perf_counter()
    step()
    step()
    warm = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t), warm


PROFILE_GROUPS = {  # profiler op name fragment -> what a reader calls it
    "convolution_backward": "conv backward", "convolution": "conv forward", "max_pool": "max-pool",
    "batch_norm": "batch norm", "gelu": "activation", "relu": "activation", "fill_": "zero-fill",
    "mm": "matmul (head, optimiser)", "copy_": "copies / casts",
}


def step_profile(step, steps: int = 4) -> dict[str, float]:
    """Where a training step's time goes: the share of self CPU time per kind of operation over ``steps``
    calls of ``step()`` (after one warm-up call), from torch.profiler; kinds as in :data:`PROFILE_GROUPS`."""
    from torch.profiler import ProfilerActivity, profile

    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    shares: dict[str, float] = {}
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    for e in events:
        kind = next((v for k, v in PROFILE_GROUPS.items() if k in e.key), "other")
        shares[kind] = shares.get(kind, 0.0) + e.self_cpu_time_total / total
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))
