"""The command line starts without the heavy libraries: a command imports what it uses when it runs."""
from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "sklearn", "scipy", "plotly", "pyarrow")


def test_cli_and_jobs_import_no_heavy_library():
    # `custseg version`, `--help` and an option error should answer in a fraction of a second, and
    # `custseg features` (DuckDB in, DuckDB out) never needs pandas: they cost about 1.5 s per process
    code = ("import sys, custseg.cli, custseg.jobs, custseg.features, custseg.export; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_the_package_api_names_resolve():
    # custseg.rfm is the function the README documents (and custseg.rfm the module's name too)
    import custseg
    import custseg.features
    from custseg.features import features
    from custseg.rfm import rfm

    assert custseg.rfm is rfm and custseg.features.features is features
    assert callable(custseg.fit) and callable(custseg.backtest)
    assert callable(custseg.fit) and callable(custseg.backtest)
