"""PNG files, the one module that reads and writes them: decoding, header probes, a deterministic writer.

- :func:`read_rgb` decodes with ``torchvision.io.decode_png`` (libpng, no PIL round trip) to uint8
  ``3 x H x W``: images stay uint8 until the end of the transform chain, because torch's antialiased
  resize is ~10x faster on uint8 than on float (``benchmarks/loader_throughput.py`` measures the path).
- :func:`read_png_header` looks at the first 33 bytes (signature + IHDR) and the last 12 bytes (IEND)
  and never decodes pixels: enough to learn the size and to catch the common corruption of a release
  copy, a truncated file. Damage inside the compressed data is what ``verify-dataset --hash`` is for.
- :func:`write_png` produces the same bytes for the same pixels and level on every run (Sub filter on
  every row, fixed zlib level, no ancillary chunks, no timestamps), so a synthetic tree can be checked
  against a committed manifest (with the same zlib build; other builds may compress differently, the
  pixels are the contract). It writes atomically (:mod:`initbench.files`).

Nothing here keeps a file open: datasets that call these functions pickle into DataLoader workers.
torch is imported inside the functions that need it, so header probes (``verify-dataset``, its
worker processes) do not pay for importing it.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from dataclasses import dataclass

import numpy as np

from initbench.errors import DataFormatError
from initbench.files import write_atomic

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The IEND chunk is always these 12 bytes (length 0, type, CRC of b"IEND").
IEND_CHUNK = b"\x00\x00\x00\x00IEND\xaeB`\x82"
#: zlib level of the writer. Part of the determinism contract: never change it silently.
ZLIB_LEVEL = 1  # 6x faster than 6 on noisy frames for ~5 % more bytes
_COLOR_TYPES = {0: "grey", 2: "rgb", 3: "palette", 4: "grey+alpha", 6: "rgba"}
#: Channels of each PNG colour type (a palette decodes to RGB).
CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


class PngError(DataFormatError):
    """A file is not a complete, readable PNG; the message says what was found."""


@dataclass(frozen=True)
class PngHeader:
    width: int
    height: int
    bit_depth: int
    color_type: int
    nbytes: int

    @property
    def channels(self) -> int:
        return CHANNELS.get(self.color_type, 0)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(rgb: np.ndarray, level: int = ZLIB_LEVEL) -> bytes:
    """Encode an ``H x W x 3`` uint8 array as an 8-bit RGB PNG (Sub filter on every row)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 uint8 array, got {rgb.dtype} {rgb.shape}")
    h, w, _ = rgb.shape
    rows = np.ascontiguousarray(rgb).reshape(h, w * 3)
    raw = np.empty((h, w * 3 + 1), dtype=np.uint8)
    raw[:, 0] = 1  # filter type Sub: each byte minus the byte one pixel to the left
    raw[:, 1:4] = rows[:, :3]
    np.subtract(rows[:, 3:], rows[:, :-3], out=raw[:, 4:])  # uint8 arithmetic wraps mod 256
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + IEND_CHUNK


def write_png(path: str | os.PathLike, image, level: int = ZLIB_LEVEL) -> int:
    """Write a uint8 RGB image as PNG atomically; returns the byte size.

    ``image`` is a numpy ``H x W x 3`` array (numpy's layout, as :func:`encode_png` takes) or a torch
    ``3 x H x W`` tensor (torch's layout, as :func:`read_rgb` returns). Sub filter on every row, not
    libpng's adaptive choice: libpng then decodes a 360 x 572 frame about 2x faster (mostly Paeth rows
    otherwise), for files ~10 % larger.
    """
    if not isinstance(image, np.ndarray):
        import torch

        if not torch.is_tensor(image) or image.dtype != torch.uint8 or image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(f"expected a uint8 3 x H x W tensor; got {getattr(image, 'dtype', type(image).__name__)} "
                             f"{tuple(getattr(image, 'shape', ()))}")
        image = image.detach().cpu().permute(1, 2, 0).contiguous().numpy()
    return write_atomic(path, encode_png(image, level=level))


