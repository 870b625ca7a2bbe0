"""Figures and how they are written: a printed table, bench.json for machines, bench.md for
people. A figure keeps every repeat, so the summary (median, min, max, repeats) can always be
checked against the raw values, and a target that is not met is written as MISSED."""

from __future__ import annotations

import datetime as dt
import json
import math
import operator
import os
import platform
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

Mode = Literal["smoke", "quick", "full"]
MODES: tuple[Mode, ...] = ("smoke", "quick", "full")

_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
NOT_REACHED = math.inf  # a repeat that did not reach its threshold within the cap
BUSY_MACHINE = 0.10  # other processes' CPU share above which a section's timings are suspect


@dataclass(frozen=True)
class Target:
    op: str  # one of "<=", "<", ">=", ">"
    bound: float

    def met(self, value: float) -> bool:
        return _OPS[self.op](value, self.bound)

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"


@dataclass
class Figure:
    """One measured quantity.

    Args:
        name: what was measured, e.g. "gan mnist: s to 80% agreement".
        unit: "s", "ms", "img/s", "GFLOP/s", "nats", "x" (a ratio) ...
        values: one per repeat; NOT_REACHED (inf) for a repeat that hit its cap first.
        target: the bound the median must satisfy, if the issue sets one.
        note: a plain-words remark ("page not ready", "ours / theirs").
    """

    name: str
    unit: str
    values: list[float]
    target: Target | None = None
    note: str = ""

    @property
    def repeats(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def min(self) -> float | None:
        return min(self.values) if self.values else None

    @property
    def max(self) -> float | None:
        return max(self.values) if self.values else None

    @property
    def status(self) -> str:
        """ "met", "MISSED", "not measured" (a target but no values) or "" (no target)."""
        if self.target is None:
            return ""
        if not self.values:
            return "not measured"
        return "met" if self.target.met(self.median) else "MISSED"

    def as_json(self) -> dict:
        def finite(v: float | None) -> float | None:
            return v if v is None or math.isfinite(v) else None  # JSON has no inf

        return {
            "name": self.name,
            "unit": self.unit,
            "median": finite(self.median),
            "min": finite(self.min),
            "max": finite(self.max),
            "repeats": self.repeats,
            "not_reached": sum(1 for v in self.values if v == NOT_REACHED),
            "values": [finite(v) for v in self.values],
            "target": str(self.target) if self.target else None,
            "status": self.status,
            "note": self.note,
        }


@dataclass
class Section:
    """What one measure (one --only NAME) found."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # lines for bench.md under the table
    seconds: float = 0.0  # wall-clock time the measure took
    others_cpu: float = 0.0  # share of the CPU other processes used meanwhile
    # Processes the measure itself starts (a server, a browser): the kernel credits us a
    # child's CPU only once we have waited for it, and a browser's helpers are not all our
    # children, so some of their work counts as others'; the warning names them.
    spawns: str = ""


@dataclass
class Report:
    mode: Mode
    argv: list[str]
    sections: list[Section] = field(default_factory=list)
    machine: dict = field(default_factory=lambda: machine_info())

    def figures(self) -> list[tuple[Section, Figure]]:
        return [(s, f) for s in self.sections for f in s.figures]

    def missed(self) -> list[tuple[Section, Figure]]:
        return [(s, f) for s, f in self.figures() if f.status == "MISSED"]

    def warnings(self) -> list[str]:
        """One line per measure that shared the CPU with other processes: on 2 cores, another
        busy process slows torch's two threads by far more than its share (they wait on each
        other), so such timings say more about the neighbour than about us."""
        return [
            f"WARNING: other processes used {s.others_cpu:.0%} of the CPU during {s.name}"
            + (f", {s.spawns} among them" if s.spawns else "")
            + "; if others were busy, its timings are inflated: rerun on a quiet machine"
            for s in self.sections
            if s.others_cpu > BUSY_MACHINE and s.figures  # a skipped measure timed nothing
        ]


def machine_info() -> dict:
    """Where the figures were taken: they mean little without the CPU and thread count."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        # Other processes on a 2-core machine move every timing: a load near 0 is a quiet run.
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == NOT_REACHED:
        return "not reached"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


_HEADER = ("measure", "figure", "unit", "median", "min", "max", "n", "target", "status")


def _rows(report: Report) -> list[tuple[str, ...]]:
    return [
        (
            s.name,
            f.name,
            f.unit,
            fmt(f.median),
            fmt(f.min),
            fmt(f.max),
            str(f.repeats),
            str(f.target) if f.target else "",
            " ".join(x for x in (f.status, f.note and f"({f.note})") if x),
        )
        for s, f in report.figures()
    ]


def table(report: Report) -> str:
    """The figures as aligned plain text, for the terminal."""
    rows = [_HEADER, *_rows(report)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    missed = report.missed()
    lines.append("")
    lines.append(
        f"MISSED {len(missed)} target(s): " + "; ".join(f"{s.name}: {f.name}" for s, f in missed)
        if missed
        else "every measured target met"
    )
    lines += report.warnings()
    return "\n".join(lines)


def markdown(report: Report) -> str:
    m = report.machine
    out = [
        "# aigc bench",
        "",
        f"`python -m aigc.bench {' '.join(report.argv)}` ({report.mode} mode), {m['date']}",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable), {m['platform']}",
        f"- torch {m['torch']}, {m['threads']} threads, Python {m['python']}",
        f"- load average (1, 5, 15 min) at start {m['load_average_start']}, "
        f"at end {m.get('load_average_end', '-')}",
        "- every figure: median, min and max over n repeats; sides of a comparison were run "
        "interleaved (A, B, A, B ...) in this run",
        "",
        "| " + " | ".join(_HEADER) + " |",
        "|" + "---|" * len(_HEADER),
    ]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in _rows(report)]
    missed = report.missed()
    out.append("")
    out += (
        [
            f"**MISSED**: {s.name}: {f.name} (median {fmt(f.median)} {f.unit}, target {f.target})"
            for s, f in missed
        ]
        if missed
        else ["Every measured target met."]
    )
    out += [f"**{w}**" for w in report.warnings()]
    for s in report.sections:
        if s.notes:
            out += ["", f"## {s.title} notes", "", *s.notes]
    out += ["", "## Time per measure", ""]
    out += [
        f"- {s.name}: {s.seconds:.0f} s; other processes used {s.others_cpu:.0%} of the CPU "
        "meanwhile"
        for s in report.sections
    ]
    return "\n".join(out) + "\n"


def write(report: Report, out_dir: Path) -> tuple[Path, Path]:
    """Write bench.json and bench.md into `out_dir` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "mode": report.mode,
        "argv": report.argv,
        "machine": report.machine,
        "sections": [
            {
                "name": s.name,
                "title": s.title,
                "seconds": round(s.seconds, 1),
                "others_cpu": round(s.others_cpu, 3),
                "figures": [f.as_json() for f in s.figures],
                "notes": s.notes,
            }
            for s in report.sections
        ],
        "missed": [f"{s.name}: {f.name}" for s, f in report.missed()],
        "warnings": report.warnings(),
    }
    json_path, md_path = out_dir / "bench.json", out_dir / "bench.md"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path
