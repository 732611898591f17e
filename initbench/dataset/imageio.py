"""Image files: fast PNG decoding to uint8 tensors, PNG header sizes, atomic PNG writes.

Decoding uses ``torchvision.io.decode_png`` (libpng, no PIL round trip); images stay uint8
(3 x H x W) until the end of the transform chain, because torch's antialiased resize is ~10x
faster on uint8 than on float (``benchmarks/loader_throughput.py`` measures the whole path).
Nothing here keeps a file open: a file is read whole and closed, so datasets that call these
functions are safe to pickle into DataLoader workers.
"""

from __future__ import annotations

import os
import struct
import threading
import warnings
from pathlib import Path

import torch
from torchvision.io import ImageReadMode, decode_png

from initbench.errors import DataFormatError

# torchvision 0.29 marks its codecs deprecated in favour of TorchCodec (a separate package) and
# warns on every call; they remain the fastest PNG path we have here (~15 % faster than PIL on a
# real 1920 x 1208 frame; benchmarks/loader_throughput.py), so the warning is silenced per call.
_DEPRECATED = "The image decoding and encoding capabilities of TorchVision are deprecated"

_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def read_rgb(path: str | os.PathLike) -> torch.Tensor:
    """Decode a PNG as uint8 RGB, 3 x H x W. Raises DataFormatError naming the file on failure."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise DataFormatError(f"cannot read the image: {exc.strerror or exc}", str(path)) from exc
    if not data.startswith(_PNG_SIG):
        raise DataFormatError(f"expected a PNG file (signature 89 50 4E 47); found {data[:8].hex(' ') or 'an empty file'}", str(path))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_DEPRECATED)
            return decode_png(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    except RuntimeError as exc:
        raise DataFormatError(f"cannot decode the PNG: {exc}", str(path)) from exc


def png_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) from a PNG's IHDR chunk, reading 24 bytes."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if len(head) < 24 or not head.startswith(_PNG_SIG) or head[12:16] != b"IHDR":
        raise DataFormatError("expected a PNG file with an IHDR header; found something else", str(path))
    w, h = struct.unpack(">II", head[16:24])
    return h, w


def write_png(path: str | os.PathLike, image: torch.Tensor, compression_level: int = 6) -> None:
    """Write a uint8 3 x H x W tensor as PNG atomically (temporary name, then rename).

    Every row uses PNG's Sub filter (:func:`initbench.dataset.png.encode_png`), not libpng's
    adaptive choice: libpng then decodes a 360 x 572 frame about 2x faster (mostly Paeth rows
    otherwise), for files ~10 % larger. The same pixels and level always give the same bytes
    (with the same zlib).
    """
    from initbench.dataset.png import encode_png

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.dtype != torch.uint8 or image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a uint8 3 x H x W tensor; got {image.dtype} {tuple(image.shape)}")
    data = encode_png(image.permute(1, 2, 0).contiguous().numpy(), level=compression_level)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
