"""The top functions of a py-spy profile in its raw format (bench/compare.py --profile writes them): per
function, the share of samples it was on the stack (inclusive) and on top (self), so a burst's CPU can be
read as "where the operator's time went".

    uv run python bench/profile_top.py /tmp/prof/kemr-30-at-once.txt [--top=40] [--under=FUNCTION]

`--under` keeps only the stacks through FUNCTION (a substring of a frame, e.g. `reconcile_cluster`), to see
what one part costs inside. The samples are of work only: py-spy leaves out threads that wait (no --idle).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path


def parse(text: str) -> list[tuple[list[str], int]]:
    """py-spy's raw lines `frame;frame;... count` (outermost frame first) as (frames, count)."""
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def top(stacks: list[tuple[list[str], int]], limit: int) -> str:
    """The table: inclusive %, self %, function; sorted by inclusive share."""
    total = sum(count for _, count in stacks) or 1
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples", f"{'incl%':>6} {'self%':>6}  function (file:line)"]
    for frame, count in inclusive.most_common(limit):
        lines.append(f"{100 * count / total:6.1f} {100 * own[frame] / total:6.1f}  {frame}")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profile", type=Path)
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--under", help="only the stacks with a frame containing this")
    args = p.parse_args()
    stacks = parse(args.profile.read_text())
    if args.under:
        stacks = [(f, c) for f, c in stacks if any(args.under in frame for frame in f)]
    print(top(stacks, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
