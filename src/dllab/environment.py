"""What a run ran on: package versions, git commit, CPU model and extensions, threads, and the core budget."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = ("dllab", "numpy", "torch", "scipy", "matplotlib", "pillow", "pydantic", "pyyaml", "rich")

# CPU extensions that change which kernels (and so which speed options) pay off: vector widths, fused
# multiply-add, and the bf16 / int8 matrix units (AVX512-BF16, AMX) that make bf16 autocast faster than fp32.
CPU_EXTENSIONS = ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx_vnni",
                  "amx_tile", "amx_bf16", "amx_int8", "neon", "asimd", "sve")


def cpu_cores() -> int:
    """Cores dllab may use: ``$DLLAB_THREADS`` if set, else all of this machine's."""
    text = os.environ.get("DLLAB_THREADS")
    if not text:
        return max(1, os.cpu_count() or 1)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        from dllab.errors import DllabError

        raise DllabError(f"DLLAB_THREADS={text!r}: give a whole number of cores of at least 1, or unset it to use "
                         "all of them")
    return value


@lru_cache(maxsize=1)
def cpu_info() -> dict[str, Any]:
    """The CPU's model name and which of :data:`CPU_EXTENSIONS` it has (from /proc/cpuinfo; lscpu elsewhere)."""
    model, flags = None, set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and model is None:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    if model is None:
        try:
            out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
            model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), None)
        except (OSError, subprocess.SubprocessError):
            pass
    return {"model": model or platform.processor() or platform.machine(), "arch": platform.machine(),
            "extensions": [e for e in CPU_EXTENSIONS if e in flags]}


def describe_cpu() -> str:
    """One line for benchmark output: model, architecture, extensions, cores."""
    info = cpu_info()
    return (f"CPU: {info['model']} ({info['arch']}, {os.cpu_count()} cores); extensions: "
            f"{', '.join(info['extensions']) or 'none of ' + '/'.join(CPU_EXTENSIONS[:6])}")


def git_commit(cwd: str | Path | None = None) -> dict[str, Any]:
    """The current git commit of ``cwd`` (default: the source tree of dllab) and whether it is dirty."""
    cwd = Path(cwd or Path(__file__).resolve().parent)
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, timeout=5)
        return {"commit": sha.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def capture_environment(seed: int) -> dict[str, Any]:
    """Versions, git commit, seed, hardware and threads of this process."""
    versions = package_versions()
    cpu = cpu_info()
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "cpu": cpu["model"],
        "cpu_extensions": cpu["extensions"],
        "cpu_count": os.cpu_count(),
        "core_budget": cpu_cores(),
        "versions": versions,
        "git": git_commit(),
        "seed": seed,
        "argv": sys.argv,
        "data_dir": os.environ.get("DLLAB_DATA"),
    }
    if "torch" in sys.modules or versions["torch"]:
        import torch

        env["torch_threads"] = torch.get_num_threads()
        env["cuda"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return env
