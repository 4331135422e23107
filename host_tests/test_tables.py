# Table-driven tests cannot pass on an empty table: a parametrize list that comes out
# empty fails at collection (pytest.ini), and the loops over a table go through
# checks.rows(), which asserts a least number of rows.
import os
import subprocess
import sys

from checks import raises, rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_rows_refuses_an_empty_or_short_table():
    assert rows([1, 2, 3], 3) == [1, 2, 3]
    assert rows({"a": 1}) == {"a": 1}
    raises(AssertionError, rows, [])
    raises(AssertionError, rows, {})
    e = raises(AssertionError, rows, [1, 2], 3)
    assert "2 rows, expected at least 3" in str(e)


def test_an_empty_parametrize_table_fails_the_run(tmp_path):
    t = tmp_path / "test_empty.py"
    t.write_text("import pytest\n\nTABLE = []\n\n@pytest.mark.parametrize('x', TABLE)\ndef test_x(x):\n    assert x\n")
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-c",
            os.path.join(ROOT, "pytest.ini"),
            "--rootdir",
            str(tmp_path),
            str(t),
        ],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
    )
    assert p.returncode != 0, p.stdout
    assert "Empty parameter set" in p.stdout or "empty parameter set" in p.stdout.lower(), p.stdout[-800:]
