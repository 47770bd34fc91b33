"""Paths on this machine's disk or, with fsspec installed, at any fsspec URL (``s3://``, ``gs://``,
``file://``, ``memory://``): one small set of file operations for the rest of sievekit.

Local paths go straight to ``os``; a path with ``://`` goes through fsspec (``pip install
'sievekit[remote]'``), imported only then. Cluster jobs read and write shared storage this way, and
``hf://datasets/ORG/NAME/...`` reads the Hugging Face Hub through huggingface_hub's ``HfFileSystem``
(``pip install 'sievekit[hub]'``).
"""

from __future__ import annotations

import builtins
import errno
import glob as _glob
import hashlib
import os
import posixpath
import re
import stat
from typing import IO, Any

from sievekit.errors import InputError, MissingDependencyError


def is_url(path: str) -> bool:
    return "://" in path


# Schemes whose filesystem comes with an extra of its own: the Hub's (fsspec's name for it is "hf").
HUB = {"hf": ("huggingface_hub", "hub")}


def _fs(path: str) -> tuple[Any, str]:
    hub = HUB.get(path.split("://", 1)[0])
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise MissingDependencyError("fsspec", hub[1] if hub else "remote", f"reading or writing {path}") from None
    try:
        filesystem, inner = url_to_fs(path)
    except ImportError as exc:  # fsspec is there, the filesystem for this scheme (s3fs, gcsfs, ...) is not
        if hub:
            raise MissingDependencyError(hub[0], hub[1], f"reading or writing {path}") from None
        found = re.search(r"[Ii]nstall (\S+)", str(exc))
        package = found.group(1) if found else f"the fsspec filesystem for {path.split('://', 1)[0]}://"
        error = MissingDependencyError(package, "remote", f"reading or writing {path}")
        error.hint = f"pip install {package}" if found else "see fsspec's list of known implementations"
        raise error from None
    except ValueError as exc:  # "Protocol not known"
        raise InputError(path, f"cannot open this URL ({' '.join(str(exc).split())})",
                         hint="use a local path, or a URL fsspec knows (s3://, gs://, file://)") from None
    return filesystem, str(inner)


def _url(path: str, inner: str) -> str:
    """Put the protocol of ``path`` back in front of a path fsspec returned without it."""
    protocol = path.split("://", 1)[0]
    return inner if "://" in inner else f"{protocol}://{inner.lstrip('/') if protocol != 'file' else inner}"


def _test(path: str, name: str) -> bool:
    """``os.path.<name>(path)``, or the fsspec filesystem's method of that name for a URL."""
    if is_url(path):
        fs, p = _fs(path)
        return bool(getattr(fs, name)(p))
    return bool(getattr(os.path, name)(path))


def exists(path: str) -> bool:
    return _test(path, "exists")


def isdir(path: str) -> bool:
    return _test(path, "isdir")


def isfile(path: str) -> bool:
    return _test(path, "isfile")


def special_kind(path: str) -> str | None:
    """What ``path`` is, when it exists (through links) and is neither a regular file nor a directory: "a named
    pipe", "a device" or "a socket"; else None. An output written beside it and renamed over it would replace
    it (``/dev/full``, a pipe another process reads). URLs: None."""
    if is_url(path):
        return None
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else None


def getsize(path: str) -> int:
    if is_url(path):
        fs, p = _fs(path)
        return int(fs.size(p))
    return os.path.getsize(path)


def stat_key(path: str) -> tuple[int, int | str | None]:
    """Size and modification stamp, to notice a changed input."""
    if is_url(path):
        fs, p = _fs(path)
        info = fs.info(p)
        stamp = info.get("mtime") or info.get("LastModified") or info.get("ETag") or info.get("blob_id")  # blob: Hub
        return int(info.get("size", 0)), str(stamp)
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def join(base: str, *parts: str) -> str:
    if is_url(base):
        return posixpath.join(base, *parts)
    return os.path.join(base, *parts)


def split(path: str) -> tuple[str, str]:
    return posixpath.split(path) if is_url(path) else os.path.split(path)


def realpath(path: str) -> str:
    """The canonical spelling of a path: symlinks resolved, ``.``/``..`` and trailing slashes gone (URLs too)."""
    if is_url(path):
        scheme, rest = path.split("://", 1)
        return f"{scheme}://{posixpath.normpath(rest) if rest else rest}"
    return os.path.realpath(path)


