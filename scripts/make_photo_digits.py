"""Write a folder of photographed-style digits to try `python -m aigc train --images` on:
`python scripts/make_photo_digits.py OUT [--per-class 50] [--seed 0]` makes OUT/0 .. OUT/9 of
96-px RGB JPEGs, dark ink on tinted paper, from the shipped MNIST training digits."""

from __future__ import annotations

import argparse
from pathlib import Path

from aigc.bench.own_images import PER_CLASS, write_photo_digits


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--per-class", type=int, default=PER_CLASS)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    write_photo_digits(args.out, args.per_class, args.seed)
    print(f"wrote {10 * args.per_class} images to {args.out}")


if __name__ == "__main__":
    main()
