"""`python -m dnslb.app.crds DIR` (or `make crds`): write the CRDs of the config kinds; a test fails when
deploy/crds drifts from the models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dnslb.core.config.crds import rendered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnslb.app.crds", description=__doc__)
    parser.add_argument("directory", type=Path, help="where to write the CRD files (deploy/crds)")
    args = parser.parse_args(argv)
    args.directory.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (args.directory / name).write_text(text)
        print(f"wrote {args.directory / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
