"""Files the target writes (rejected records, dry-run output, ...): private to its user.

They hold key values, names and IPv4 addresses, so every file is created 0600 and every
folder the target creates 0700. Creating with that mode (rather than chmod afterwards) lets
the process umask apply on top, so a stricter umask is honoured and there is no moment at
which the file is readable by others.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def make_private_folders(folder: Path) -> None:
    """Create `folder` and its missing parents, each 0700; existing folders are left alone.

    `Path.mkdir(parents=True)` and `os.makedirs` give missing parents the default mode, so
    each level is created here.
    """
    missing: list[Path] = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        # Created meanwhile (another writer of the same run): fine, it is not ours to change.
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, FOLDER_MODE)


def private_file(path: str | Path, *, append: bool = True) -> IO[str]:
    """Open `path` for writing text, created 0600 in 0700 folders.

    An existing regular file we own is tightened to owner-only (group and other bits
    removed): the file is about to receive personal data, whatever it held before. A file
    owned by someone else cannot be changed by us; it is used as it is, with a warning when
    others can read it.
    """
    path = Path(path)
    make_private_folders(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        info = os.fstat(fd)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISREG(info.st_mode) and mode & 0o077:
            if info.st_uid == _euid() and hasattr(os, "fchmod"):
                os.fchmod(fd, mode & FILE_MODE)
            else:
                logger.warning(
                    "%s belongs to another user and is readable by others (mode %o); the "
                    "target cannot tighten it. Remove it or make it private (chmod 600).",
                    path,
                    mode,
                )
        return os.fdopen(fd, "a" if append else "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def _euid() -> int | None:
    geteuid = getattr(os, "geteuid", None)
    return geteuid() if geteuid is not None else None
