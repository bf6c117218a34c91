"""What the daemon holds in memory (issue 16: peak RSS at 10,000 live + 50,000 finished campaigns)."""

from __future__ import annotations

import subprocess
import sys


def test_the_daemon_imports_no_plotting_library_until_a_chart_is_drawn():
    """matplotlib and numpy are ~45 MB of resident memory: serving (app, digest, chart module) does not load
    them; drawing the first chart does."""
    code = (
        "import sys\n"
        "import bidder.app, bidder.notify.digest, bidder.notify.chart as chart\n"
        "assert 'matplotlib' not in sys.modules and 'numpy' not in sys.modules, 'loaded at import'\n"
        "from datetime import date\n"
        "res = chart.build_chart(chart.ChartData(days=(date(2026, 1, 1),), campaigns=()))\n"
        "assert res.png.startswith(chart.PNG_SIGNATURE)\n"
        "assert 'matplotlib' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
