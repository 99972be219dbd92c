"""The export's validation record as a terminal table."""

from __future__ import annotations

import os

from edgeward.core.rundir import RunDir


def cpu_summary(entry: dict) -> str:
    """An int8 artifact's metric drop on each CPU class it was checked on ("" for float artifacts)."""
    return ", ".join(f"{cpu} {'' if c['passed'] else 'FAILED '}{c['drop_points']:+.2f}" if "drop_points" in c
                     else f"{cpu} not run" for cpu, c in entry.get("cpu", {}).items())


def result_text(entry: dict) -> str:
    if entry.get("degenerate"):
        return "DEGENERATE (not a pass): " + entry["degenerate"]
    return "ok" if entry["passed"] else "FAILED: " + entry.get("reason", "")


def export_rows(validation: dict) -> tuple[list[str], list[list[str]]]:
    header = ["artifact", "how", "size", "metric", "drop", "max abs diff", "agreement", "drop by CPU class", "result"]
    rows = []
    for a in validation["artifacts"]:
        if "metric" not in a:
            rows.append([a["artifact"], "", "", "", "", "", "", "", "FAILED: " + a.get("reason", "")])
            continue
        rows.append([a["artifact"], a["method"], f"{a['size_bytes']:,}", f"{a['metric']:.4f}", f"{a['drop_points']:+.2f}",
                     f"{a['max_abs_diff']:.1e}", f"{a['agreement']:.2%}", cpu_summary(a), result_text(a)])
    return header, rows


def export_table(run_dir: str | os.PathLike) -> str:
    run = RunDir(run_dir)
    validation = run.read_json(run.validation_file) or {"artifacts": []}
    header, rows = export_rows(validation)
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    targets = validation.get("targets") or {}
    for cpu, why in targets.get("skipped", {}).items():
        lines.append(f"int8 not checked on {cpu}: {why}")
    degenerate = sorted({a["degenerate"] for a in validation["artifacts"] if a.get("degenerate")})
    for why in degenerate:
        lines.append(f"WARNING: the checks are degenerate: {why}; every artifact agrees with such a reference, so none "
                     "is validated (is the model trained?)")
    rec = validation.get("recommendation")
    if rec and rec.get("artifact"):
        lines.append(f"recommended for {rec['device']}: {rec['artifact']} ({rec['reason']})")
    elif rec:
        lines.append(f"no recommendation for {rec['device']}: {rec['reason']}")
    return "\n".join(lines)
