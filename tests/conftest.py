"""The build report's table (tests/test_build_report.py): after a run that included that module,
print every chapter page's execution time as the book build measured it."""
import json


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    ran = any("test_build_report.py" in getattr(r, "nodeid", "")
              for reports in stats.values() for r in reports if hasattr(r, "nodeid"))
    if not ran:
        return
    import test_build_report as br
    if not br.REPORT.exists():
        return
    terminalreporter.section("build report: chapter execution times (limit "
                             f"{br.LIMIT_SECONDS:.0f} s)")
    report = json.loads(br.REPORT.read_text(encoding="utf-8"))
    terminalreporter.write_line(br.table(report, br.executable_pages()))
