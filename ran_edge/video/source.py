"""Frame sources: a video file, a folder of images, a camera index, or an OpenCV/GStreamer pipeline / URL.

``open_source("clip.mp4")``, ``open_source("frames/")``, ``open_source("0")`` (camera 0),
``open_source("rtsp://host/stream")``, ``open_source("nvarguscamerasrc ! ... ! appsink")``.

Iterating yields :class:`Frame` objects. Corrupt or missing frames are skipped and counted in
:attr:`FrameSource.stats`; a *live* source (camera, URL, pipeline) that stops delivering is reopened
with exponential back-off up to ``max_reopen`` times in a row; the end of a file finishes cleanly.
"""

from __future__ import annotations

import enum
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

import numpy as np

from ran_edge._lazy import require
from ran_edge.data.images import IMAGE_SUFFIXES, is_image_file
from ran_edge.errors import RanEdgeError


class SourceKind(str, enum.Enum):
    FILE = "file"
    FOLDER = "folder"
    CAMERA = "camera"
    STREAM = "stream"  # URL (rtsp://, http://) or GStreamer pipeline


@dataclass(frozen=True)
class Frame:
    """A decoded frame: ``index`` counts delivered frames from 0, ``timestamp`` is in seconds."""

    index: int
    timestamp: float
    image: np.ndarray


@dataclass
class SourceStats:
    """What happened while reading: delivered frames, skipped (corrupt/missing) frames, reopens."""

    delivered: int = 0
    skipped: int = 0
    reopened: int = 0
    gave_up: bool = False


@dataclass(frozen=True)
class ReopenPolicy:
    """Back-off for live sources: wait ``base_s * 2**k`` (at most ``max_s``) before reopen number k+1.

    ``max_reopen`` bounds the reopens *in a row* (without a good frame in between); a stream that
    recovers starts the count again, so a long-running camera survives occasional drops.
    """

    max_reopen: int = 5
    base_s: float = 0.5
    max_s: float = 8.0
    max_bad_frames: int = 30  # consecutive undecodable frames after which a stream counts as dropped

    def delay(self, attempt: int) -> float:
        return min(self.max_s, self.base_s * (2 ** attempt))


def classify_source(text: str) -> SourceKind:
    """Which kind of source a SOURCE argument names (no file access beyond ``exists``)."""
    if re.fullmatch(r"\d+", text.strip()):
        return SourceKind.CAMERA
    if "!" in text or re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I):
        return SourceKind.STREAM
    p = Path(text)
    return SourceKind.FOLDER if p.is_dir() else SourceKind.FILE


def _valid(img: Any) -> bool:
    return isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.size > 0


class FrameSource:
    """Base: iterate for frames; ``stats``, ``fps``, ``size``, ``close()``; usable as a context manager."""

    kind: SourceKind
    description: str = ""
    fps: float = 25.0
    size: Optional[tuple] = None  # (width, height) when known
    frame_count: Optional[int] = None

    def __init__(self) -> None:
        self.stats = SourceStats()

    def __iter__(self) -> Iterator[Frame]:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FolderSource(FrameSource):
    """Images of a folder in name order; unreadable files are skipped and counted."""

    kind = SourceKind.FOLDER

    def __init__(self, folder: Path, fps: float = 25.0):
        super().__init__()
        folder = Path(folder)
        if not folder.is_dir():
            raise RanEdgeError(f"image folder not found: {folder}")
        self.files: List[Path] = sorted(p for p in folder.iterdir() if is_image_file(p))
        if not self.files:
            raise RanEdgeError(f"{folder}: no images found; expected files ending in {', '.join(IMAGE_SUFFIXES)}")
        self.fps, self.description, self.frame_count = float(fps), str(folder), len(self.files)

    def __iter__(self) -> Iterator[Frame]:
        cv2 = require("cv2", feature="reading image folders")
        for path in self.files:
            data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
            img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
            if not _valid(img):
                self.stats.skipped += 1
                continue
            if self.size is None:
                self.size = (img.shape[1], img.shape[0])
            i = self.stats.delivered
            self.stats.delivered += 1
            yield Frame(i, i / self.fps, img)


