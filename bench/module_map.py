"""Module map of a checkout: Python lines per package and the largest modules.

For comparing two states of the code (e.g. a commit in a temporary worktree and this
checkout): packages are `chatflow/<pkg>` (modules directly in `chatflow/` count as
`chatflow`) and `sdk/chatflow_client`; lines are physical lines of `*.py` files.

Usage: python -m bench.module_map [CHECKOUT ...] [--top 12]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

ROOTS = ("chatflow", "sdk/chatflow_client")


def package_of(relative: Path) -> str:
    parts = relative.parts
    if parts[0] == "sdk":
        return "/".join(parts[:2])
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def module_lines(checkout: Path) -> dict[str, int]:
    """Each Python module's path (relative to `checkout`) -> its line count."""
    found: dict[str, int] = {}
    for root in ROOTS:
        for path in sorted((checkout / root).rglob("*.py")):
            with path.open("rb") as handle:
                found[str(path.relative_to(checkout))] = sum(1 for _ in handle)
    return found


def report(checkout: Path, top: int) -> list[str]:
    modules = module_lines(checkout)
    packages: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for name, lines in modules.items():
        package = package_of(Path(name))
        packages[package] += lines
        counts[package] += 1
    out = [f"### {checkout} ({sum(modules.values()):,} lines in {len(modules)} modules)", ""]
    out += ["| package | modules | lines |", "|---|---:|---:|"]
    out += [f"| {name} | {counts[name]} | {lines:,} |" for name, lines in sorted(packages.items())]
    out += ["", f"Largest {top} modules:", "", "| module | lines |", "|---|---:|"]
    largest = sorted(modules.items(), key=lambda item: -item[1])[:top]
    out += [f"| {name} | {lines:,} |" for name, lines in largest]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="*", type=Path, default=[Path(".")])
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    for checkout in args.checkouts:
        print("\n".join(report(checkout, args.top)), end="\n\n")


if __name__ == "__main__":
    main()
