"""``make audit``'s report: counts, findings with their fixes, and packages that could not be audited, from a
report in pip-audit's JSON format (pip-audit itself needs PyPI's advisory data, which this machine cannot read)."""

from edgeward.tools.audit import lines, summarise

REPORT = {"dependencies": [
    {"name": "numpy", "version": "2.1.0", "vulns": []},
    {"name": "pillow", "version": "9.0.0", "vulns": [{"id": "PYSEC-2022-10", "fix_versions": ["9.0.1"]},
                                                      {"id": "GHSA-xxxx", "fix_versions": []}]},
    {"name": "absl-py", "skip_reason": "Dependency not found on PyPI and could not be audited: absl-py (1.4.0)"},
]}


def test_findings_are_reported_with_their_fixes_and_nothing_is_called_clean_that_was_not_audited():
    result = summarise(REPORT)
    assert (result["packages"], result["audited"], result["skipped"]) == (3, 2, 1)
    text = lines({**result, "service": "https://pypi.org/pypi/pip/json answered HTTP 404"})
    assert text[0] == "audit: 3 installed packages, 2 audited, 1 not audited, 1 with known vulnerabilities"
    assert "  VULNERABLE pillow 9.0.0: PYSEC-2022-10 (fixed in 9.0.1); GHSA-xxxx (fixed in no release yet)" in text
    assert "  not audited (1): Dependency not found on PyPI and could not be audited" in text
    assert lines({"ran": False, "why": "No module named pip_audit"}) == ["audit: pip-audit did not run: No module named pip_audit"]
