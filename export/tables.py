"""The export's validation record as a terminal table."""

from __future__ import annotations

import os

from edgeward.core.records import ArtifactCheck, ValidationRecord
from edgeward.core.rundir import RunDir


def cpu_summary(check: ArtifactCheck) -> str:
    """An int8 artifact's metric drop on each CPU class it was checked on ("" for float artifacts)."""
    return ", ".join(f"{cpu} {'' if c['passed'] else 'FAILED '}{c['drop_points']:+.2f}" if "drop_points" in c
                     else f"{cpu} not run" for cpu, c in check.cpu.items())


def result_text(check: ArtifactCheck) -> str:
    if check.degenerate:
        return "DEGENERATE (not a pass): " + check.degenerate
    return "ok" if check.passed else "FAILED: " + check.reason


def export_rows(validation: ValidationRecord) -> tuple[list[str], list[list[str]]]:
    header = ["artifact", "how", "size", "metric", "drop", "max abs diff", "agreement", "drop by CPU class", "result"]
    rows = []
    for a in validation.artifacts:
        if not isinstance(a, ArtifactCheck):
            rows.append([a.artifact, "", "", "", "", "", "", "", "FAILED: " + a.reason])
            continue
        rows.append([a.artifact, a.method, f"{a.size_bytes:,}", f"{a.metric:.4f}", f"{a.drop_points:+.2f}",
                     f"{a.max_abs_diff:.1e}", f"{a.agreement:.2%}", cpu_summary(a), result_text(a)])
    return header, rows


def export_table(run_dir: str | os.PathLike) -> str:
    validation = RunDir(run_dir).validation()
    header, rows = export_rows(validation)
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    if validation.targets.get("lacking"):
        t = validation.targets
        lines.append(f"checked on this host's CPU ({t['run_with']}): it lacks {t['lacking']}, which {t['device']} runs "
                     "them on")
    for cpu, why in validation.targets.get("skipped", {}).items():
        lines.append(f"int8 not checked on {cpu}: {why}")
    for why in sorted({a.degenerate for a in validation.checks if a.degenerate}):
        lines.append(f"WARNING: the checks are degenerate: {why}; every artifact agrees with such a reference, so none "
                     "is validated (is the model trained?)")
    rec = validation.recommendation
    if rec and rec.get("artifact"):
        lines.append(f"recommended for {rec['device']}: {rec['artifact']} ({rec['reason']})")
    elif rec:
        lines.append(f"no recommendation for {rec['device']}: {rec['reason']}")
    return "\n".join(lines)
