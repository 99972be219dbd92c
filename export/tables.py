"""The export's validation record as a terminal table."""

from __future__ import annotations

import os

from edgeward.core.rundir import RunDir


def export_rows(validation: dict) -> tuple[list[str], list[list[str]]]:
    header = ["artifact", "how", "size", "metric", "drop", "max abs diff", "agreement", "result"]
    rows = []
    for a in validation["artifacts"]:
        if "metric" not in a:
            rows.append([a["artifact"], "", "", "", "", "", "", "FAILED: " + a.get("reason", "")])
            continue
        rows.append([a["artifact"], a["method"], f"{a['size_bytes']:,}", f"{a['metric']:.4f}", f"{a['drop_points']:+.2f}",
                     f"{a['max_abs_diff']:.1e}", f"{a['agreement']:.2%}", ("ok" if a["passed"] else "FAILED: ") +
                     ("" if a["passed"] else a["reason"])])
    return header, rows


def export_table(run_dir: str | os.PathLike) -> str:
    run = RunDir(run_dir)
    validation = run.read_json(run.validation_file) or {"artifacts": []}
    header, rows = export_rows(validation)
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    rec = validation.get("recommendation")
    if rec and rec.get("artifact"):
        lines.append(f"recommended for {rec['device']}: {rec['artifact']} ({rec['reason']})")
    return "\n".join(lines)
