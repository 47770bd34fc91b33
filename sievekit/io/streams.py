"""Byte streams: codec detection, decompressing readers that notice truncation, atomic writers.

``-`` stands for stdin/stdout. The codec comes from the file suffix (``.gz``, ``.zst``/``.zstd``) unless
one is forced; for stdin, which has no name, it is sniffed from the magic bytes.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import re
import select
import shutil
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import zstandard

from sievekit.errors import ConfigError, InputError, ShardError, option
from sievekit.io import fs

CODECS = ("none", "gzip", "zstd")
CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
STDIO = "-"
_SUFFIX = {"gzip": ".gz", "zstd": ".zst", "none": ""}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def codec_from_suffix(path: str) -> str:
    """The codec a file name implies: ``gzip`` for .gz, ``zstd`` for .zst/.zstd, else ``none``."""
    name = path.lower()
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith((".zst", ".zstd")):
        return "zstd"
    return "none"


def resolve_codec(path: str, forced: str | None) -> str:
    if forced in (None, "infer"):
        return codec_from_suffix(path)
    if forced not in CODECS:
        raise ValueError(f"unknown compression {forced!r}; choose one of {', '.join(CODECS)}")
    return forced


def _raw_chunks(fh: IO[bytes], stop: int | None = None) -> Iterator[bytes]:
    """The file's bytes in chunks, up to byte ``stop`` (from where the file is positioned)."""
    left = stop - fh.tell() if stop is not None else None
    while left is None or left > 0:
        chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk


def _frames(raw: Iterator[bytes], path: str, codec: str, new_decoder: Callable[[], Any],
            errors: tuple[type[Exception], ...], unit: str) -> Iterator[bytes]:
    """Decompress a stream of concatenated frames (gzip members, zstd frames) and notice a truncated one.

    Both codecs' decompressobj report ``eof`` at a frame's end and hand back what follows it in
    ``unused_data``, where the next frame starts; input that ends while a frame is open is an error.
    (zstandard's own stream_reader returns b"" on a truncated frame without complaint.)
    """
    dobj = new_decoder()
    started = False
    for chunk in raw:
        while chunk:
            try:
                out = dobj.decompress(chunk)
            except errors as exc:
                raise InputError(path, f"corrupt {codec} stream ({exc})", hint="re-create or re-copy it") from exc
            started = True
            if out:
                yield out
            if dobj.eof:
                chunk = dobj.unused_data
                dobj = new_decoder()
                started = False
            else:
                chunk = b""
    if started and not dobj.eof:
        raise InputError(path, f"truncated {codec} stream (the file ends inside a {unit})", hint=_TRUNCATED_HINT)


def _gzip_chunks(raw: Iterator[bytes], path: str) -> Iterator[bytes]:
    # wbits=31: one gzip member, header and trailer checked; `cat a.gz b.gz` members follow one another.
    return _frames(raw, path, "gzip", lambda: zlib.decompressobj(wbits=31), (zlib.error,), "member")


def _zstd_chunks(raw: Iterator[bytes], path: str) -> Iterator[bytes]:
    return _frames(raw, path, "zstd", zstandard.ZstdDecompressor().decompressobj, (zstandard.ZstdError,), "frame")


_TRUNCATED_HINT = "the file is incomplete (an interrupted copy or write?); re-create it, or pass --on-bad-record skip"


def sniff_codec(head: bytes) -> str:
    """The codec whose magic bytes start ``head``: gzip, zstd, or none."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def iter_decoded_chunks(path: str, codec: str | None = None, byte_range: tuple[int, int] | None = None,
                        *, label: str | None = None) -> Iterator[bytes]:
    """Yield the decompressed bytes of ``path`` (``-`` for stdin) in chunks of about 1 MiB; with
    ``byte_range``, only bytes [start, stop) of an uncompressed file. Errors name the file ``label``
    (default: the path itself; ``<stdin>`` for stdin).

    Raises:
        InputError: the file cannot be opened or read, or its compressed stream is corrupt or truncated.
    """
    if path == STDIO:
        fh = sys.stdin.buffer
        head = fh.read(4)
        chosen = sniff_codec(head) if codec in (None, "infer") else resolve_codec(path, codec)
        raw: Iterator[bytes] = _prepend(head, _raw_chunks(fh))
        yield from _decode(raw, chosen, label or "<stdin>")
        return
    chosen = resolve_codec(path, codec)
    name = label or path
    try:
        fh = fs.open(path, "rb")  # closed below, after the generator is exhausted
    except OSError as exc:
        raise InputError(name, f"cannot open: {describe_error(exc)}",
                         hint="check the path and its permissions") from exc
    with fh:
        try:
            if byte_range is not None:
                fh.seek(byte_range[0])
            yield from _decode(_raw_chunks(fh, byte_range[1] if byte_range else None), chosen, name)
        except OSError as exc:
            raise InputError(name, f"cannot read: {describe_error(exc)}", hint="check the file and its disk") from exc


def describe_error(exc: BaseException) -> str:
    """An exception's message on one printable line (Arrow's and fsspec's messages span several, and a
    damaged file's bytes can end up in them)."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", " ".join(text.split()))


