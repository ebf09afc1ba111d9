"""Extract the uncompressed ELF ``vmlinux`` from a bzImage.

Same idea as linux's scripts/extract-vmlinux, written afresh: scan for compressor
signatures, decompress from each hit and keep the first result that is an ELF file.
Booting vmlinux directly (``qemu -kernel vmlinux``, via its PVH entry note) skips the
in-guest decompression, which costs seconds under TCG.
"""

from __future__ import annotations

import gzip
import lzma
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

_ELF = b"\x7fELF"


class ExtractError(RuntimeError):
    pass


def _xz(blob: bytes) -> bytes:
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob)


def _gzip(blob: bytes) -> bytes:
    return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(blob)


def _tool(argv: list[str]) -> Callable[[bytes], bytes]:
    def run(blob: bytes) -> bytes:
        if shutil.which(argv[0]) is None:
            raise ExtractError(f"{argv[0]} is not installed")
        proc = subprocess.run(argv, input=blob, capture_output=True, check=False)
        # Trailing bytes after the stream make the tools complain; the output still counts.
        return proc.stdout

    return run


#: (signature, decompressor), tried in order at every offset where the signature occurs.
_FORMATS: tuple[tuple[bytes, Callable[[bytes], bytes]], ...] = (
    (b"\xfd7zXZ\x00", _xz),
    (b"\x28\xb5\x2f\xfd", _tool(["zstd", "-d", "-q", "-c"])),
    (b"\x1f\x8b\x08", _gzip),
    (b"\x02\x21\x4c\x18", _tool(["lz4", "-d", "-q", "-c"])),
)


def extract(bzimage: bytes) -> bytes:
    if bzimage.startswith(_ELF):
        return bzimage
    errors: list[str] = []
    for magic, decompress in _FORMATS:
        pos = bzimage.find(magic)
        while pos >= 0:
            try:
                out = decompress(bzimage[pos:])
            except (lzma.LZMAError, zlib.error, gzip.BadGzipFile, EOFError) as exc:
                errors.append(f"{magic.hex()}@{pos}: {exc}")
                out = b""
            except ExtractError as exc:
                errors.append(str(exc))
                break
            if out.startswith(_ELF):
                return out
            pos = bzimage.find(magic, pos + 1)
    raise ExtractError("no compressed ELF payload found; " + "; ".join(errors[:5]))


def main() -> None:
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.write_bytes(extract(src.read_bytes()))


if __name__ == "__main__":
    main()
