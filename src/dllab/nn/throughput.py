"""Speed measurements that benchmarks and experiments share: a large matmul's GFLOP/s (the machine's ceiling)
and the training images/s of a model, on the CPU or a CUDA GPU (timings wait for the GPU's queue to drain)."""

from __future__ import annotations

import functools
import time

import torch


def synchronize() -> None:
    """Wait for queued CUDA work, so that a clock read after it counts it; nothing on a CPU-only machine."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def matmul_gflops(n: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu") -> float:
    """GFLOP/s of an n x n matmul in ``dtype`` on ``device`` (one warm-up product first)."""
    a, b = torch.randn(n, n, device=device).to(dtype), torch.randn(n, n, device=device).to(dtype)
    a @ b
    synchronize()
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def training_step(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, opts=(), *, bf16: bool = False,
                  forward=None):
    """A closure running one training step: forward (``forward``, default ``net``; in bf16 autocast if asked),
    cross-entropy backward, each optimiser's step, gradients cleared. With no optimisers the weights stay put."""
    forward = forward or net

    def step() -> None:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(forward(x).float(), y)
        loss.backward()
        for opt in opts:
            opt.step()
        net.zero_grad(set_to_none=True)

    return step


def seconds_per_call(call, steps: int = 3) -> float:
    """Seconds per ``call()``, averaged over ``steps`` calls after one warm-up call (GPU work included)."""
    call()
    synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        call()
    synchronize()
    return (time.perf_counter() - t0) / steps


@functools.cache
def bf16_units(n: int = 256) -> bool:
    """Whether this CPU multiplies bf16 matrices at least a quarter as fast as fp32 ones (an n x n product,
    :func:`matmul_gflops`). Without bf16 units (AVX2 only, say) bf16 products are emulated at about 1% of fp32's
    speed, and timing a bf16 training step would take tens of seconds for a foregone answer."""
    return 4 * matmul_gflops(n, 3, torch.bfloat16) > matmul_gflops(n, 3)


def has_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes in bf16 at speed: a CPU with bf16 units (:func:`bf16_units`), a CUDA GPU that
    supports bf16 (Ampere and later)."""
    if torch.device(device).type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bf16_units()


def precision_times(call, steps: int = 3, device: torch.device | str = "cpu") -> dict[str, float]:
    """Seconds per call of ``call(bf16)`` with ``bf16`` False and True (one warm-up call each first): the
    measurement behind every "bf16 only where it is faster on this machine" choice (:func:`bf16_faster`). Where
    ``device`` has no fast bf16 (:func:`has_bf16`; a CPU without bf16 units, say) only fp32 is timed."""
    return {"bf16" if bf16 else "fp32": seconds_per_call(lambda b=bf16: call(b), steps)
            for bf16 in ((False, True) if has_bf16(device) else (False,))}


def bf16_faster(times: dict[str, float]) -> bool:
    """The choice from :func:`precision_times`' measurement: bf16 only if it was timed and was faster."""
    return "bf16" in times and times["bf16"] < times["fp32"]


def train_rate(net: torch.nn.Module, batch: int, steps: int, *, bf16: bool = False, channels_last: bool = True,
               forward=None, opt: torch.optim.Optimizer | None = None,
               device: torch.device | str = "cpu") -> tuple[float, float]:
    """(training images/s over ``steps`` SGD steps on random inputs on ``device``, seconds of the two warm-up
    steps, which include any compilation). ``forward`` defaults to ``net`` (pass a compiled module to time it)."""
    net = net.to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    x, y = torch.rand(batch, 3, 32, 32, device=device), torch.randint(0, 10, (batch,), device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    step = training_step(net, x, y, [opt or torch.optim.SGD(net.parameters(), lr=0.01)], bf16=bf16, forward=forward)
    t = time.perf_counter()
    step()
    step()
    synchronize()
    warm = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize()
    return steps * batch / (time.perf_counter() - t), warm


PROFILE_GROUPS = {  # profiler op name fragment -> what a reader calls it
    "convolution_backward": "conv backward", "convolution": "conv forward", "max_pool": "max-pool",
    "batch_norm": "batch norm", "gelu": "activation", "relu": "activation", "fill_": "zero-fill",
    "mm": "matmul (head, optimiser)", "copy_": "copies / casts",
}


def step_profile(step, steps: int = 4, device: torch.device | str = "cpu") -> dict[str, float]:
    """Where a training step's time goes: the share of self time per kind of operation over ``steps`` calls of
    ``step()`` (after one warm-up call), from torch.profiler: CPU time, or on a GPU the kernels' time; kinds as
    in :data:`PROFILE_GROUPS`."""
    from torch.profiler import ProfilerActivity, profile

    gpu = torch.device(device).type == "cuda"
    step()
    synchronize()
    with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])) as prof:
        for _ in range(steps):
            step()
        synchronize()

    def self_time(e) -> float:
        return e.self_device_time_total if gpu else e.self_cpu_time_total

    shares: dict[str, float] = {}
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(self_time(e) for e in events) or 1.0
    for e in events:
        kind = next((v for k, v in PROFILE_GROUPS.items() if k in e.key), "other")
        shares[kind] = shares.get(kind, 0.0) + self_time(e) / total
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))
