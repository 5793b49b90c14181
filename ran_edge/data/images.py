"""Which files are images: the one suffix list of every folder reader.

Used by the ImageFolder reader (:mod:`ran_edge.data.readers.imagefolder`), calibration folders
(:mod:`ran_edge.data.feeds`) and image-folder video sources (:mod:`ran_edge.video.source`). The list is
the union of the three lists those readers had before (each reads its images with OpenCV's
``imread``, which decodes all of them), so no folder that was read before is read differently now,
and a folder of ``.webp``/``.tif``/``.ppm``/``.pgm`` faces is read by all three alike.
"""

from __future__ import annotations

from pathlib import Path

#: Lower-case suffixes of image files, in the order error messages list them.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def is_image_file(path: Path) -> bool:
    """Whether ``path`` names an image by its suffix (case-insensitive); does not touch the disk."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def image_files(root: Path) -> list[Path]:
    """The image files under ``root`` (recursively, by suffix), sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file() and is_image_file(p))
