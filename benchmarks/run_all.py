"""Run every benchmark module (benchmarks/bench_*.py), each in its own process so that peak
memory is per benchmark; results land in benchmarks/results.json and RESULTS.md."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    for path in sorted(HERE.glob("bench_*.py")):
        print(f"== {path.stem}", flush=True)
        if subprocess.call([sys.executable, "-m", f"benchmarks.{path.stem}"], cwd=HERE.parent) != 0:
            failed.append(path.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