def read_png_header(path: str | os.PathLike) -> PngHeader:
    """Read the size of a PNG from its IHDR and check that the file ends with IEND.

    Three reads of at most 33 bytes; pixels are never decoded. Raises :class:`PngError`
    (not a PNG, bad IHDR, truncated) or ``OSError`` (cannot open).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, 33, 0)
        tail = os.pread(fd, 12, size - 12) if size >= 45 else b""
    finally:
        os.close(fd)
    return parse_png_header(head, tail, size)


def parse_png_header(head: bytes, tail: bytes, size: int) -> PngHeader:
    """Check the first 33 and last 12 bytes of a PNG file of ``size`` bytes."""
    if size == 0:
        raise PngError("empty file (0 bytes)")
    if head[:8] != PNG_SIGNATURE:
        raise PngError(f"not a PNG: the file does not start with the PNG signature (first bytes {head[:8]!r})")
    if len(head) < 33:
        raise PngError(f"truncated: {size} bytes, too short to hold the PNG header")
    length, kind = struct.unpack(">I4s", head[8:16])
    if kind != b"IHDR" or length != 13:
        raise PngError(f"bad PNG: the first chunk is {kind!r} of {length} bytes, expected IHDR of 13 bytes")
    (crc,) = struct.unpack(">I", head[29:33])
    if zlib.crc32(head[12:29]) & 0xFFFFFFFF != crc:
        raise PngError("bad PNG: the IHDR checksum does not match")
    width, height, depth, ctype = struct.unpack(">IIBB", head[16:26])
    if width == 0 or height == 0 or ctype not in _COLOR_TYPES:
        raise PngError(f"bad PNG header: width {width}, height {height}, color type {ctype}")
    if tail != IEND_CHUNK:
        raise PngError(f"truncated: the file ({size} bytes) does not end with the PNG IEND chunk")
    return PngHeader(width=width, height=height, bit_depth=depth, color_type=ctype, nbytes=size)


def png_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of a complete PNG (:func:`read_png_header`); DataFormatError naming the file otherwise."""
    try:
        h = read_png_header(path)
    except PngError as exc:
        raise DataFormatError(str(exc), str(path)) from exc
    except OSError as exc:
        raise DataFormatError(f"cannot read the image: {exc.strerror or exc}", str(path)) from exc
    return h.height, h.width


# torchvision 0.29 marks its codecs deprecated in favour of TorchCodec (a separate package) and
# warns on every call; they remain the fastest PNG path we have here (~15 % faster than PIL on a
# real 1920 x 1208 frame; benchmarks/loader_throughput.py), so the warning is silenced per call.
_DEPRECATED = "The image decoding and encoding capabilities of TorchVision are deprecated"


def read_rgb(path: str | os.PathLike):
    """Decode a PNG as a uint8 RGB tensor, 3 x H x W. Raises DataFormatError naming the file on failure."""
    import torch
    from torchvision.io import ImageReadMode, decode_png as tv_decode_png

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise DataFormatError(f"cannot read the image: {exc.strerror or exc}", str(path)) from exc
    if not data.startswith(PNG_SIGNATURE):
        found = data[:8].hex(" ") or "an empty file"
        raise DataFormatError(f"expected a PNG file (signature 89 50 4E 47); found {found}", str(path))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_DEPRECATED)
            return tv_decode_png(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    except RuntimeError as exc:
        raise DataFormatError(f"cannot decode the PNG: {exc}", str(path)) from exc


def decode_png(path: str | os.PathLike) -> np.ndarray:
    """Decode a PNG fully as a numpy ``H x W x 3`` uint8 array (:func:`read_rgb` in numpy's layout)."""
    return read_rgb(path).permute(1, 2, 0).numpy()
