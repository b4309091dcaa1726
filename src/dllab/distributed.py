"""Executors on existing distributed engines: Ray (``pip install 'dllab[ray]'``) and SLURM through submitit
(``pip install 'dllab[slurm]'``). Both implement :meth:`dllab.executor.Executor.map`, so any work that runs on the
local executor (a suite's runs, a run's stages) runs on them unchanged.

A task gets ``cpus`` cores: its torch threads and its own nested budget (``DLLAB_THREADS``) are set to them. No
shared file system is assumed: a run's stages keep their files in storage (:mod:`dllab.storage`, ``--storage``)
and a suite's runs ship theirs back in their results (see :mod:`dllab.suite`). Placement, resources and retries
are the engine's: a stage whose worker or node dies is retried by Ray (``retries`` times) on a node that is
alive, and continues from the last epoch checkpoint its attempt sent to storage.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dllab.errors import DllabError
from dllab.executor import Executor, OnResult, Stage, describe_failure, land


def call_with_cores(fn: Callable, kwargs: dict, cpus: int):
    """Body of a remote task: use ``cpus`` cores (the budget that dllab's runner and executors read), then run
    ``fn(**kwargs)``."""
    from dllab.executor import apply_budget

    os.environ["DLLAB_THREADS"] = str(cpus)
    apply_budget(cpus)
    return fn(**kwargs)


class RayExecutor(Executor):
    """Stages as Ray tasks with their CPU (and GPU) needs. A task that raises or whose worker dies is retried
    ``retries`` times (once by default), then reported as failed.

    ``address`` joins an existing cluster (``ray start --head`` prints it; ``auto`` inside one); None starts a
    local Ray with the machine's core budget (or, inside a Ray task, uses the cluster that runs it).
    ``cpus_per_task`` defaults to the cluster's CPUs divided among ``workers``; ``gpus_per_task`` to the
    cluster's GPUs divided among them (at most one each; none on a cluster without GPUs).
    """

    def __init__(self, address: str | None = None, *, cpus_per_task: int | None = None,
                 gpus_per_task: float | None = None, retries: int = 1):
        self.address, self.cpus_per_task, self.gpus_per_task, self.retries = address, cpus_per_task, gpus_per_task, \
            retries

    def _ray(self):
        try:
            import ray
        except ImportError:
            raise DllabError("--executor ray needs Ray: pip install 'dllab[ray]'") from None
        if not ray.is_initialized():
            try:
                if self.address:
                    # a cluster on the loopback address: this driver must use it too (ray-project/ray#59110)
                    loopback = self.address.split(":")[0] in ("127.0.0.1", "localhost")
                    ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                             **({"_node_ip_address": "127.0.0.1"} if loopback else {}))
                else:
                    from dllab.environment import cpu_cores

                    ray.init(num_cpus=cpu_cores(), include_dashboard=False, log_to_driver=False)
            except ConnectionError as exc:
                raise DllabError(f"cannot reach the Ray cluster at {self.address}: {exc}; start one with "
                                 "'ray start --head' and pass the address it prints") from None
        return ray

    def budget(self) -> int:
        return int(self._ray().cluster_resources().get("CPU", 1))

    def map(self, stages: Sequence[Stage], *, workers: int | None = None, on_result: OnResult | None = None,
            errors: str = "raise") -> dict[str, Any]:
        ray = self._ray()
        total = self.budget()
        workers = min(workers or total, len(stages)) or 1
        # a task fits on one node: at most the CPUs of the largest node
        largest = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=total)
        cpus = self.cpus_per_task or max(1, min(total // workers, int(largest) or 1))
        gpus = self.gpus_per_task
        if gpus is None:
            gpus = min(1.0, ray.cluster_resources().get("GPU", 0) / workers)
        task = ray.remote(call_with_cores).options(num_cpus=cpus, num_gpus=gpus, max_retries=self.retries,
                                                   retry_exceptions=True)
        refs = {task.remote(s.fn, s.kwargs, cpus): s.name for s in stages}
        results: dict[str, Any] = {}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                # a RayTaskError, WorkerCrashedError, ... after the retries
                land(results, refs.pop(ref), lambda ref=ref: ray.get(ref), errors=errors, on_result=on_result,
                     explain=lambda exc: f"failed on Ray after {self.retries + 1} attempts: "
                                         f"{describe_failure(getattr(exc, 'cause', None) or exc)}")
        return {s.name: results[s.name] for s in stages}


class SubmititExecutor(Executor):
    """Stages as SLURM jobs through submitit (``cluster="local"`` runs them as local processes, for tests).

    ``folder`` keeps submitit's logs and pickles; ``parameters`` go to ``update_parameters`` (e.g.
    ``slurm_partition``, ``timeout_min``)."""

    def __init__(self, folder: str | Path, *, cluster: str | None = None, cpus_per_task: int = 2,
                 **parameters):
        self.folder, self.cluster, self.cpus_per_task, self.parameters = Path(folder), cluster, cpus_per_task, \
            parameters

    def budget(self) -> int:
        return self.cpus_per_task

    def map(self, stages: Sequence[Stage], *, workers: int | None = None, on_result: OnResult | None = None,
            errors: str = "raise") -> dict[str, Any]:
        try:
            import submitit
        except ImportError:
            raise DllabError("--executor slurm needs submitit: pip install 'dllab[slurm]'") from None
        ex = submitit.AutoExecutor(folder=self.folder, cluster=self.cluster)
        ex.update_parameters(cpus_per_task=self.cpus_per_task, **self.parameters)
        jobs = {ex.submit(call_with_cores, s.fn, s.kwargs, self.cpus_per_task): s.name for s in stages}
        results: dict[str, Any] = {}
        def explain(exc: BaseException, job) -> str:
            # submitit's error carries the job's traceback; its "Type: message" line names what went wrong
            found = re.findall(r"^(\w+(?:Error|Exception)\b.*)$", str(exc), flags=re.MULTILINE)
            return f"failed as job {job.job_id}: {found[-1] if found else describe_failure(exc)}"

        for job in submitit.helpers.as_completed(list(jobs)):
            land(results, jobs[job], job.result, errors=errors, on_result=on_result,
                 explain=lambda exc, job=job: explain(exc, job))
        return {s.name: results[s.name] for s in stages}


def make_executor(kind: str = "local", address: str | None = None, folder: str | Path | None = None) -> Executor:
    """The executor named on the command line: ``local`` (worker processes of this machine), ``ray`` (tasks on
    the Ray cluster at ``address``, or a local Ray) or ``slurm`` (jobs through submitit, logs in ``folder``)."""
    from dllab.errors import ConfigError
    from dllab.executor import LocalExecutor

    if kind == "local":
        return LocalExecutor()
    if kind == "ray":
        return RayExecutor(address)
    if kind == "slurm":
        return SubmititExecutor(Path(folder or ".submitit"))
    raise ConfigError(f"unknown executor {kind!r}; choose local, ray or slurm")


@contextmanager
def loopback_cluster(nodes: int = 2, cpus_per_node: int = 1):
    """A Ray cluster of ``nodes`` worker nodes (``cpus_per_node`` each) and a head without CPUs, all on
    127.0.0.1, for tests and benchmarks on one machine (``ray.cluster_utils.Cluster``; ``remove_node`` simulates
    a lost machine). Ray looks up this machine's outward address by default; the nodes, the driver and that
    lookup are all held to the loopback address here (ray-project/ray#59110, #37314). Shut down on exit."""
    try:
        import ray
        import ray._private.services as services
        from ray.cluster_utils import Cluster
    except ImportError:
        raise DllabError("a Ray cluster needs Ray: pip install 'dllab[ray]'") from None
    lookup = services.node_ip_address_from_perspective
    services.node_ip_address_from_perspective = lambda *a, **k: "127.0.0.1"
    cluster = None
    try:
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1",
                                                                "include_dashboard": False})
        for _ in range(nodes):
            cluster.add_node(num_cpus=cpus_per_node, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        yield cluster
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        services.node_ip_address_from_perspective = lookup
