"""Reading BP4D-Spontaneous as it arrives on disk (full release and FERA-2015 copies).

```
<manual_dir>/
  Sequences/F001/T1/2440.jpg            # FERA-2015 copy: BP4D-training/F001/T1/*.jpg
  AUCoding/AU_OCC/F001_T1.csv           # FERA-2015 copy: AUCoding/F001_T1.csv
  AUCoding/AU_INT/AU06/F001_T1_AU06.csv # FERA-2015 copy: "AU Intensity Codes3.0/AU06/..."
  2DFeatures/F001_T1.mat                # 49 tracked landmarks per frame (MATLAB v7.3 / HDF5)
```

`find_layout` checks a manual_dir and lists its sequences (one per AU_OCC file); it raises
`ManualDirError` naming what it expected and what it found. `sequence_examples` reads one
sequence into finished examples (run in worker processes, or in Beam workers). Pairs configs
take the previous frame from the image of frame f - 1 in the same folder (BP4D's frames are
consecutive and the folders hold uncoded frames too).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

import h5py
import numpy as np
from etils import epath
from tfau.datasets import common

from tfau.aus import BP4D_AUS, BP4D_INTENSITY_AUS

#: Standard AU set of BP4D (DRML, EAC-Net, JAA-Net, AUNets, PAttNet): the ``au`` feature's
#: columns and the ``standard_aus`` metadata.
STANDARD_AUS: tuple[int, ...] = BP4D_AUS
#: AUs with intensity codes.
INTENSITY_AUS: tuple[int, ...] = BP4D_INTENSITY_AUS

#: Standard subject-exclusive parts (datasets.md).
PARTS: dict[str, tuple[str, ...]] = {
    "part1": ("F001 F002 F008 F009 F010 F016 F018 F023 M001 M004 M007 M008 M012 M014").split(),
    "part2": ("F003 F005 F011 F013 F020 F022 M002 M005 M010 M011 M013 M016 M017 M018").split(),
    "part3": ("F004 F006 F007 F012 F014 F015 F017 F019 F021 M003 M006 M009 M015").split(),
}

# Candidate folders, full release first, relative to manual_dir.
IMAGE_ROOTS = ("Sequences", "BP4D-training")
OCCURRENCE_ROOTS = ("AUCoding/AU_OCC", "AUCoding")
INTENSITY_ROOTS = (
    "AUCoding/AU_INT",
    "AUCoding/AU Intensity Codes3.0",
    "AU Intensity Codes3.0",
)
LANDMARK_ROOTS = ("2DFeatures",)

_SEQUENCE_CSV = re.compile(r"^([FM]\d{3})_(T\d+)\.csv$", re.IGNORECASE)
_OCC_VALUES = {0: 0, 1: 1, 9: -1}


@dataclasses.dataclass(frozen=True)
class Bp4dSequence:
    """One AU-coded sequence and where its files are (paths as strings, for pickling)."""

    subject: str
    task: str
    occurrence_csv: str
    image_dir: str | None
    intensity_csvs: tuple[tuple[int, str], ...]
    landmarks_mat: str | None
    crop: common.CropSpec

    @property
    def name(self) -> str:
        return f"{self.subject}_{self.task}"


@dataclasses.dataclass(frozen=True)
class Bp4dLayout:
    """The folders found in a manual_dir and its sequences, sorted."""

    image_root: epath.Path
    occurrence_root: epath.Path
    intensity_root: epath.Path
    landmark_root: epath.Path
    sequences: tuple[tuple[str, str, epath.Path], ...]  # (subject, task, AU_OCC csv)


def _first_existing(root: epath.Path, candidates: Iterable[str]) -> epath.Path | None:
    for candidate in candidates:
        path = root / candidate
        if path.is_dir():
            return path
    return None


def _occurrence_files(folder: epath.Path) -> list[tuple[str, str, epath.Path]]:
    found = []
    for path in folder.iterdir():
        match = _SEQUENCE_CSV.match(path.name)
        if match and path.is_file():
            found.append((match.group(1).upper(), match.group(2).upper(), path))
    return sorted(found, key=lambda item: (item[0], int(item[1][1:])))


def find_layout(manual_dir: epath.PathLike) -> Bp4dLayout:
    """Checks a BP4D manual_dir and lists its sequences.

    Args:
        manual_dir: the folder holding the BP4D download.

    Returns:
        The `Bp4dLayout`.

    Raises:
        ManualDirError: a required folder is missing or holds no sequence; the message lists
            the accepted folder names and what the manual_dir contains.
    """
    root = epath.Path(manual_dir)
    problems = []
    image_root = _first_existing(root, IMAGE_ROOTS)
    if image_root is None:
        problems.append(f"an image folder: {' or '.join(IMAGE_ROOTS)} (<subject>/<task>/*.jpg)")
    occurrence_root = None
    sequences: list[tuple[str, str, epath.Path]] = []
    for candidate in OCCURRENCE_ROOTS:
        folder = root / candidate
        if folder.is_dir():
            sequences = _occurrence_files(folder)
            if sequences:
                occurrence_root = folder
                break
    if occurrence_root is None:
        problems.append(
            "AU occurrence labels: "
            + " or ".join(f"{c}/<subject>_<task>.csv" for c in OCCURRENCE_ROOTS)
        )
    intensity_root = _first_existing(root, INTENSITY_ROOTS)
    if intensity_root is None:
        problems.append(
            "AU intensity labels: "
            + " or ".join(f'"{c}/AUxx/<subject>_<task>_AUxx.csv"' for c in INTENSITY_ROOTS)
        )
    landmark_root = _first_existing(root, LANDMARK_ROOTS)
    if landmark_root is None:
        problems.append("landmarks: 2DFeatures/<subject>_<task>.mat")
    if problems:
        found = [common.describe_dir(root)]
        if (root / "AUCoding").is_dir():
            found.append(common.describe_dir(root / "AUCoding"))
        raise common.ManualDirError(
            f"{root} is not a BP4D manual_dir. Missing:\n  - "
            + "\n  - ".join(problems)
            + "\nFound: "
            + "; ".join(found)
            + f"\nExpected layout:\n{__doc__.split('```')[1].strip()}"
        )
    return Bp4dLayout(
        image_root=image_root,
        occurrence_root=occurrence_root,
        intensity_root=intensity_root,
        landmark_root=landmark_root,
        sequences=tuple(sequences),
    )


def _find_case_insensitive(folder: epath.Path, name: str) -> epath.Path | None:
    path = folder / name
    if path.exists():
        return path
    if not folder.is_dir():
        return None
    for child in folder.iterdir():
        if child.name.lower() == name.lower():
            return child
    return None


def make_task(
    layout: Bp4dLayout, subject: str, task: str, occurrence_csv: epath.Path, crop: common.CropSpec
) -> Bp4dSequence:
    """Locates the images, intensity files and landmarks of one sequence."""
    subject_dir = _find_case_insensitive(layout.image_root, subject)
    image_dir = _find_case_insensitive(subject_dir, task) if subject_dir else None
    intensity_csvs = []
    for au in INTENSITY_AUS:
        au_dir = _find_case_insensitive(layout.intensity_root, f"AU{au:02d}")
        if au_dir is None:
            continue
        path = _find_case_insensitive(au_dir, f"{subject}_{task}_AU{au:02d}.csv")
        if path is not None:
            intensity_csvs.append((au, str(path)))
    landmarks = _find_case_insensitive(layout.landmark_root, f"{subject}_{task}.mat")
    return Bp4dSequence(
        subject=subject,
        task=task,
        occurrence_csv=str(occurrence_csv),
        image_dir=str(image_dir) if image_dir else None,
        intensity_csvs=tuple(intensity_csvs),
        landmarks_mat=str(landmarks) if landmarks else None,
        crop=crop,
    )


def read_occurrence(path: str, result: common.SequenceResult) -> dict[int, dict[int, int]]:
    """AU_OCC csv -> {frame: {au: 1 / 0 / -1}}; malformed rows are recorded and skipped.

    Columns are looked up by their header: ``0`` is the frame, ``k`` is AU k (any number).
    """
    lines = epath.Path(path).read_text().splitlines()
    if not lines:
        result.skip("malformed_row", f"{path}:1 (empty file)")
        return {}
    try:
        header = [int(float(name)) for name in lines[0].split(",")]
    except ValueError:
        result.skip("malformed_row", f"{path}:1 (header is not AU numbers: {lines[0][:60]!r})")
        return {}
    if 0 not in header:
        result.skip("malformed_row", f"{path}:1 (no frame column 0 in header)")
        return {}
    frame_column = header.index(0)
    rows: dict[int, dict[int, int]] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split(",")
        try:
            if len(fields) != len(header):
                raise ValueError(f"{len(fields)} fields, header has {len(header)}")
            values = [int(float(field)) for field in fields]
            frame = values[frame_column]
            codes = {}
            for au, value in zip(header, values, strict=True):
                if au == 0:
                    continue
                if value not in _OCC_VALUES:
                    raise ValueError(f"AU{au} = {value}, expected 0, 1 or 9")
                codes[au] = _OCC_VALUES[value]
        except ValueError as error:
            result.skip("malformed_row", f"{path}:{number} ({error})")
            continue
        rows[frame] = codes
    return rows


def read_intensity(path: str, result: common.SequenceResult) -> dict[int, int]:
    """AU_INT csv (no header, ``frame,intensity``, 9 unknown) -> {frame: 0-5 / -1}."""
    values: dict[int, int] = {}
    for number, line in enumerate(epath.Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            frame_text, value_text = line.split(",")[:2]
            frame, value = int(float(frame_text)), int(float(value_text))
            if value != 9 and not 0 <= value <= 5:
                raise ValueError(f"intensity {value}, expected 0-5 or 9")
        except ValueError as error:
            result.skip("malformed_row", f"{path}:{number} ({error})")
            continue
        values[frame] = -1 if value == 9 else value
    return values


def read_landmarks(path: str, result: common.SequenceResult) -> dict[int, np.ndarray]:
    """2DFeatures .mat (HDF5) -> {frame: (49, 2) 0-based}; empty entries left out.

    ``fit/pred`` holds one object reference per frame (entry ``frame - 1``) to a ``(2, 49)``
    dataset of 1-based x and y; anything else, all zeros or NaN, is no landmarks.
    """
    landmarks: dict[int, np.ndarray] = {}
    try:
        with epath.Path(path).open("rb") as stream, h5py.File(stream, "r") as mat:
            references = np.asarray(mat["fit"]["pred"][()]).reshape(-1)
            for index, reference in enumerate(references):
                if not reference:
                    continue
                entry = mat[reference]
                if not isinstance(entry, h5py.Dataset) or entry.shape != (2, 49):
                    continue
                points = np.asarray(entry[()], np.float64).T
                if common.valid_landmarks(points, 49):
                    landmarks[index + 1] = (points - 1.0).astype(np.float32)
    except (OSError, KeyError, ValueError, TypeError) as error:
        result.skip("corrupt_landmarks", f"{path} ({type(error).__name__}: {error})")
        return {}
    return landmarks


def index_images(image_dir: str | None) -> dict[int, epath.Path]:
    """Frame number -> image path; file names are frame numbers with any zero padding."""
    if image_dir is None:
        return {}
    images = {}
    for path in epath.Path(image_dir).iterdir():
        if path.suffix.lower() in (".jpg", ".jpeg", ".png") and path.stem.isdigit():
            images[int(path.stem)] = path
    return images


def _previous_frame(
    images: dict[int, epath.Path],
    frame: int,
    factor: int,
    shape: tuple[int, ...],
    last: tuple[int, int, np.ndarray] | None,
) -> np.ndarray | None:
    """Frame ``frame - 1`` decoded at 1/``factor``, or None if missing, corrupt or resized.

    ``last`` is the ``(frame, factor, image)`` decoded just before: consecutive coded frames
    reuse it instead of decoding the file twice.
    """
    if last is not None and last[:2] == (frame - 1, factor):
        previous = last[2]
    elif frame - 1 in images:
        previous = common.decode_image(images[frame - 1].read_bytes(), reduce=factor)
    else:
        return None
    return previous if previous is not None and previous.shape == shape else None


def sequence_examples(task: Bp4dSequence) -> common.SequenceResult:
    """Reads one sequence: every coded frame with an image (and, if aligned, landmarks).

    Pairs configs (``task.crop.pairs``) add the image of frame f - 1 cut out with frame f's
    matrix; where it is missing or corrupt the example keeps ``has_previous=False`` (counted
    in ``kept_without_previous``).

    Args:
        task: the sequence.

    Returns:
        The examples (keys ``<subject>_<task>_<frame>``) and what was skipped and why.
    """
    result = common.SequenceResult()
    occurrence = read_occurrence(task.occurrence_csv, result)
    intensities = {au: read_intensity(path, result) for au, path in task.intensity_csvs}
    landmarks = read_landmarks(task.landmarks_mat, result) if task.landmarks_mat else {}
    images = index_images(task.image_dir)
    frames = sorted(occurrence)
    fallback = {} if task.crop.aligned else common.nearest_landmarks(frames, landmarks)
    last: tuple[int, int, np.ndarray] | None = None  # (frame, factor, image) last decoded
    for frame in frames:
        where = f"{task.image_dir or task.occurrence_csv}: frame {frame}"
        if frame not in images:
            result.skip("missing_image", f"{where} (no image file)")
            continue
        points, box_points = landmarks.get(frame), fallback.get(frame)
        # BP4D frames are 1040 x 1392: decode at the smallest size the face crop allows.
        factor = common.decode_reduction(points if points is not None else box_points, task.crop)
        image = common.decode_image(images[frame].read_bytes(), reduce=factor)
        if image is None:
            result.skip("corrupt_image", str(images[frame]))
            continue
        previous = (
            _previous_frame(images, frame, factor, image.shape, last) if task.crop.pairs else None
        )
        last = (frame, factor, image)
        face = common.crop_face(
            image,
            common.reduce_points(points, factor),
            task.crop,
            box_landmarks=common.reduce_points(box_points, factor),
            previous_rgb=previous,
        )
        if face is None:
            reason = "no_landmarks" if task.crop.aligned else "no_landmarks_in_sequence"
            result.skip(reason, where)
            continue
        if points is None:
            result.kept_without_landmarks += 1
        if task.crop.pairs and previous is None:
            result.kept_without_previous += 1
        frame_intensity = {
            au: values[frame] for au, values in intensities.items() if frame in values
        }
        example = {
            **face,
            **common.au_vectors(occurrence[frame], frame_intensity, STANDARD_AUS),
            "subject": task.subject,
            "task": task.task,
            "sequence": task.name,
            "frame": np.int32(frame),
        }
        result.examples.append((f"{task.name}_{frame:05d}", example))
    return result
