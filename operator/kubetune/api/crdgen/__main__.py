"""``python -m kubetune.api.crdgen [CRD_DIR] [--docs PATH] [--examples DIR] [--check]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import render_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubetune.api.crdgen", description=__doc__)
    parser.add_argument("crd_dir", nargs="?", default="crds", help="where the CRD YAML goes (default: crds)")
    parser.add_argument("--docs", default="docs/api.md", help="the API reference to write (default: docs/api.md)")
    parser.add_argument("--examples", default="examples", help="manifests embedded in the reference")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of date")
    args = parser.parse_args(argv)

    files = render_all(Path.cwd(), Path(args.crd_dir), Path(args.docs), Path(args.examples))
    stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path} (run `make crds`)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
