"""Turn any picture of a digit into what the digit model saw in training: a 28x28 MNIST-style image.

MNIST's recipe: ink high on a dark background, the digit's bounding box scaled (keeping its aspect)
so that its longest side is 20 px, then placed in 28x28 with its centre of mass at the centre.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

MNIST_SIZE = 28
MNIST_BOX = 20
# Below this (after background removal) a pixel is paper, not ink: cleans up shading in photos.
INK_FLOOR = 0.15


class ImageError(ValueError):
    """The upload is not a usable image."""


class ImageTooLarge(ImageError):
    """The image has more pixels than the limit (a decompression bomb, or just too big)."""


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode an encoded image (PNG, JPEG, ...) to grayscale floats in [0, 1], refusing huge ones."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLarge(f"image is {width}x{height} pixels; the limit is {max_pixels} pixels")
            upright: Image.Image = ImageOps.exif_transpose(image)
            if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
                # Transparent pixels are background: composite on white before dropping alpha.
                rgba = upright.convert("RGBA")
                canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                upright = Image.alpha_composite(canvas, rgba)
            gray = np.asarray(upright.convert("L"), dtype=np.float32) / 255.0
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"image too large: {exc}") from exc
    except Exception as exc:  # Pillow raises many types for corrupt data; all mean the same to a caller
        raise ImageError(f"not a readable image: {exc}") from exc
    if gray.size == 0:
        raise ImageError("image has no pixels")
    return gray


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Grayscale in [0, 1] -> ink in [0, 1]: light backgrounds inverted, paper shading removed."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1.0 - gray if np.median(border) > 0.5 else gray.copy()
    background = float(np.median(ink))
    peak = float(ink.max())
    if peak - background < 1e-6:
        return np.zeros_like(ink)
    ink = np.clip((ink - background) / (peak - background), 0.0, 1.0)
    ink[ink < INK_FLOOR] = 0.0
    return ink


def to_mnist(ink: np.ndarray) -> np.ndarray:
    """Ink map of any size -> 28x28 float32 in [0, 1], cropped, scaled and centred the MNIST way."""
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    cols = np.flatnonzero(ink.max(axis=0) > 0)
    if rows.size == 0:
        return np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = crop.shape
    factor = MNIST_BOX / max(height, width)
    new_size = (max(1, round(width * factor)), max(1, round(height * factor)))
    scaled = Image.fromarray((crop * 255).astype(np.uint8)).resize(new_size, Image.Resampling.LANCZOS)
    digit = np.asarray(scaled, dtype=np.float32) / 255.0

    canvas = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    h, w = digit.shape
    top, left = (MNIST_SIZE - h) // 2, (MNIST_SIZE - w) // 2
    canvas[top : top + h, left : left + w] = digit
    return _centre_by_mass(canvas)


def _centre_by_mass(image: np.ndarray) -> np.ndarray:
    total = image.sum()
    if total <= 0:
        return image
    ys, xs = np.indices(image.shape)
    cy, cx = (ys * image).sum() / total, (xs * image).sum() / total
    dy, dx = round((MNIST_SIZE - 1) / 2 - cy), round((MNIST_SIZE - 1) / 2 - cx)
    shifted = np.zeros_like(image)
    src_y = slice(max(0, -dy), MNIST_SIZE - max(0, dy))
    src_x = slice(max(0, -dx), MNIST_SIZE - max(0, dx))
    dst_y = slice(max(0, dy), MNIST_SIZE - max(0, -dy))
    dst_x = slice(max(0, dx), MNIST_SIZE - max(0, -dx))
    shifted[dst_y, dst_x] = image[src_y, src_x]
    return shifted


def image_to_mnist(data: bytes, max_pixels: int) -> np.ndarray:
    """Encoded upload -> 28x28 MNIST-style float32 image."""
    return to_mnist(ink_map(decode_image(data, max_pixels)))
