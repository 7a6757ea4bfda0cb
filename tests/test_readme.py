"""The README's commands are the ones CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _code_block_after(heading):
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"## {re.escape(heading)}.*?```bash\n(.*?)```", text, re.S)
    assert match, f"README has no bash block under '## {heading}'"
    return [line.strip() for line in match.group(1).splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    lines = [ln for ln in _code_block_after("Run the tests") if "venv" not in ln]
    assert any(ln.startswith("python -m pytest") for ln in lines)
    for line in lines:
        assert line in ci, f"README test command line not in .ci/run: {line}"


def test_main_job_uses_the_console_script():
    lines = _code_block_after("Run the main job")
    assert any(ln.startswith("simcalib ") for ln in lines)


def test_quick_start_runs(capsys):
    text = (ROOT / "README.md").read_text()
    match = re.search(r"## Quick start.*?```python\n(.*?)```", text, re.S)
    assert match, "README has no python block under '## Quick start'"
    exec(compile(match.group(1), "README quick start", "exec"), {})
    ece = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.0 <= ece < 0.5
