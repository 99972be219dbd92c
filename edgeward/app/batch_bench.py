"""``edgeward bench-batch RUN``: rows per second of batch scoring on one large CSV file, in this process and on Ray
clusters of 1, 2 and 3 worker nodes on this machine (a head and its workers on 127.0.0.1, each its own raylet and
object store; an actor of one CPU per worker node), side by side in one run (``docs/scale.md``).

The file is the run's own data repeated to ``rows`` rows (written once, kept in the run directory).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from edgeward.core.config import at_least, check, option
from edgeward.core.errors import InputError
from edgeward.core.rundir import RunDir


@dataclass(frozen=True)
class BatchBenchOptions:
    rows: int = option(10_000_000, "rows in the benchmark file")
    nodes: tuple[int, ...] = option((1, 2, 3), "Ray clusters to measure: worker nodes on this machine, "
                                                  "comma-separated (an actor per node)")

    def __post_init__(self):
        at_least(self, 1000, "rows")
        check(self, "nodes", bool(self.nodes) and all(isinstance(n, int) and 1 <= n <= 16 for n in self.nodes),
              "node counts 1-16, comma-separated")


def big_csv(source: Path, out: Path, rows: int) -> Path:
    """``source``'s data rows repeated until ``rows`` (header once); kept when it is already there."""
    if out.exists() and sum(1 for _ in out.open("rb")) - 1 == rows:
        return out
    lines = source.read_bytes().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    if not body:
        raise InputError(f"{source}: expected data rows, got a header only")
    with out.open("wb") as f:
        f.write(header)
        left = rows
        while left > 0:
            chunk = body[:left]
            f.writelines(chunk)
            left -= len(chunk)
    return out


def bench_batch(run_dir: str, options: BatchBenchOptions = BatchBenchOptions(), log=lambda s: None) -> dict:
    from edgeward.runtime.services.batch import BatchOptions, run_batch

    run = RunDir(run_dir)
    model = run.artifact("model.onnx")
    if not model.exists():
        raise InputError(f"{model}: not found; export the run first (edgeward export {run})")
    data = big_csv(Path(run.record().data.path), run / "bench-batch.csv", options.rows)
    log(f"{data}: {options.rows:,} rows, {data.stat().st_size / 1e9:.2f} GB")
    results = []

    def measure(label: str, batch_options: BatchOptions) -> None:
        out = Path(tempfile.mkdtemp(prefix="edgeward-batch-"))
        try:
            s = run_batch(str(model), str(data), out / "o", batch_options)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        results.append({**asdict(s), "engine": label, "rows_per_second": s.rows_per_second})
        log(f"{label}: {s.rows:,} rows in {s.seconds:.1f} s, {s.rows_per_second:,.0f} rows/s")

    measure("in-process (local)", BatchOptions())
    for nodes in options.nodes:
        with local_cluster(nodes) as address:
            measure(f"ray, {nodes} node(s), {nodes} actor(s)", BatchOptions(engine="ray", address=address, workers=nodes))
    base = results[0]["rows_per_second"]
    for r in results:
        r["vs_in_process"] = r["rows_per_second"] / base
    result = {"file": str(data), "rows": options.rows, "results": results}
    (run / "bench-batch.json").write_text(json.dumps(result, indent=2))
    return result


@contextmanager
def local_cluster(workers: int):
    """A Ray cluster on this machine, on 127.0.0.1: a head without CPUs (the driver's node) and ``workers`` worker
    nodes of one CPU, each its own raylet and object store (Ray's cluster utilities); its address."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False,
                                                            "node_ip_address": "127.0.0.1"})
    try:
        for _ in range(workers):
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        yield cluster.address
    finally:
        ray.shutdown()  # the driver's connection, before the nodes go
        cluster.shutdown()


def markdown(result: dict) -> str:
    lines = ["| engine | rows | seconds | rows/s | vs in-process |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['engine']} | {r['rows']:,} | {r['seconds']:.1f} | {r['rows_per_second']:,.0f} | "
              f"{r['vs_in_process']:.2f}x |" for r in result["results"]]
    return "\n".join(lines)
