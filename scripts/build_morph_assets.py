"""Rebuild the morph panel's vendored JavaScript from its lockfile: `python scripts/build_morph_assets.py`.

The browser runs the exported graphs with ONNX Runtime Web's CPU build: one ES module (its
wasm glue bundled in) and one `.wasm`. They are committed gzip-compressed under
`aigc/ui/morph/vendor/`, so a person who only ran `pip install -r requirements.txt` needs no
Node and fetches nothing from the internet; the server sends the `.gz` bytes as they are,
with `Content-Encoding: gzip` (aigc/ui/morph_panel.py). This script installs the exact
versions in `aigc/ui/morph/package-lock.json` with `npm ci --ignore-scripts` in a temporary
folder, and writes the files, ORT's licence and `PROVENANCE.json` (version, the lockfile's
integrity, sha256 of every file before and after compression).

`--check` rebuilds into a temporary folder and fails if any served file differs from the
committed one once decompressed (gzip's bytes depend on the zlib version; the content must not).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "aigc" / "ui" / "morph"
VENDOR = SOURCE / "vendor"
PACKAGE = "onnxruntime-web"
# The wasm-only bundle (no WebGL/WebGPU code) and the one CPU binary it loads: SIMD, built
# with threads but run with numThreads = 1, which needs no cross-origin isolation.
FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")
# The npm package ships no licence file (its bundle's header says "Licensed under the MIT
# License"); this is the LICENSE of github.com/microsoft/onnxruntime, which it is built from.
LICENCE = """MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(out: Path) -> dict:
    """npm ci from the lockfile in a temporary folder; write the .gz files, licence and
    provenance into `out`; return the provenance."""
    lock = json.loads((SOURCE / "package-lock.json").read_text())
    locked = lock["packages"][f"node_modules/{PACKAGE}"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(SOURCE / name, tmp)
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=tmp, check=True
        )
        pkg = Path(tmp) / "node_modules" / PACKAGE
        meta = json.loads((pkg / "package.json").read_text())
        if meta["version"] != locked["version"]:
            raise SystemExit(
                f"npm installed {meta['version']}, the lockfile says {locked['version']}"
            )
        out.mkdir(parents=True, exist_ok=True)
        files = {}
        for name in FILES:
            raw = (pkg / "dist" / name).read_bytes()
            packed = gzip.compress(raw, compresslevel=9, mtime=0)
            (out / f"{name}.gz").write_bytes(packed)
            files[name] = {
                "sha256": _sha256(raw),
                "bytes": len(raw),
                "served_as": f"{name}.gz",
                "gzip_sha256": _sha256(packed),
                "gzip_bytes": len(packed),
            }
    (out / "LICENSE-onnxruntime-web").write_text(LICENCE)
    provenance = {
        "package": PACKAGE,
        "version": meta["version"],
        "licence": meta["license"],
        "source": f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{meta['version']}.tgz",
        "integrity": locked["integrity"],
        "homepage": "https://github.com/microsoft/onnxruntime/tree/main/js/web",
        "third_party_notices": "https://github.com/microsoft/onnxruntime/blob/main/ThirdPartyNotices.txt",
        "built_by": "python scripts/build_morph_assets.py (npm ci --ignore-scripts)",
        "files": files,
    }
    (out / "PROVENANCE.json").write_text(json.dumps(provenance, indent=2) + "\n")
    return provenance


def check() -> int:
    committed = json.loads((VENDOR / "PROVENANCE.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        rebuilt = build(Path(tmp))
    bad = [
        name
        for name, info in committed["files"].items()
        if rebuilt["files"].get(name, {}).get("sha256") != info["sha256"]
        or _sha256(gzip.decompress((VENDOR / info["served_as"]).read_bytes())) != info["sha256"]
    ]
    for name in bad:
        print(f"{name}: the committed file is not what the lockfile builds", file=sys.stderr)
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify, write nothing")
    args = parser.parse_args()
    if args.check:
        return check()
    provenance = build(VENDOR)
    for name, info in provenance["files"].items():
        print(f"{name}: {info['bytes']:,} bytes, {info['gzip_bytes']:,} gzipped, {info['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
