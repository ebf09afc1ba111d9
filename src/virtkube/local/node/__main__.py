"""`python -m virtkube.local.node --home H --index i`: one local node (see agent.py)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from virtkube.local.node.agent import amain
from virtkube.local.paths import Home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="virtkube-node")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--index", required=True, type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(amain(Home(args.home.resolve()), args.index))


if __name__ == "__main__":
    sys.exit(main())
