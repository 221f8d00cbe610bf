"""Start-up cost of the app module: wall time and peak RSS of `python -c "import server.app"`, next
to a bare interpreter measured in the same run, each the median of --repeat fresh processes.
`--tree DIR` also measures another checkout (e.g. `git archive` of an earlier commit) with this
virtual environment, interleaved with this one, so a change's cost is measured in one run.

    .venv/bin/python bench/startup.py --repeat 15 [--tree /tmp/before]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "python -c pass": "pass",
    "import server.settings": "import server.settings",
    "import server.app": "import server.app",
}


def one_run(code: str, tree: Path = ROOT) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of one fresh interpreter running `code` in `tree` (whose
    packages come first on the path, before the editable install's)."""
    started = time.perf_counter()
    pid = subprocess.Popen([sys.executable, "-c", code], cwd=tree).pid
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{code!r} failed with status {status}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--tree", type=Path, help="another checkout to measure beside this one")
    args = parser.parse_args()
    cases = {name: (code, ROOT) for name, code in CASES.items()}
    if args.tree:
        cases.update(
            {
                f"{name} ({args.tree.name})": (code, args.tree.resolve())
                for name, code in CASES.items()
                if code != "pass"
            }
        )
    for code, tree in cases.values():
        one_run(code, tree)  # warm the file cache and write the .pyc files first
    times: dict[str, list[float]] = {name: [] for name in cases}
    peaks: dict[str, list[int]] = {name: [] for name in cases}
    for _ in range(args.repeat):  # interleaved, so load on the machine falls on every case alike
        for name, (code, tree) in cases.items():
            seconds, rss = one_run(code, tree)
            times[name].append(seconds)
            peaks[name].append(rss)
    base_s, base_rss = statistics.median(times["python -c pass"]), statistics.median(peaks["python -c pass"])
    print(f"median of {args.repeat} runs each, python {sys.version.split()[0]}")
    for name in cases:
        s, rss = statistics.median(times[name]), statistics.median(peaks[name])
        print(
            f"{name:<32} {s * 1000:7.0f} ms  ({s / base_s:4.1f}x bare)  peak RSS {rss / 1024:6.1f} MiB"
            f"  ({rss / base_rss:4.1f}x bare)"
        )


if __name__ == "__main__":
    main()
