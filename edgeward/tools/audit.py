"""``make audit``: known vulnerabilities in the installed dependencies, with pip-audit (PyPA's auditor, which asks
PyPI's advisory data about each installed name and version).

Findings are reported, never silenced: each vulnerable package is printed with its advisories and the versions
that fix them, and the whole result is kept as JSON. Packages pip-audit could not check are counted and named
with its reason (on a machine that cannot reach PyPI's JSON API, that is every package; the report says so
instead of claiming a clean result). The exit code is 0 either way: an advisory published tomorrow must not turn
the build red by itself; it is the team's to act on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path


def audit(out: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off",
                           "--output", str(out)], capture_output=True, text=True)
    if not out.exists():
        return {"ran": False, "why": (done.stderr.strip().splitlines() or ["pip-audit produced no report"])[-1]}
    result = summarise(json.loads(out.read_text()))
    if result["packages"] and not result["audited"]:
        result["service"] = probe_pypi()
    return result


def summarise(report: dict) -> dict:
    """Counts and findings of a pip-audit JSON report."""
    deps = report["dependencies"]
    skipped = [d for d in deps if "skip_reason" in d]
    return {"ran": True, "packages": len(deps), "audited": len(deps) - len(skipped), "skipped": len(skipped),
            "skip_reasons": Counter(d["skip_reason"].split(":")[0] for d in skipped).most_common(),
            "vulnerable": [{"name": d["name"], "version": d["version"],
                            "advisories": [{"id": v["id"], "fix_versions": v.get("fix_versions", [])} for v in d["vulns"]]}
                           for d in deps if d.get("vulns")]}


def probe_pypi(url: str | None = None) -> str:
    """What PyPI's JSON API for one release (where pip-audit reads its advisories) answers from this machine."""
    import urllib.error
    import urllib.request
    from importlib.metadata import version

    url = url or f"https://pypi.org/pypi/pip/{version('pip')}/json"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return f"{url} answered HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered HTTP {exc.code}: PyPI's advisory data cannot be read from this machine"
    except OSError as exc:
        return f"{url} cannot be reached ({exc}): PyPI's advisory data cannot be read from this machine"


def lines(result: dict) -> list[str]:
    if not result["ran"]:
        return [f"audit: pip-audit did not run: {result['why']}"]
    text = [f"audit: {result['packages']} installed packages, {result['audited']} audited, {result['skipped']} not "
            f"audited, {len(result['vulnerable'])} with known vulnerabilities"]
    text += [f"  not audited ({n}): {reason}" for reason, n in result["skip_reasons"]]
    if "service" in result:
        text += [f"  why nothing was audited: {result['service']}"]
    for d in result["vulnerable"]:
        text += [f"  VULNERABLE {d['name']} {d['version']}: " + "; ".join(
            f"{a['id']} (fixed in {', '.join(a['fix_versions']) or 'no release yet'})" for a in d["advisories"])]
    return text


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="runs/audit.json", help="where pip-audit's JSON report goes")


def run(args) -> int:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    print("\n".join(lines(audit(out))))
    return 0
