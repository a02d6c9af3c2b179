"""The `kemr` command: `kemr crds` prints (or writes) the install manifests, `kemr run` runs the operator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kemr", description="Kubernetes Elastic MapReduce operator")
    commands = parser.add_subparsers(dest="command", required=True)
    crds = commands.add_parser("crds", help="print the CRDs and the admission policy as multi-document YAML")
    crds.add_argument("--out", type=Path, help="write one file per manifest into this directory instead")
    commands.add_parser("run", help="run the operator", add_help=False)
    args, rest = parser.parse_known_args(argv)

    if args.command == "crds":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        from kemr.api.manifests import render_all, write_files

        if args.out is None:
            sys.stdout.write(render_all())
        else:
            for path in write_files(args.out):
                print(path)
        return 0

    # `kemr run [options]`: the operator's own argument parser handles the rest.
    from kemr.controllers.run import main as run_operator

    return run_operator(rest)


if __name__ == "__main__":
    sys.exit(main())