class CaptureSource(FrameSource):
    """An OpenCV ``VideoCapture``: a file (``live=False``) or a camera / URL / pipeline (``live=True``).

    ``open_capture`` builds a fresh capture each (re)open; by default ``cv2.VideoCapture(target, api)``.
    """

    def __init__(self, target: Any, kind: SourceKind, live: bool, policy: ReopenPolicy = ReopenPolicy(),
                 open_capture: Optional[Callable[[], Any]] = None, sleep: Callable[[float], None] = time.sleep):
        super().__init__()
        self.kind, self.live, self.policy, self._sleep = kind, live, policy, sleep
        self.description = str(target)
        self._open = open_capture or _default_opener(target, kind)
        self._cap = self._open()
        if self._cap is None or not self._cap.isOpened():
            raise RanEdgeError(_open_error(target, kind))
        self._read_props()

    def _read_props(self) -> None:
        cv2 = require("cv2", feature="video capture")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0 < fps < 1000 else 25.0
        w, h = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        self.size = (w, h) if w > 0 and h > 0 else None
        n = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = n if n > 0 and not self.live else None

    def __iter__(self) -> Iterator[Frame]:
        bad, attempt, t0 = 0, 0, time.monotonic()
        while True:
            ok, img = self._cap.read() if self._cap is not None else (False, None)
            if ok and _valid(img):
                bad, attempt = 0, 0
                i = self.stats.delivered
                self.stats.delivered += 1
                ts = i / self.fps if not self.live else time.monotonic() - t0
                yield Frame(i, ts, img)
                continue
            if ok or (not self.live and self._more_left()):
                # decoded something that is not a BGR frame, or a corrupt frame in the middle of a file
                self.stats.skipped += 1
                bad += 1
                if bad < self.policy.max_bad_frames:
                    continue
            if not self.live:
                return  # end of the file (or too many bad frames in a row)
            if attempt >= self.policy.max_reopen:
                self.stats.gave_up = True
                return
            self._sleep(self.policy.delay(attempt))
            attempt += 1
            self.stats.reopened += 1
            self._release()
            self._cap = self._open()
            if self._cap is None or not self._cap.isOpened():
                self._cap = None

    def _more_left(self) -> bool:
        if self._cap is None or self.frame_count is None:
            return False
        cv2 = require("cv2", feature="video capture")
        pos = int(self._cap.get(cv2.CAP_PROP_POS_FRAMES) or 0)
        return pos < self.frame_count

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def close(self) -> None:
        self._release()


def _quiet_opencv(cv2: Any) -> None:
    """OpenCV logs failed camera/stream opens as warnings; our error message says it in one line."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None and hasattr(logging, "setLogLevel"):
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)


def _default_opener(target: Any, kind: SourceKind) -> Callable[[], Any]:
    cv2 = require("cv2", feature="video capture")
    if kind is not SourceKind.FILE:
        _quiet_opencv(cv2)
    if kind is SourceKind.STREAM and "!" in str(target):
        return lambda: cv2.VideoCapture(str(target), cv2.CAP_GSTREAMER)
    if kind is SourceKind.CAMERA:
        return lambda: cv2.VideoCapture(int(target))
    return lambda: cv2.VideoCapture(str(target))


def gstreamer_available() -> bool:
    """True when this OpenCV build has GStreamer support (``cv2.getBuildInformation``)."""
    cv2 = require("cv2", feature="video capture")
    info = cv2.getBuildInformation()
    m = re.search(r"GStreamer:\s*(\S+)", info)
    return bool(m and m.group(1).upper() not in ("NO", "OFF"))


def _open_error(target: Any, kind: SourceKind) -> str:
    if kind is SourceKind.FILE:
        return f"cannot read video {target}: not a video OpenCV can decode; expected a video file, an image folder, a camera index or a stream URL"
    if kind is SourceKind.CAMERA:
        return f"cannot open camera {target}; expected a connected camera index (0, 1, ...)"
    if "!" in str(target) and not gstreamer_available():
        return ("cannot open the GStreamer pipeline: this OpenCV build has no GStreamer support "
                "(pip wheels do not; use the distribution's or JetPack's OpenCV)")
    return f"cannot open stream {target}; check the URL/pipeline and that the source is up"


def open_source(text: str, *, fps: float = 25.0, policy: ReopenPolicy = ReopenPolicy()) -> FrameSource:
    """Open a SOURCE argument (see the module docstring). Missing or unreadable input: one-line RanEdgeError."""
    kind = classify_source(text)
    if kind is SourceKind.FOLDER:
        return FolderSource(Path(text), fps=fps)
    if kind is SourceKind.FILE:
        p = Path(text)
        if not p.exists():
            raise RanEdgeError(f"source not found: {text}; expected a video file, an image folder, a camera index or a stream URL")
        if not p.is_file():
            raise RanEdgeError(f"source {text} is not a regular file")
        return CaptureSource(p, kind, live=False, policy=policy)
    return CaptureSource(text, kind, live=True, policy=policy)