def sha256(path: str) -> str:
    """The SHA-256 of a file's bytes (for inputs with no stable stamp, such as spooled stdin)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def listdir(path: str) -> list[str]:
    if is_url(path):
        fs, p = _fs(path)
        return sorted(posixpath.basename(e.rstrip("/")) for e in fs.ls(p, detail=False))
    return sorted(os.listdir(path))


def glob(pattern: str) -> list[str]:
    if is_url(pattern):
        fs, p = _fs(pattern)
        return sorted(_url(pattern, m) for m in fs.glob(p) if fs.isfile(m))
    return sorted(m for m in _glob.glob(pattern, recursive=True) if os.path.isfile(m))


def walk_files(directory: str, *, skip_hidden: bool = False) -> list[tuple[str, str]]:
    """Every file below ``directory``, as (path, path relative to the directory), sorted. Symlinks are
    followed (a file reached along two ways is listed twice); ``skip_hidden`` leaves out names starting
    with ``.``.

    Raises:
        InputError: a folder cannot be listed (no permission), or a symlink loops or points nowhere; a
            walk that skipped it would silently drop shards.
    """
    if is_url(directory):
        fs, p = _fs(directory)
        found = fs.find(p)
        root = p.rstrip("/") + "/"
        return sorted((_url(directory, f), f[len(root):]) for f in found if f.startswith(root))
    out: list[tuple[str, str]] = []
    _walk(directory, "", out, set(), skip_hidden)
    return sorted(out)


def _walk(folder: str, rel: str, out: list[tuple[str, str]], open_now: set[str], skip_hidden: bool) -> None:
    real = os.path.realpath(folder)
    if real in open_now:
        raise InputError(folder, "symlink loop: it leads back to a folder that contains it",
                         hint="remove the link, or point it elsewhere")
    open_now.add(real)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise InputError(folder, f"cannot list the folder: {exc.strerror or exc}",
                         hint="fix its permissions, or move it out of the input folder") from None
    for entry in entries:
        if skip_hidden and entry.name.startswith("."):
            continue
        path = os.path.join(folder, entry.name)
        if entry.is_symlink():
            _check_link(path)
        try:
            is_dir = entry.is_dir()
        except OSError as exc:
            raise InputError(path, f"cannot read: {exc.strerror or exc}", hint="fix its permissions") from None
        if is_dir:
            _walk(path, os.path.join(rel, entry.name), out, open_now, skip_hidden)
        else:
            out.append((path, os.path.join(rel, entry.name)))
    open_now.discard(real)


def _check_link(path: str) -> None:
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(path, "symlink loop: the link leads back to itself",
                             hint="remove the link, or point it at a file") from None
        if exc.errno == errno.ENOENT:
            raise InputError(path, f"dangling symlink: its target {os.readlink(path)} does not exist",
                             hint="remove the link, or restore its target") from None
        raise InputError(path, f"cannot follow the symlink: {exc.strerror or exc}",
                         hint="check its target and the permissions on the way") from None


def open(path: str, mode: str = "rb") -> IO[bytes]:  # noqa: A001 - the file operation of this module
    if is_url(path):
        fs, p = _fs(path)
        if "w" in mode:
            fs.makedirs(posixpath.dirname(p), exist_ok=True)
        return fs.open(p, mode)  # type: ignore[no-any-return]
    return builtins.open(path, mode)


def makedirs(path: str) -> None:
    if is_url(path):
        fs, p = _fs(path)
        fs.makedirs(p, exist_ok=True)
    else:
        os.makedirs(path, exist_ok=True)


def move(src: str, dst: str) -> None:
    """Rename ``src`` over ``dst``; on object stores a copy and a delete (each object appears whole)."""
    if is_url(src):
        fs, s = _fs(src)
        _, d = _fs(dst)
        fs.mv(s, d)
    else:
        os.replace(src, dst)


def remove(path: str) -> None:
    if is_url(path):
        fs, p = _fs(path)
        fs.rm(p)
    else:
        os.remove(path)


def read_text(path: str) -> str:
    with open(path, "rb") as fh:
        return bytes(fh.read()).decode("utf-8")


def write_text(path: str, text: str) -> None:
    with open(path, "wb") as fh:
        fh.write(text.encode("utf-8"))
