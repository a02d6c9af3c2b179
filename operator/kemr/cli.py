"""The `kemr` command: `kemr crds` prints (or writes) the install manifests, `kemr run` runs the operator,
`kemr emr-api` serves EMR's API."""

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
    commands.add_parser("emr-api", help="serve EMR's API (docs/emr-api.md)", add_help=False)
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

    if args.command == "emr-api":
        from kemr.emrapi.server import main as serve_emr_api

        return serve_emr_api(rest)

    # `kemr run [options]`: the operator's own argument parser handles the rest.
    from kemr.controllers.run import main as run_operator

    return run_operator(rest)


if __name__ == "__main__":
    sys.exit(main())
