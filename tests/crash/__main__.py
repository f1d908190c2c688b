"""scripts/crash: the long run of the crash-safety harness; prints its figures, exit 1 when anything was lost."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.crash.failover import failover_kills
from tests.crash.harness import Figures, kill_loop
from tests.crash.init_points import init_kills
from tests.crash.keys import CrashCheckFailed
from tests.crash.launcher import ExecLauncher, ForkLauncher, Launcher, StartFailed


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/crash", description=__doc__)
    parser.add_argument("--kills", type=int, default=900, help="kill points on one sqlite store (default 900)")
    parser.add_argument("--init", type=int, default=50, help="kill points during sys/init (default 50)")
    parser.add_argument(
        "--failover",
        type=int,
        default=50,
        help="kills of the active node of a 2-node HA cluster (default 50; 0: no PostgreSQL)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", type=int, default=1, help="worker processes of the sqlite server (default 1)")
    parser.add_argument(
        "--exec", action="store_true", help="start `strongroom server` afresh every time instead of forking it (slower)"
    )
    parser.add_argument("--directory", type=Path, default=None, help="kept afterwards (default: a temporary one)")
    return parser.parse_args(argv)


def start_and_kill(launcher: Launcher, directory: Path, kills: int, **options: Any) -> Figures:
    """The kill loop; a server that does not start is a failure of the run, said in one line."""
    try:
        return kill_loop(launcher, directory, kills, **options)
    except StartFailed as error:
        return Figures(failures=[f"the server did not start: {error}"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    directory = args.directory or Path(tempfile.mkdtemp(prefix="strongroom-crash-"))
    launcher: Launcher = ExecLauncher() if args.exec else ForkLauncher()
    began = time.monotonic()
    try:
        figures = start_and_kill(
            launcher, directory / "store", args.kills, workers=args.workers, seed=args.seed, progress=True
        )
        try:
            if args.init:
                init_kills(launcher, directory / "init", args.init, figures)
            if args.failover:
                from tests.postgres import start_postgres

                with start_postgres().new_database() as url:
                    failover_kills(launcher, directory / "ha", url, args.failover, figures)
        except (CrashCheckFailed, AssertionError) as error:
            figures.failures.append(str(error))
    finally:
        launcher.close()
    figures.seconds = time.monotonic() - began
    print("\n".join(figures.lines()))
    print(f"(launch: {'exec' if args.exec else 'fork'}, workers {args.workers}, pid {os.getpid()}, in {directory})")
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
