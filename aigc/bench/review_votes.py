"""Measure "review": 30 reviewers voting on one review at once, through the core API the
reviewer's page calls (:mod:`aigc.review`), on SQLite and, where it can run, PostgreSQL.

Each reviewer is a thread that joins, then votes: :func:`review.vote`, then
:func:`review.next_item` for the next pair. Twice: flat out, no time spent looking at the
images (far harsher than people: an upper bound of what the store adds to a click), and
paced, each reviewer looking 0.5-1.5 s at each pair before voting (quick clickers). The
figures: votes stored against votes cast (the issue's "lose no vote"), and the time from a
vote to the next pair being ready, p50 and p95, over every vote of every reviewer; the page
then draws two images, which is not measured here.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from dataclasses import dataclass

from aigc import review
from aigc.bench import postgres
from aigc.bench.report import Figure, Mode, Section, Target
from aigc.bench.timing import percentile

NAME = "review"
MODELS = (
    review.Entry("shipped GAN", "gan", "mnist", shipped="gan_mnist"),
    review.Entry("session GAN", "gan", "mnist", sha256="0" * 64),
    review.Entry("shipped VAE", "vae", "mnist", shipped="vae_mnist"),
    review.Entry("session VAE", "vae", "mnist", sha256="1" * 64),
)


@dataclass(frozen=True)
class Settings:
    reviewers: int
    models: int
    seeds: int  # items per reviewer = pairs of models x seeds
    paced_votes: int  # votes each paced reviewer casts


SETTINGS: dict[Mode, Settings] = {
    "smoke": Settings(3, 2, 3, 2),
    "quick": Settings(30, 3, 8, 10),
    "full": Settings(30, 4, 10, 30),
}
LOOK_S = (0.5, 1.5)  # a paced reviewer's time on a pair, uniform


def _vote_at_once(
    s: Settings, paced: bool
) -> tuple[int, int, list[float], list[BaseException], float]:
    """(votes cast, votes stored, seconds from each vote to its next pair, errors, seconds
    the owner's results took) for one review in the store $AIGC_DB_URL names."""
    opened = review.open_review("bench", MODELS[: s.models], review.samples(range(s.seeds)))
    code = opened.review.code
    reviewers = [review.join(code, f"reviewer {i}") for i in range(s.reviewers)]
    start = threading.Barrier(s.reviewers)
    lock = threading.Lock()
    waits: list[float] = []
    errors: list[BaseException] = []
    cast = 0

    def reviewer_votes(i: int, reviewer: str) -> None:
        nonlocal cast
        mine, n = [], 0
        looks = random.Random(i)
        try:
            pair = review.next_item(code, reviewer)
            start.wait()
            while pair is not None and not (paced and n == s.paced_votes):
                if paced:
                    time.sleep(looks.uniform(*LOOK_S))
                t0 = time.perf_counter()
                review.vote(code, reviewer, pair.item.item, ("left", "right", "same")[n % 3])
                n += 1
                pair = review.next_item(code, reviewer)
                mine.append(time.perf_counter() - t0)
        except BaseException as e:
            with lock:
                errors.append(e)
        with lock:
            waits.extend(mine)
            cast += n

    threads = [threading.Thread(target=reviewer_votes, args=ir) for ir in enumerate(reviewers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t0 = time.perf_counter()
    stored = review.results(code, opened.owner_secret).verdict.votes
    return cast, stored, waits, errors, time.perf_counter() - t0


def run(mode: Mode) -> Section:
    s = SETTINGS[mode]
    section = Section(NAME, "Review: reviewers voting at once")
    pairs = s.models * (s.models - 1) // 2
    with postgres.stores(with_postgres=mode != "smoke") as (urls, why):
        for (url, kind), paced in itertools.product(urls, (False, True)):
            os.environ["AIGC_DB_URL"] = url
            review.reset_limits()
            cast, stored, waits, errors, owner_s = _vote_at_once(s, paced)
            who = f"{kind}, {s.reviewers} reviewers {'paced' if paced else 'flat out'}"
            section.figures += [
                Figure(f"{who}: votes cast", "count", [cast]),
                Figure(f"{who}: votes lost (cast - stored)", "count", [cast - stored],
                       Target("<=", 0)),
                Figure(f"{who}: errors", "count", [len(errors)], Target("<=", 0),
                       note="; ".join(sorted({type(e).__name__ for e in errors}))),
                Figure(f"{who}: vote -> next pair ready, p50", "ms",
                       [1000 * percentile(waits, 50)] if waits else []),
                Figure(f"{who}: vote -> next pair ready, p95", "ms",
                       [1000 * percentile(waits, 95)] if waits else []),
                Figure(f"{who}: owner's results ({stored} votes, verdict with bootstrap)", "s",
                       [owner_s]),
            ]  # fmt: skip
    section.notes.append(
        f"One review of {s.models} models x {s.seeds} seeds ({pairs * s.seeds} pairs per "
        f"reviewer); {s.reviewers} threads in this process released together, voting through "
        "aigc.review (vote, then next_item): flat out, every pair as fast as it can (an upper "
        f"bound of the store's share of a click), or paced, {s.paced_votes} pairs each after "
        f"{LOOK_S[0]:g}-{LOOK_S[1]:g} s looking. The owner's results include the reviewer "
        f"bootstrap ({review.verdict.RESAMPLES} resamples)."
        + ("" if len(urls) > 1 else f" No PostgreSQL: {why}.")
    )
    return section
