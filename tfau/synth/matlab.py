"""MATLAB files as the real corpora ship them: v7.3 (HDF5) for BP4D, v5 for DISFA.

A MATLAB v7.3 MAT-file is an HDF5 file with a 512-byte user block whose first 128 bytes are
the MAT-file header (text, then version 0x0200 and the endian mark ``IM``); every variable
carries a ``MATLAB_class`` attribute; cell arrays are datasets of object references to
datasets in the ``#refs#`` group; an empty matrix is stored as its dimensions (``uint64``
``[0, 0]``) with ``MATLAB_empty = 1``; MATLAB stores arrays column-major, so h5py sees a
MATLAB ``49 x 2`` matrix as ``(2, 49)``. :func:`write_bp4d_landmarks` writes exactly that
structure, so ``h5py`` reads it as it reads the real ``2DFeatures`` files, and
``scipy.io.matlab.matfile_version`` reports ``(2, 0)``.

Reference:
    - MathWorks, "MAT-File Versions" (v7.3 is HDF5-based, 512-byte header).
"""

from __future__ import annotations

import os

import h5py
import numpy as np
import scipy.io

_USERBLOCK = 512


def _header(created: str) -> bytes:
    text = (
        f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {created} HDF5 schema 1.00 ."
    ).encode("ascii")
    # 116 bytes of text, 8 bytes of subsystem offset, version 0x0200, endian indicator "IM".
    return text.ljust(116, b" ") + b" " * 8 + b"\x00\x02" + b"IM"


def _set_class(obj: h5py.HLObject, matlab_class: str) -> None:
    obj.attrs.create("MATLAB_class", np.bytes_(matlab_class))


def _ref_name(i: int) -> str:
    """MATLAB-like names for referenced datasets: a, b, ..., z, ba, bb, ..."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    name = ""
    while True:
        name = letters[i % 26] + name
        i //= 26
        if i == 0:
            return name


def write_bp4d_landmarks(
    path: str | os.PathLike,
    num_entries: int,
    landmarks: dict[int, np.ndarray],
    created: str = "Mon Jan  8 10:00:00 2018",
) -> None:
    """Writes a BP4D ``2DFeatures/<subject>_<task>.mat`` file (MATLAB v7.3).

    Args:
        path: output file.
        num_entries: length N of ``fit/pred`` (frames 1..N of the video).
        landmarks: 0-based entry index (``frame - 1``) -> (49, 2) 0-based ``(x, y)``
            landmarks. Entries not given are stored as empty matrices.
        created: creation date written in the MAT-file header.

    Example:
        >>> import tempfile, os, numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "F001_T1.mat")
        >>> write_bp4d_landmarks(path, 3, {1: np.zeros((49, 2))})
        >>> read_bp4d_landmarks(path)[1][0, 0]
        0.0
    """
    if num_entries < 1:
        raise ValueError(f"`num_entries` must be at least 1. Received: num_entries={num_entries}")
    bad = [k for k in landmarks if not 0 <= k < num_entries]
    if bad:
        raise ValueError(
            f"Landmark entries must lie in [0, {num_entries}). Received entries: {sorted(bad)[:5]}"
        )
    with h5py.File(path, "w", userblock_size=_USERBLOCK, libver="earliest") as f:
        refs_group = f.create_group("#refs#")
        fit = f.create_group("fit")
        _set_class(fit, "struct")
        empty = refs_group.create_dataset("a", data=np.zeros(2, dtype=np.uint64))
        _set_class(empty, "double")
        empty.attrs.create("MATLAB_empty", np.uint8(1))
        refs = np.empty((num_entries, 1), dtype=h5py.ref_dtype)
        refs[:, 0] = empty.ref
        for n, entry in enumerate(sorted(landmarks)):
            points = np.asarray(landmarks[entry], dtype=np.float64)
            if points.shape != (49, 2):
                raise ValueError(
                    f"BP4D landmarks must have shape (49, 2). Received: shape={points.shape} "
                    f"for entry {entry}"
                )
            # MATLAB is column-major: a 49 x 2 matrix reads as (2, 49) in HDF5; 1-based.
            dataset = refs_group.create_dataset(_ref_name(n + 1), data=(points + 1.0).T)
            _set_class(dataset, "double")
            refs[entry, 0] = dataset.ref
        pred = fit.create_dataset("pred", data=refs)
        _set_class(pred, "cell")
    with open(path, "r+b") as raw:
        raw.write(_header(created))


def read_bp4d_landmarks(path: str | os.PathLike) -> dict[int, np.ndarray]:
    """Reads ``fit/pred`` of a BP4D ``2DFeatures`` file back (as a builder would).

    Args:
        path: the ``.mat`` file.

    Returns:
        0-based entry index -> (49, 2) 0-based ``(x, y)`` landmarks, for non-empty entries.
    """
    out = {}
    with h5py.File(path, "r") as f:
        pred = f["fit/pred"]
        for i in range(pred.shape[0]):
            data = f[pred[i, 0]][()]
            if data.shape == (2, 49) and np.isfinite(data).all() and np.any(data != 0):
                out[i] = data.T - 1.0
    return out


def write_disfa_landmarks(path: str | os.PathLike, landmarks: np.ndarray) -> None:
    """Writes one DISFA ``*_lm.mat`` file (MATLAB v5): ``pts``, 66 x 2, 1-based ``(x, y)``.

    Args:
        path: output file.
        landmarks: (66, 2) 0-based ``(x, y)`` landmarks.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (66, 2):
        raise ValueError(f"DISFA landmarks must have shape (66, 2). Received: shape={points.shape}")
    scipy.io.savemat(path, {"pts": points + 1.0}, do_compression=False)


def matlab_v73_header(path: str | os.PathLike) -> bytes:
    """The first 128 bytes of a file (the MAT-file header of v7.3 files)."""
    with open(path, "rb") as f:
        return f.read(128)
