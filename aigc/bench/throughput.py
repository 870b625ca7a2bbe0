"""Measure 3 ("throughput"): images per second of the live training step, and the GFLOP/s its
conv and linear layers achieve, against a 2048^2 fp32 matmul timed in the same run.

The step is the live loop itself (:class:`aigc.training.TrainingRun` with the live recipe), so
the figure is what a user's run gets, optimiser and EMA included. Variants change one thing
each: memory format, batch size, thread count, or ``torch.compile`` on the modules the step
calls. FLOPs
are counted with ``FlopCounterMode`` as the difference between a 2-step and a 1-step run, which
leaves out the snapshot grid the loop draws when it finishes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from aigc import recipes
from aigc.bench.live import live_run
from aigc.bench.report import Figure, Mode, Section
from aigc.bench.timing import interleaved, ratios, seconds
from aigc.data import ImageSet, load_shipped
from aigc.models import GAN, VAE
from aigc.training import TrainingRun

NAME = "throughput"
MATMUL_N = 2048
WARMUP_STEPS = 5  # the first steps build oneDNN primitives (and compiled graphs): not timed


@dataclass(frozen=True)
class Variant:
    name: str
    batch_size: int
    channels_last: bool = False
    compiled: bool = False
    threads: int | None = None  # None: torch's default (one per core)


@dataclass(frozen=True)
class Settings:
    kinds: tuple[str, ...]
    steps: dict[str, int]  # timed steps per run at the live batch size ...
    seconds: float  # ... or this many seconds of timed steps, whichever comes first
    repeats: int
    batch_sizes: tuple[int, ...]
    compile: tuple[str, ...]  # kinds to try torch.compile on: it takes a minute or two each


SETTINGS: dict[Mode, Settings] = {
    "smoke": Settings(("gan", "vae"), {"gan": 2, "vae": 2}, 1.0, 1, (32,), compile=()),
    "quick": Settings(
        ("gan", "vae"),  # the kinds the Train page offers
        {"gan": 30, "vae": 60},
        1.0,
        3,
        (32, 64, 128),
        compile=(),
    ),
    "full": Settings(
        ("gan", "vae"),
        {"gan": 60, "vae": 120},
        2.0,
        3,
        (32, 64, 128),
        compile=("gan", "vae"),
    ),
}


def matmul_gflops(n: int = MATMUL_N, calls: int = 3) -> float:
    """GFLOP/s of the best of `calls` n x n fp32 matmuls (2 n^3 FLOPs each): the machine's
    ceiling for the dense math a training step is made of."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = min(seconds(lambda: a @ b) for _ in range(calls))
    return 2 * n**3 / best / 1e9


def variants(kind: str, s: Settings) -> list[Variant]:
    live = recipes.live_train_config(kind).batch_size
    out = [Variant(f"live (batch {live})", live)]
    if kind != "vae":  # the VAE is an MLP: no conv layer for a memory format to matter to
        out.append(Variant(f"channels_last (batch {live})", live, channels_last=True))
    out += [Variant(f"batch {b}", b) for b in s.batch_sizes if b != live]
    out.append(Variant(f"1 thread (batch {live})", live, threads=1))
    if kind in s.compile:
        out.append(Variant(f"torch.compile (batch {live})", live, compiled=True))
    return out


def compile_step_modules(run: TrainingRun) -> None:
    """torch.compile what the live step calls, in place on the run's own copy of the model.

    GAN: G and D (their forward). VAE: encode and decode_logits, the methods the step calls
    (compiling the module would only cover forward, which the step never calls).
    """
    m = run.model
    if isinstance(m, GAN):
        m.generator.compile()
        m.discriminator.compile()
    elif isinstance(m, VAE):
        m.encode = torch.compile(m.encode)
        m.decode_logits = torch.compile(m.decode_logits)
    else:
        m.compile()


@dataclass
class Timing:
    images_per_s: float
    first_steps_s: float  # training seconds of the untimed warm-up steps


def time_variant(
    kind: str, images: ImageSet, v: Variant, steps: int, seed: int, seconds: float | None = None
) -> Timing:
    """Images/s over up to `steps` live steps (or `seconds` of them) after WARMUP_STEPS; the
    loop's own clock (step time only) is read at the warm-up's snapshot and at the end."""
    run = live_run(
        kind,
        images,
        seed,
        steps=WARMUP_STEPS + steps,
        snapshot_every=WARMUP_STEPS,
        batch_size=v.batch_size,
    )
    if v.channels_last:
        run.model.to(memory_format=torch.channels_last)
    if v.compiled:
        compile_step_modules(run)
    threads = torch.get_num_threads()
    torch.set_num_threads(v.threads or threads)
    start = None
    try:
        for ev in run:
            if ev.step == WARMUP_STEPS and start is None:
                start = ev
            elif start is not None and seconds and ev.elapsed - start.elapsed >= seconds:
                run.stop()  # a slow machine would otherwise take minutes over the step budget
    finally:
        torch.set_num_threads(threads)
    return Timing(
        (ev.step - start.step) * v.batch_size / (ev.elapsed - start.elapsed), start.elapsed
    )


