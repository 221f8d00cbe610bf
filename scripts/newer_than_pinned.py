"""Lists the installed distributions whose version differs from their pin in a constraints file:
what `scripts/test --latest` runs on that the pinned install does not."""

from __future__ import annotations

import re
import sys
from importlib.metadata import distributions
from pathlib import Path


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(constraints: Path) -> None:
    pins = {
        canonical(name): version
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", constraints.read_text(), re.M)
    }
    installed = {canonical(dist.metadata["Name"]): dist.version for dist in distributions()}
    changed = [
        (name, pins[name], installed[name])
        for name in sorted(pins)
        if name in installed and installed[name] != pins[name]
    ]
    new = sorted(set(installed) - set(pins) - {"pip", "racewire", "setuptools"})
    print(f"newest allowed versions: {len(changed)} differ from {constraints}")
    for name, pinned, latest in changed:
        print(f"  {name}: {pinned} -> {latest}")
    for name in new:
        print(f"  {name}: not pinned -> {installed[name]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