def _prepend(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if head:
        yield head
    yield from rest


def _decode(raw: Iterator[bytes], codec: str, path: str) -> Iterator[bytes]:
    if codec == "gzip":
        return _gzip_chunks(raw, path)
    if codec == "zstd":
        return _zstd_chunks(raw, path)
    return raw


class _FullWriter:
    """A binary sink that takes every byte it is given, or raises.

    A descriptor left non-blocking by another process in the pipeline (stdout shared with the reader of the
    pipe) makes ``BufferedWriter.write`` take part of the data, or none, without an error; we write to the
    descriptor ourselves and wait until it can take the rest.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.fd: int | None = None
        try:
            self.fd = stream.fileno()
        except (OSError, ValueError, AttributeError):  # not a real descriptor (an in-memory stream in tests)
            return
        while True:  # what is already buffered goes first
            try:
                stream.flush()
                return
            except BlockingIOError:
                self._wait()

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            written = self._write_some(view)
            if not written:
                self._wait()
            view = view[written:]
        return total

    def _write_some(self, view: memoryview) -> int:
        if self.fd is None:
            written = self.stream.write(view)
            if written is None:
                raise OSError(errno.EAGAIN, "the stream took no data")
            return written
        try:
            return os.write(self.fd, view)
        except BlockingIOError:
            return 0

    def _wait(self) -> None:
        if self.fd is None:  # pragma: no cover - in-memory streams always take everything
            raise OSError(errno.EAGAIN, "the stream took no data")
        select.select([], [self.fd], [])

    def flush(self) -> None:
        if self.fd is None:
            self.stream.flush()


class _Encoder:
    """A write-side compressor over a binary file; ``close()`` finishes the stream but not the file."""

    def __init__(self, fh: IO[bytes] | _FullWriter, codec: str, level: int | None) -> None:
        self.fh = fh
        self._gz: gzip.GzipFile | None = None
        self._zst: zstandard.ZstdCompressionWriter | None = None
        if codec == "gzip":
            # mtime=0 and no file name keep the bytes identical from run to run.
            self._gz = gzip.GzipFile(filename="", fileobj=fh, mode="wb", compresslevel=level or 6, mtime=0)
        elif codec == "zstd":
            # threads=-1 compresses in background threads, overlapping with our parsing; zstd's output is the
            # same for any number of threads >= 1, so the bytes do not depend on the machine.
            cctx = zstandard.ZstdCompressor(level=level or 3, threads=-1)
            self._zst = cctx.stream_writer(fh, closefd=False)  # type: ignore[arg-type]

    def write(self, data: bytes) -> None:
        sink = self._gz or self._zst or self.fh
        sink.write(data)

    def close(self) -> None:
        if self._gz is not None:
            self._gz.close()
        if self._zst is not None:
            self._zst.close()  # type: ignore[no-untyped-call]


def write_failure(path: str, exc: OSError) -> ShardError:
    """The one-line error for an output that cannot be written (a full, read-only or vanished disk)."""
    other = exc.filename if isinstance(exc.filename, str) and ".tmp-" not in exc.filename else None
    where = f" ({other})" if other and other not in (path, os.path.dirname(path)) else ""
    hint = {errno.ENOSPC: "free some space on its disk, or write elsewhere",
            errno.EDQUOT: "free some space in your quota, or write elsewhere",
            errno.EROFS: "the disk is read-only: write elsewhere",
            errno.EFBIG: "it outgrew the file size limit (ulimit -f) or its file system's largest file: raise the "
                         "limit, or write one file per shard (-o DIR/)"}.get(
        exc.errno or 0, "check that its directory exists and is writable (permissions, read-only or immutable)")
    return ShardError(f"{path}: cannot write{where}: {describe_error(exc)}", hint=hint)


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[str]:
    """``atomic_path`` for any output, a local path or an fsspec URL: yields the temporary name as a str,
    to be written with ``sievekit.io.fs.open``. On object stores the final rename is a copy and a delete,
    and each object appears whole.

    Raises:
        ShardError: the output cannot be written (an ``OSError``); the temporary is gone.
    """
    final = str(path)
    if not fs.is_url(final):
        with atomic_path(final) as local:
            yield str(local)
        return
    head, name = fs.split(final)
    remote = fs.join(head, f".{name}.tmp-{os.getpid()}")
    try:
        yield remote
        fs.move(remote, final)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            if fs.exists(remote):
                fs.remove(remote)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise write_failure(final, exc) from exc
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it over ``path``.

    On any exception (including KeyboardInterrupt and the SystemExit our SIGTERM handler raises) the
    temporary file is removed, so no file ever appears under the final name unless it is complete.

    Raises:
        ShardError: the output cannot be written (an ``OSError`` of the disk: full, read-only, no
            permission), naming ``path``.
    """
    final = Path(path)
    kind = fs.special_kind(str(final))
    if kind is not None:  # the rename would replace it: a device made a regular file, a reader's pipe lost
        raise ShardError(f"{final}: cannot write: it is {kind}, which writing by rename would replace",
                         hint="write to a regular file, or to stdout (-) redirected there")
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise write_failure(str(final), exc) from exc
        raise
    _fsync_dir(final.parent)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened for fsync
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_output_codec(path: str, codec: str | None) -> None:
    """Refuse an output file name that says another codec than the one asked for (gzip bytes under
    ``x.jsonl`` could not be read back). Stdout, and no codec asked for, always pass.

    Raises:
        ConfigError: the name's suffix contradicts ``codec``.
    """
    if path == STDIO or codec in (None, "infer"):
        return
    named = codec_from_suffix(path)
    if resolve_codec(path, codec) != named:
        stem = path[: -len(_SUFFIX[named])] if named != "none" else path
        raise ConfigError(f"{path}: the name says {named if named != 'none' else 'uncompressed'} but the output "
                          f"compression is {codec}",
                          hint=f"name it {stem}{_SUFFIX[resolve_codec(path, codec)]}, "
                               f"or drop {option('output_compression')}")


@contextlib.contextmanager
def open_output(path: str, codec: str | None = None, level: int | None = None) -> Iterator[_Encoder]:
    """Open ``path`` (``-`` for stdout) for writing through its codec; files are written atomically.

    Raises:
        ConfigError: the file name's suffix contradicts ``codec``.
        ShardError: the output cannot be written (full or read-only disk, no permission, a closed stdout
            other than a broken pipe).
    """
    check_output_codec(path, codec)
    if path == STDIO:
        with writing_stdout():
            sink = _FullWriter(sys.stdout.buffer)
            enc = _Encoder(sink, resolve_codec("", codec), level)
            yield enc
            enc.close()
            sink.flush()
        return
    with atomic_output(path) as tmp, fs.open(tmp, "wb") as fh:  # its OSErrors become ShardErrors
        enc = _Encoder(fh, resolve_codec(path, codec), level)
        yield enc
        enc.close()


@contextlib.contextmanager
def writing_stdout() -> Iterator[None]:
    """A block that writes to stdout: an ``OSError`` (a full disk behind a redirect, a closed descriptor)
    becomes a ``ShardError``; a broken pipe stays a ``BrokenPipeError``, which the CLI ends quietly on."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise  # a closed pipe (| head) is not a failure; the CLI ends quietly
        where = f" ({exc.filename})" if isinstance(exc.filename, str) else ""
        raise ShardError(f"<stdout>: cannot write{where}: {describe_error(exc)}",
                         hint="check where stdout goes (a full disk?), or write to a file with -o") from exc


def stdout_sink() -> _FullWriter:
    """stdout as a sink that takes every byte or raises."""
    return _FullWriter(sys.stdout.buffer)


def copy_file(src: str, dest: str) -> None:
    """Copy ``src`` to ``dest`` (a local path or a URL), which appears whole or not at all."""
    with atomic_output(dest) as tmp, fs.open(src, "rb") as fin, fs.open(tmp, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