def flops_per_step(kind: str, images: ImageSet, batch_size: int) -> float:
    """FLOPs of one live step (conv, linear and their backward)."""

    def counted(steps: int) -> int:
        run = live_run(kind, images, 0, steps=steps, snapshot_every=10**9, batch_size=batch_size)
        with FlopCounterMode(display=False) as counter:
            for _ in run:
                pass
        return counter.get_total_flops()

    return float(counted(2) - counted(1))


def _side(kind: str, images: ImageSet, v: Variant, steps: int, seconds: float):
    """A side for timing.interleaved; a compiled variant that fails gives its error instead
    of stopping the bench (the notes then say so)."""

    def measure(round_: int) -> Timing | str:
        try:
            return time_variant(kind, images, v, steps, round_, seconds)
        except Exception as e:
            if not v.compiled:
                raise
            return f"{type(e).__name__}: {e}".splitlines()[0]

    return measure


def run(mode: Mode) -> Section:
    s = SETTINGS[mode]
    section = Section(NAME, "Throughput")
    images = load_shipped("mnist", "train")
    sides = {"matmul": lambda r: matmul_gflops()}
    plan = {kind: variants(kind, s) for kind in s.kinds}
    for kind, vs in plan.items():
        live_batch = vs[0].batch_size
        for v in vs:
            steps = max(2, s.steps[kind] * live_batch // v.batch_size)  # about equal time each
            sides[f"{kind} {v.name}"] = _side(kind, images, v, steps, s.seconds)
    results = interleaved(sides, s.repeats)
    matmul = results.pop("matmul")
    section.figures.append(Figure(f"matmul {MATMUL_N}^2 fp32", "GFLOP/s", matmul))
    for kind, vs in plan.items():
        flops = {b: flops_per_step(kind, images, b) for b in {v.batch_size for v in vs}}
        live = [t.images_per_s for t in results[f"{kind} {vs[0].name}"]]
        for v in vs:
            timings = results[f"{kind} {v.name}"]
            failed = [t for t in timings if isinstance(t, str)]
            if failed:
                section.notes.append(f"- {kind} {v.name}: failed ({failed[0]}).")
                continue
            rate = [t.images_per_s for t in timings]
            gflops = [r / v.batch_size * flops[v.batch_size] / 1e9 for r in rate]
            section.figures += [
                Figure(f"{kind} {v.name}: train images/s", "img/s", rate),
                Figure(f"{kind} {v.name}: conv+linear", "GFLOP/s", gflops),
            ]
            if v is vs[0]:
                section.figures.append(
                    Figure(f"{kind} {v.name}: share of matmul GFLOP/s", "x", ratios(gflops, matmul))
                )
            else:
                section.figures.append(
                    Figure(f"{kind} {v.name} / live: images/s", "x", ratios(rate, live))
                )
            if v.compiled:
                section.figures.append(
                    Figure(
                        f"{kind} torch.compile: first {WARMUP_STEPS} steps (compiling)",
                        "s",
                        [timings[0].first_steps_s],
                        note=f"eager: {results[f'{kind} {vs[0].name}'][0].first_steps_s:.2f} s",
                    )
                )
    section.notes += notes(section.figures)
    return section


def notes(figures: list[Figure]) -> list[str]:
    """The 'Throughput notes' block: what each variant did to the live step, in words."""
    out = []
    for f in figures:
        if f.name.endswith("/ live: images/s"):
            variant = f.name.removesuffix(" / live: images/s")
            verdict = "faster" if f.min > 1.05 else "slower" if f.max < 0.95 else "no clear change"
            out.append(
                f"- {variant}: {f.median:.2f}x the live images/s "
                f"(range {f.min:.2f}-{f.max:.2f}, {f.repeats} rounds): {verdict}."
            )
        if f.name.endswith("share of matmul GFLOP/s"):
            out.append(f"- {f.name.split(':')[0]}: {f.median:.0%} of the matmul's GFLOP/s.")
        if f.name.endswith("(compiling)"):
            out.append(
                f"- {f.name.split(':')[0]}: the first {WARMUP_STEPS} steps took "
                f"{f.median:.1f} s ({f.note}); a live run pays this before its first snapshot, "
                "and again for the EMA copy's first eval-mode call."
            )
    out.append(
        "- A bigger batch buys images/s, not learning: it takes fewer optimiser steps per "
        "second, so the recipes' batch sizes stand unless the time-to-recognisable figures "
        "improve with them."
    )
    return out
