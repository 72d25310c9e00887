"""Writing rendered frames: PNG images (no dependency) and MP4 videos (needs ``imageio[ffmpeg]``)."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .atomic import atomic_write


class MediaError(RuntimeError):
    """An image or video cannot be written (bad frame, missing optional dependency)."""


def _check_frame(frame: np.ndarray) -> np.ndarray:
    image = np.asarray(frame)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise MediaError(f"frame must be an (H, W, 3) uint8 RGB array, got shape {image.shape} dtype {image.dtype}")
    return image


def png_bytes(frame: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 RGB image as PNG (8-bit truecolour, no filtering)."""
    image = _check_frame(frame)
    h, w, _ = image.shape
    raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), image.reshape(h, w * 3)], axis=1).tobytes()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def write_png(path: str | os.PathLike[str], frame: np.ndarray) -> Path:
    """Write one RGB frame to ``path`` as PNG (atomically) and return the path."""
    path = Path(path)
    data = png_bytes(frame)
    atomic_write(path, lambda tmp: tmp.write_bytes(data))
    return path


def write_video(path: str | os.PathLike[str], frames: Sequence[np.ndarray], fps: int = 50) -> Path:
    """Write RGB frames as an MP4 (H.264 through ``imageio-ffmpeg``) and return the path.

    :raises MediaError: ``imageio``/``imageio-ffmpeg`` are not installed, or a frame is malformed.
    """
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (imageio needs it for MP4)
    except ImportError:
        raise MediaError(
            f"{path}: writing a video needs imageio and imageio-ffmpeg: pip install 'unimal-gym[video]'"
        ) from None
    if not frames:
        raise MediaError(f"{path}: no frames to write")
    path = Path(path)
    with imageio.get_writer(path, fps=fps, macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(_check_frame(frame))
    return path
