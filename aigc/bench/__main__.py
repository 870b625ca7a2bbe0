"""`python -m aigc.bench [--quick | --smoke] [--only NAME ...] [--out DIR]`.

Runs the measures in order, prints the table, writes bench.json and bench.md into --out.
The default is the full run (< 20 minutes on 2 cores); --quick (< 3 minutes) trims repeats,
budgets and the browser and load parts; --smoke runs every part on budgets of a second or
two, to check the machinery: its figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from aigc.bench import (
    concurrent_runs,
    own_images,
    priors,
    review_votes,
    throughput,
    training_speed,
    versus,
)
from aigc.bench.report import Mode, Report, Section, table, write
from aigc.bench.timing import cpu_seconds, others_share


# The page measures drive the Streamlit app, so they import streamlit: only when one runs.
def _interaction(mode: Mode) -> Section:
    from aigc.ui.bench import interaction

    return interaction.run(mode)


def _load(mode: Mode) -> Section:
    from aigc.ui.bench import load

    return load.run(mode)


def _classroom(mode: Mode) -> Section:
    from aigc.ui.bench import classroom

    return classroom.run(mode)


def _morph(mode: Mode) -> Section:
    from aigc.ui.bench import morph

    return morph.run(mode)


# --only NAME -> what measures it, in the order they run
MEASURES: dict[str, Callable[[Mode], Section]] = {
    "time-to-recognisable": training_speed.run,
    "references": versus.run,
    "fitted-priors": priors.run,
    "throughput": throughput.run,
    "concurrent-runs": concurrent_runs.run,
    "own-images": own_images.run,
    "interaction": _interaction,
    "load": _load,
    "classroom": _classroom,
    "morph": _morph,
    "review": review_votes.run,
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m aigc.bench", description=__doc__.split("\n\n")[1])
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="under 3 minutes")
    speed.add_argument("--smoke", action="store_true", help="seconds; checks the machinery only")
    p.add_argument("--only", nargs="+", choices=list(MEASURES), metavar="NAME",
                   help=f"run only these measures: {', '.join(MEASURES)}")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("bench-out"), help="default: bench-out/")
    return p


def run_measure(name: str, mode: Mode) -> Section:
    """Run one measure, recording the CPU seconds it took and the share other processes took."""
    start = cpu_seconds()
    section = MEASURES[name](mode)
    end = cpu_seconds()
    section.seconds, section.others_cpu = end[0] - start[0], others_share(start, end)
    return section


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    mode: Mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    report = Report(mode, argv)
    t0 = time.perf_counter()
    for name in args.only or MEASURES:
        print(f"[{time.perf_counter() - t0:6.0f} s] {name} ...", flush=True)
        report.sections.append(run_measure(name, mode))
    print(f"[{time.perf_counter() - t0:6.0f} s] done\n")
    report.machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(table(report))
    json_path, md_path = write(report, args.out)
    print(f"\nwrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
