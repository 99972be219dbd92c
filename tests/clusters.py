"""A Ray cluster of several nodes on 127.0.0.1 for tests: Ray's own test cluster utilities start a head and workers,
each its own raylet and object store, as ``ray start`` would on separate machines. With the processes it runs:
a node's raylet, and the actor processes each raylet started."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


@contextmanager
def ray_cluster(workers: int = 2, cpus: int = 2):
    """A head (no CPUs: the driver's node, where no actor runs) and ``workers`` worker nodes of ``cpus`` CPUs."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False,
                                                            "node_ip_address": "127.0.0.1"})
    try:
        for _ in range(workers):
            add_worker(cluster, cpus)
        yield cluster
    finally:
        cluster.shutdown()


def add_worker(cluster, cpus: int = 2):
    return cluster.add_node(num_cpus=cpus, node_ip_address="127.0.0.1")


def raylet_pid(node) -> int:
    return node.all_processes["raylet"][0].process.pid


def actor_pids(name: str) -> dict[int, int]:
    """The processes of this machine running a Ray actor of class ``name``: pid -> the pid of its raylet."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if cmdline.startswith(f"ray::{name}"):
            found[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state: ppid
    return found
