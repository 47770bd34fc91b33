"""What the realistic benchmark is built from: pinned packages from PyPI, Debian and npm, and their fetching.

Every source is ``(registry, name, version, role)``. ``pool`` sources fill the pool; ``heldout`` sources are
never in the pool and give the target documents, so a target never shares a package with the pool. The
archives land in ``<out>/archives/`` and their sha256 must match ``sources.lock.json`` (written with
``build.py --update-lock``), so a rebuild reads the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCK = HERE / "sources.lock.json"


@dataclass(frozen=True)
class Source:
    registry: str  # "pypi" (wheel), "pypi-sdist", "deb" or "npm"
    name: str
    version: str
    role: str  # "pool" or "heldout"

    @property
    def key(self) -> str:
        return f"{self.registry}:{self.name}=={self.version}"


def _many(registry: str, role: str, spec: str) -> list[Source]:
    out = []
    for item in spec.split():
        name, version = item.rsplit("==", 1)
        out.append(Source(registry, name, version, role))
    return out


RUST_POOL = " ".join(f"librust-{n}-dev=={v}" for n, v in [
    ("tokio", "1.24.2-1"), ("syn", "1.0.107-1"), ("serde", "1.0.152-2"), ("regex", "1.7.1-1"),
    ("hyper", "0.14.19-1"), ("clap", "4.0.32-1"), ("rayon-core", "1.10.1-1"), ("futures-util", "0.3.21-1"),
    ("nix", "0.26.1-3"), ("libc", "0.2.139-1"), ("itertools", "0.10.3-1"), ("rand", "0.8.5-1"),
    ("chrono", "0.4.23-2"), ("nom", "7.1.1-1"), ("tokio-util", "0.7.3-2"), ("h2", "0.3.13-2"),
    ("object", "0.30.0-1"), ("gimli", "0.27.0-1"), ("mio", "0.8.4-1"), ("aho-corasick", "0.7.19-1")])
RUST_HELDOUT = " ".join(f"librust-{n}-dev=={v}" for n, v in [
    ("crossbeam-utils", "0.8.12-1"), ("crossbeam-epoch", "0.9.13-1"), ("crossbeam-channel", "0.5.6-1"),
    ("memchr", "2.5.0-1"), ("bytes", "1.2.1-1"), ("hashbrown", "0.12.3-1"), ("smallvec", "1.9.0-1"),
    ("parking-lot-core", "0.9.3-1"), ("bumpalo", "3.12.0-1"), ("once-cell", "1.17.0-1"), ("socket2", "0.4.4-1"),
    ("arrayvec", "0.7.2-2"), ("memmap2", "0.5.7-1"), ("libloading", "0.7.4-1"), ("lock-api", "0.4.9-1"),
    ("spin", "0.9.5-2"), ("crossbeam-deque", "0.8.1-1")])

SOURCES: list[Source] = [
    *_many("pypi", "pool", "pandas==2.2.3 scipy==1.14.1 astropy==6.1.4 scikit-learn==1.5.2 "
                           "matplotlib==3.9.2 numpy==2.1.2"),
    *_many("pypi-sdist", "pool", "django==4.2.16 tornado==6.4.1 aiohttp==3.10.10 pytest==8.3.3 sphinx==8.1.3"),
    *_many("pypi", "heldout", "trio==0.27.0 xarray==2024.10.0 scikit-image==0.24.0"),
    *_many("pypi-sdist", "heldout", "anyio==4.6.2.post1 httpx==0.27.2 attrs==24.2.0 sqlalchemy==2.0.36"),
    *_many("deb", "pool", "manpages==6.03-2 manpages-dev==6.03-2 perl-doc==5.36.0-7+deb12u4 "
                          "python3.11-doc==3.11.2-6+deb12u9 linux-libc-dev==6.1.176-1 "
                          "texlive-latex-base==2022.20230122-3 texlive-latex-recommended==2022.20230122-3 "
                          "texlive-latex-extra==2022.20230122-4 rust-src==1.63.0+dfsg1-2 "
                          "glibc-source==2.36-9+deb12u14 nodejs-doc==18.20.4+dfsg-1~deb12u3 "
                          "jargon-text==4.4.7-4.1 fortunes==1:1.99.1-7.3 "
                          "focalinux-text==2010-09-3.1 doc-debian==11.3+nmu1 postgresql-doc-15==15.20-0+deb12u1 "
                          "sqlite3-doc==3.40.1-2+deb12u2 " + RUST_POOL),
    *_many("deb", "heldout", "libssl-doc==3.0.22-1~deb12u2 texlive-science==2022.20230122-4 "
                             "texlive-pictures==2022.20230122-3 " + RUST_HELDOUT),
    *_many("npm", "pool", "lodash==4.17.21 typescript==5.6.3 @types/node==22.7.5 core-js==3.38.1 three==0.169.0 "
                          "webpack==5.95.0 eslint==9.12.0 rxjs==7.8.1 express==4.21.1"),
]


def _one_new_file(directory: Path, before: set[str]) -> Path:
    new = sorted(set(os.listdir(directory)) - before)
    if len(new) != 1:
        raise RuntimeError(f"expected one new archive in {directory}, got {new}")
    return directory / new[0]


def fetch(source: Source, archives: Path) -> Path:
    """Download one source into ``archives/<registry>/`` (once) and return the archive's path."""
    directory = (archives / source.registry / source.name.replace("/", "__")).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    done = directory / ".done"
    if done.exists():
        return directory / done.read_text().strip()
    before = set(os.listdir(directory))
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(directory)]
    if source.registry == "pypi":
        cmd = [*pip, "--only-binary", ":all:", f"{source.name}=={source.version}"]
    elif source.registry == "pypi-sdist":
        cmd = [*pip, "--no-binary", source.name, f"{source.name}=={source.version}"]
    elif source.registry == "deb":
        cmd = ["apt-get", "download", "-q", f"{source.name}={source.version}"]
    elif source.registry == "npm":
        cmd = ["npm", "pack", "--silent", f"{source.name}@{source.version}"]
    else:
        raise ValueError(f"unknown registry {source.registry!r}")
    if subprocess.run(cmd, cwd=directory, stdout=subprocess.DEVNULL).returncode:
        hint = " (run `apt-get update` first: a fresh machine's package lists may predate the pin)" \
            if source.registry == "deb" else ""
        sys.exit(f"build: could not fetch {source.name} {source.version} with {cmd[0]}{hint}")
    path = _one_new_file(directory, before)
    done.write_text(path.name)
    return path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def fetch_all(archives: Path, update_lock: bool) -> dict[Source, Path]:
    """Every source's archive, checked against the lock file (or recorded in it with ``update_lock``)."""
    lock = json.loads(LOCK.read_text()) if LOCK.exists() else {}
    paths, seen = {}, {}
    for source in SOURCES:
        path = fetch(source, archives)
        digest = sha256(path)
        seen[source.key] = {"file": path.name, "sha256": digest}
        if not update_lock:
            want = lock.get(source.key)
            if want is None or want["sha256"] != digest:
                raise RuntimeError(f"{source.key}: {path.name} sha256 {digest} does not match the lock "
                                   f"({want}); re-run with --update-lock only if the change is intended")
        paths[source] = path
    if update_lock:
        LOCK.write_text(json.dumps(seen, indent=1, sort_keys=True) + "\n")
    return paths


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/data/realistic") / "archives"
    for s in SOURCES:
        print(s.key, fetch(s, out), flush=True)
