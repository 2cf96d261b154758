"""Writes SynthAU data in the exact on-disk layouts of BP4D and DISFA, quirks included.

The layouts are those of ``shared/reference/datasets.md``: real subject and task names (so
the standard 3-fold partitions apply), BP4D's mixed zero padding, integer-header occurrence
CSVs with some 9s, intensity CSVs, MATLAB v7.3 landmark files with empty entries and coded
frames without an image (and the FERA-2015 folder names); DISFA's two camera AVIs (note
``Video_RightCamera`` and ``_Comp``), per-AU label files (SN010 one line short) and per-frame
MATLAB v5 landmark files under both naming schemes, some missing.

Every writer also saves ``synthau_manifest.json`` at the root: what was generated and which
quirk was injected where, with exact counts, so tests can check a reader against it.

Example:
    >>> import tempfile
    >>> manifest = write_bp4d(tempfile.mkdtemp(), size="tiny", seed=0, progress=False)
    >>> manifest["totals"]["sequences"]
    6
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tfau._workers import process_pool
from tfau.aus import DISFA_CODED_AUS
from tfau.synth.aus import ALL_AUS, BP4D_AUS, BP4D_INTENSITY_AUS, BP4D_PROFILE
from tfau.synth.generator import DISFA_VIEWS, SynthAU, SynthSequence, _stream
from tfau.synth.matlab import write_bp4d_landmarks, write_disfa_landmarks

MANIFEST_NAME = "synthau_manifest.json"

#: BP4D subjects (41) and tasks (8).
BP4D_SUBJECTS: tuple[str, ...] = tuple(f"F{i:03d}" for i in range(1, 24)) + tuple(
    f"M{i:03d}" for i in range(1, 19)
)
BP4D_TASKS: tuple[str, ...] = tuple(f"T{i}" for i in range(1, 9))
#: DISFA subjects (27; SN014, SN015, SN019, SN020 and SN022 do not exist).
DISFA_SUBJECTS: tuple[str, ...] = tuple(
    f"SN{i:03d}" for i in (*range(1, 14), 16, 17, 18, 21, *range(23, 33))
)
#: Real frame sizes (width, height).
BP4D_FRAME_SIZE = (1040, 1392)
DISFA_FRAME_SIZE = (1024, 768)
#: Columns of BP4D's AU_OCC files: frame number (0), then AU 1 to 99.
BP4D_OCC_COLUMNS: tuple[int, ...] = tuple(range(100))
#: DISFA's label files hold this many lines per subject (SN010: one fewer).
DISFA_SHORT_SUBJECT = "SN010"


@dataclasses.dataclass(frozen=True)
class Preset:
    """How much data a writer generates.

    Args:
        name: preset name.
        bp4d_subjects: BP4D subjects written.
        bp4d_tasks: BP4D tasks written for every subject.
        bp4d_frames: coded frames per BP4D sequence.
        disfa_subjects: DISFA subjects written.
        disfa_frames: video frames per DISFA subject.
        bp4d_episode_frames: time scale of the BP4D sequences' AU episodes, in frames (the
            profile's ``episode_frames``; shorter episodes give the coded frames of a
            sequence more distinct AU combinations).
        au_scale: size of the AU deformations (`SynthAU`'s ``au_scale``).
    """

    name: str
    bp4d_subjects: tuple[str, ...]
    bp4d_tasks: tuple[str, ...]
    bp4d_frames: int
    disfa_subjects: tuple[str, ...]
    disfa_frames: int
    bp4d_episode_frames: float = BP4D_PROFILE.episode_frames
    au_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("bp4d_episode_frames", "au_scale"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"`{name}` must be positive. Received: {name}={value!r}")


#: ``tiny``: unit tests (seconds; one subject per standard part, SN010 included).
#: ``small``: two subjects per part. ``demo``: every subject, short sequences.
PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny", ("F001", "F003", "F004"), ("T1", "T2"), 6, ("SN003", "SN006", "SN010"), 10
    ),
    "small": Preset(
        "small",
        ("F001", "M001", "F003", "M002", "F004", "M003"),
        BP4D_TASKS,
        12,
        ("SN001", "SN010", "SN006", "SN011", "SN003", "SN004"),
        60,
    ),
    "demo": Preset("demo", BP4D_SUBJECTS, BP4D_TASKS, 16, DISFA_SUBJECTS, 300),
}


def get_preset(size: Preset | str) -> Preset:
    """Returns a preset by name (``"tiny"``, ``"small"``, ``"demo"``) or as given."""
    if isinstance(size, Preset):
        return size
    if size not in PRESETS:
        raise ValueError(f"Unknown size {size!r}. Expected one of: {', '.join(PRESETS)}.")
    return PRESETS[size]


def scaled_size(real: tuple[int, int], scale: float) -> tuple[int, int]:
    """Frame size at ``scale`` of a real frame size, keeping the aspect ratio (even sizes)."""
    if not 0.02 <= scale <= 1.0:
        raise ValueError(f"`scale` must be between 0.02 and 1. Received: scale={scale}")
    return (2 * round(real[0] * scale / 2), 2 * round(real[1] * scale / 2))


def _bgr(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[:, :, ::-1])


def _run(
    task: Callable[[dict[str, Any]], dict[str, Any]],
    jobs: list[dict[str, Any]],
    workers: int,
    progress: bool,
    description: str,
) -> list[dict[str, Any]]:
    """Runs ``task`` over ``jobs`` (in parallel when ``workers > 1``), results in job order."""
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc=description, unit="seq", disable=not progress)
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            results[i] = task(job)
            bar.update(1)
    else:
        # A fork server: safe when the caller runs threads (TensorFlow) or has no __main__ guard.
        with process_pool(workers, preload=["tfau.synth.writers"]) as pool:
            futures = {pool.submit(task, job): i for i, job in enumerate(jobs)}
            for future in concurrent.futures.as_completed(futures):
                results[futures[future]] = future.result()
                bar.update(1)
    bar.close()
    return [r for r in results if r is not None]


def _pick(rng: np.random.Generator, candidates: Sequence[int], count: int) -> list[int]:
    count = min(count, len(candidates))
    if count <= 0:
        return []
    return sorted(int(v) for v in rng.choice(np.asarray(candidates), size=count, replace=False))


# ---------------------------------------------------------------------------------------- BP4D


def _bp4d_paths(root: Path, subject: str, task: str, fera2015: bool) -> dict[str, Any]:
    if fera2015:
        return {
            "images": root / "BP4D-training" / subject / task,
            "occ": root / "AUCoding" / f"{subject}_{task}.csv",
            "int": lambda au: (
                root / "AU Intensity Codes3.0" / f"AU{au:02d}" / f"{subject}_{task}_AU{au:02d}.csv"
            ),
            "landmarks": root / "2DFeatures" / f"{subject}_{task}.mat",
        }
    return {
        "images": root / "Sequences" / subject / task,
        "occ": root / "AUCoding" / "AU_OCC" / f"{subject}_{task}.csv",
        "int": lambda au: (
            root / "AUCoding" / "AU_INT" / f"AU{au:02d}" / f"{subject}_{task}_AU{au:02d}.csv"
        ),
        "landmarks": root / "2DFeatures" / f"{subject}_{task}.mat",
    }


def _write_bp4d_sequence(job: dict[str, Any]) -> dict[str, Any]:
    root = Path(job["root"])
    subject, task, n = job["subject"], job["task"], job["num_frames"]
    profile = dataclasses.replace(BP4D_PROFILE, episode_frames=job["episode_frames"])
    gen = SynthAU(
        profile, image_size=tuple(job["image_size"]), seed=job["seed"], au_scale=job["au_scale"]
    )
    seq = gen.sequence(subject, task, n)
    rng = _stream(job["seed"], "bp4d-quirks", subject, task)

    first = 1 if rng.random() < 0.4 else int(rng.integers(100, 2500))
    frames = list(range(first, first + n))
    padding = job["padding"]
    occurrence = seq.occurrence(BP4D_AUS).astype(np.int64)
    intensity = seq.labels[:, [ALL_AUS.index(au) for au in BP4D_INTENSITY_AUS]].astype(np.int64)

    # Quirks (deterministic per sequence; "force" makes sure each occurs at least once).
    unknown: list[dict[str, int]] = []
    if n >= 2 and (rng.random() < 0.5 or "unknown" in job["force"]):
        start = int(rng.integers(0, n - 1))
        au = BP4D_AUS[int(rng.integers(len(BP4D_AUS)))]
        for t in range(start, min(n, start + int(rng.integers(1, 4)))):
            unknown.append({"frame": frames[t], "au": au})
            occurrence[t, BP4D_AUS.index(au)] = 9
            if au in BP4D_INTENSITY_AUS:
                intensity[t, BP4D_INTENSITY_AUS.index(au)] = 9
    no_image = []
    if n >= 3 and (rng.random() < 0.3 or "no_image" in job["force"]):
        no_image = _pick(rng, frames[1:], int(rng.integers(1, 3)))
    no_landmarks = []
    if n >= 3 and (rng.random() < 0.4 or "no_landmarks" in job["force"]):
        no_landmarks = _pick(rng, frames, int(rng.integers(1, 3)))

    paths = _bp4d_paths(root, subject, task, job["fera2015"])
    paths["images"].mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        if frame in no_image:
            continue
        name = f"{frame:04d}.jpg" if padding == "zero4" else f"{frame}.jpg"
        ok = cv2.imwrite(
            str(paths["images"] / name), _bgr(seq.frame(t)), [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
        if not ok:
            raise OSError(f"Could not write {paths['images'] / name}")

    paths["occ"].parent.mkdir(parents=True, exist_ok=True)
    with open(paths["occ"], "w", newline="") as f:
        f.write(",".join(str(c) for c in BP4D_OCC_COLUMNS) + "\n")
        for t, frame in enumerate(frames):
            row = [9] * len(BP4D_OCC_COLUMNS)
            row[0] = frame
            for k, au in enumerate(BP4D_AUS):
                row[au] = int(occurrence[t, k])
            f.write(",".join(str(v) for v in row) + "\n")
    for k, au in enumerate(BP4D_INTENSITY_AUS):
        path = paths["int"](au)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            f.writelines(f"{frame},{int(intensity[t, k])}\n" for t, frame in enumerate(frames))

    landmarks49 = seq.landmarks49[0]
    paths["landmarks"].parent.mkdir(parents=True, exist_ok=True)
    write_bp4d_landmarks(
        paths["landmarks"],
        frames[-1],
        {frame - 1: landmarks49[t] for t, frame in enumerate(frames) if frame not in no_landmarks},
    )
    counts = {str(au): int((occurrence[:, k] == 1).sum()) for k, au in enumerate(BP4D_AUS)}
    return {
        "subject": subject,
        "task": task,
        "first_frame": first,
        "num_frames": n,
        "padding": padding,
        "frames_without_image": no_image,
        "frames_without_landmarks": no_landmarks,
        "unknown_labels": unknown,
        "occurrence_counts": counts,
    }


def write_bp4d(
    out_dir: str | os.PathLike,
    size: Preset | str = "tiny",
    seed: int = 0,
    scale: float = 0.25,
    fera2015: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Writes a synthetic BP4D in the real layout (or the FERA-2015 copy's folder names).

    Layout (``fera2015=False``)::

        Sequences/<subject>/<task>/<frame>.jpg     mixed zero padding ("0001.jpg", "732.jpg")
        AUCoding/AU_OCC/<subject>_<task>.csv       header 0..99; 0/1, 9 = unknown
        AUCoding/AU_INT/AUxx/<subject>_<task>_AUxx.csv   frame,intensity (AUs 6 10 12 14 17)
        2DFeatures/<subject>_<task>.mat            MATLAB v7.3, fit/pred (N, 1) refs to (2, 49)

    With ``fera2015=True``: ``BP4D-training/<subject>/<task>/``, ``AUCoding/<s>_<t>.csv`` and
    ``AU Intensity Codes3.0/AUxx/...``. Quirks: some sequences start at frame 1, others
    later; some labels 9; some coded frames without an image; some empty landmark entries
    (every landmark entry before the first coded frame is empty too).

    Args:
        out_dir: output folder (created).
        size: :data:`PRESETS` name or a :class:`Preset`.
        seed: master seed (same seed, same bytes).
        scale: frame size as a fraction of BP4D's 1040 x 1392.
        fera2015: use the FERA-2015 folder names.
        workers: processes writing sequences in parallel.
        progress: show a tqdm progress bar.

    Returns:
        The manifest (also written to ``out_dir/synthau_manifest.json``).
    """
    preset = get_preset(size)
    image_size = scaled_size(BP4D_FRAME_SIZE, scale)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    pairs = [(s, t) for s in preset.bp4d_subjects for t in preset.bp4d_tasks]
    forced = {"unknown": 0, "no_image": min(1, len(pairs) - 1), "no_landmarks": len(pairs) - 1}
    jobs = [
        {
            "root": str(root),
            "subject": s,
            "task": t,
            "num_frames": preset.bp4d_frames,
            "episode_frames": float(preset.bp4d_episode_frames),
            "au_scale": float(preset.au_scale),
            "image_size": image_size,
            "seed": int(seed),
            "fera2015": bool(fera2015),
            "padding": "zero4" if i % 3 == 1 else "plain",
            "force": [k for k, j in forced.items() if j == i],
        }
        for i, (s, t) in enumerate(pairs)
    ]
    sequences = _run(_write_bp4d_sequence, jobs, workers, progress, "BP4D")
    coded = sum(s["num_frames"] for s in sequences)
    totals = {
        "sequences": len(sequences),
        "coded_frames": coded,
        "images": coded - sum(len(s["frames_without_image"]) for s in sequences),
        "frames_with_landmarks": coded - sum(len(s["frames_without_landmarks"]) for s in sequences),
        "unknown_labels": sum(len(s["unknown_labels"]) for s in sequences),
        "occurrence_rates": {
            str(au): sum(s["occurrence_counts"][str(au)] for s in sequences) / coded
            for au in BP4D_AUS
        },
    }
    manifest = {
        "layout": "bp4d",
        "variant": "fera2015" if fera2015 else "bp4d",
        "preset": preset.name,
        "seed": int(seed),
        "image_size": list(image_size),
        "episode_frames": float(preset.bp4d_episode_frames),
        "au_scale": float(preset.au_scale),
        "aus": list(BP4D_AUS),
        "intensity_aus": list(BP4D_INTENSITY_AUS),
        "occ_columns": len(BP4D_OCC_COLUMNS),
        "landmarks": "49 points, 1-based in the .mat, view 0",
        "sequences": sequences,
        "totals": totals,
    }
    _save_manifest(root, manifest)
    return manifest


# --------------------------------------------------------------------------------------- DISFA


def write_video(
    path: str | os.PathLike,
    sequence: SynthSequence | Sequence[SynthSequence],
    view: int = 0,
    fps: float = 25.0,
) -> Path:
    """Writes one view of SynthAU sequences as an MJPG AVI (what OpenCV reads everywhere).

    Several sequences are written one after another, like the tasks of one recording
    session (a cut between two): their frames, in order, are the video's.

    Args:
        path: the ``.avi`` file to write (its folder is created).
        sequence: a `SynthSequence` (`SynthAU.sequence`), or several of the same frame size.
        view: which camera of the sequences.
        fps: frame rate stored in the file.

    Returns:
        The written path.

    Raises:
        ValueError: when no sequence is given or their frame sizes differ.
        OSError: when OpenCV cannot open a writer at ``path``.

    Example:
        >>> seq = SynthAU("bp4d", image_size=(640, 480), seed=1).sequence("F004", "T9", 50)
        >>> write_video("/tmp/synth.avi", seq)  # doctest: +SKIP
    """
    sequences = [sequence] if isinstance(sequence, SynthSequence) else list(sequence)
    if not sequences:
        raise ValueError("`sequence` must hold at least one SynthSequence. Received: none")
    sizes = sorted({tuple(s.image_size) for s in sequences})
    if len(sizes) > 1:
        raise ValueError(
            f"The sequences of one video must share a frame size. Received sizes: {sizes}"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = sizes[0]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write an MJPG AVI at {path}")
    try:
        for seq in sequences:
            for frame in seq.frames(view):
                writer.write(_bgr(frame))
    finally:
        writer.release()
    return path


def _write_disfa_subject(job: dict[str, Any]) -> dict[str, Any]:
    root = Path(job["root"])
    subject, n = job["subject"], job["num_frames"]
    gen = SynthAU(
        "disfa",
        image_size=tuple(job["image_size"]),
        seed=job["seed"],
        views=DISFA_VIEWS,
        face_width=0.34,
        au_scale=job["au_scale"],
    )
    seq = gen.sequence(subject, "", n)
    rng = _stream(job["seed"], "disfa-quirks", subject)

    videos = (
        root / "Videos_LeftCamera" / f"LeftVideo{subject}_comp.avi",
        root / "Video_RightCamera" / f"RightVideo{subject}_Comp.avi",
    )
    for view, path in enumerate(videos):
        write_video(path, seq, view=view, fps=20.0)

    num_labels = n - 1 if subject == DISFA_SHORT_SUBJECT else n
    labels = seq.labels
    label_dir = root / "ActionUnit_Labels" / subject
    label_dir.mkdir(parents=True, exist_ok=True)
    for au in DISFA_CODED_AUS:
        column = labels[:num_labels, ALL_AUS.index(au)]
        with open(label_dir / f"{subject}_au{au}.txt", "w", newline="") as f:
            f.writelines(f"{t + 1},{int(v)}\n" for t, v in enumerate(column))

    scheme, folder = job["landmark_scheme"], job["landmark_folder"]
    missing = _pick(rng, range(1, n + 1), int(rng.integers(1, 3)) if n >= 3 else 0)
    lm_dir = root / "Landmark_Points" / subject / folder
    lm_dir.mkdir(parents=True, exist_ok=True)
    landmarks = seq.landmarks66[0]
    for t in range(n):
        frame = t + 1
        if frame in missing:
            continue
        name = f"{subject}_{frame - 1:04d}_lm.mat" if scheme == "SN" else f"l0{frame:04d}_lm.mat"
        write_disfa_landmarks(lm_dir / name, landmarks[t])
    occurrence = labels[:num_labels, [ALL_AUS.index(au) for au in DISFA_CODED_AUS]] >= 2
    return {
        "subject": subject,
        "video_frames": n,
        "label_lines": num_labels,
        "landmark_scheme": "SNxxx_NNNN_lm.mat (NNNN = frame - 1)"
        if scheme == "SN"
        else "l0NNNN_lm.mat (NNNN = frame)",
        "landmark_folder": folder,
        "missing_landmarks": missing,
        "occurrence_counts": {
            str(au): int(occurrence[:, k].sum()) for k, au in enumerate(DISFA_CODED_AUS)
        },
    }


def write_disfa(
    out_dir: str | os.PathLike,
    size: Preset | str = "tiny",
    seed: int = 0,
    scale: float = 0.25,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Writes a synthetic DISFA in the real layout.

    Layout::

        Videos_LeftCamera/LeftVideoSNxxx_comp.avi       MJPG, view 0 (labels and landmarks)
        Video_RightCamera/RightVideoSNxxx_Comp.avi      MJPG, view 1
        ActionUnit_Labels/SNxxx/SNxxx_auN.txt           "frame,intensity", frame 1-based
        Landmark_Points/SNxxx/tmp_frame_lm/SNxxx_NNNN_lm.mat   NNNN = frame - 1, or
        Landmark_Points/SNxxx/<folder>/l0NNNN_lm.mat           NNNN = frame; pts 66 x 2, 1-based

    Quirks: SN010's label files are one line short; landmark files of some frames are missing;
    subjects alternate between the two naming schemes; every fourth subject keeps its
    landmarks in a sub-folder named ``frame_lm`` instead of ``tmp_frame_lm``.

    Args:
        out_dir: output folder (created).
        size: :data:`PRESETS` name or a :class:`Preset`.
        seed: master seed (same seed, same bytes).
        scale: frame size as a fraction of DISFA's 1024 x 768.
        workers: processes writing subjects in parallel.
        progress: show a tqdm progress bar.

    Returns:
        The manifest (also written to ``out_dir/synthau_manifest.json``).
    """
    preset = get_preset(size)
    image_size = scaled_size(DISFA_FRAME_SIZE, scale)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    jobs = [
        {
            "root": str(root),
            "subject": subject,
            "num_frames": preset.disfa_frames,
            "au_scale": float(preset.au_scale),
            "image_size": image_size,
            "seed": int(seed),
            "landmark_scheme": "SN" if i % 2 == 0 else "l0",
            "landmark_folder": "frame_lm" if i % 4 == 3 else "tmp_frame_lm",
        }
        for i, subject in enumerate(preset.disfa_subjects)
    ]
    subjects = _run(_write_disfa_subject, jobs, workers, progress, "DISFA")
    lines = sum(s["label_lines"] for s in subjects)
    totals = {
        "subjects": len(subjects),
        "video_frames": sum(s["video_frames"] for s in subjects),
        "label_lines": lines,
        "landmark_files": sum(s["video_frames"] - len(s["missing_landmarks"]) for s in subjects),
        "occurrence_rates": {
            str(au): sum(s["occurrence_counts"][str(au)] for s in subjects) / lines
            for au in DISFA_CODED_AUS
        },
    }
    manifest = {
        "layout": "disfa",
        "variant": "disfa",
        "preset": preset.name,
        "seed": int(seed),
        "image_size": list(image_size),
        "au_scale": float(preset.au_scale),
        "aus": list(DISFA_CODED_AUS),
        "occurrence_intensity": 2,
        "codec": "MJPG",
        "landmarks": "66 points, 1-based in the .mat, left camera",
        "subjects": subjects,
        "totals": totals,
    }
    _save_manifest(root, manifest)
    return manifest


def _save_manifest(root: Path, manifest: dict[str, Any]) -> None:
    with open(root / MANIFEST_NAME, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


def read_manifest(root: str | os.PathLike) -> dict[str, Any]:
    """Reads the ``synthau_manifest.json`` a writer left in ``root``."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"No SynthAU manifest at {path}. Expected a folder written by "
            "tfau.synth.write_bp4d / write_disfa (or `tfau synth`)."
        )
    with open(path) as f:
        return json.load(f)


def write_layout(layout: str, out_dir: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
    """Writes ``layout`` (``"bp4d"``, ``"fera2015"`` or ``"disfa"``); see the writers."""
    if layout == "bp4d":
        return write_bp4d(out_dir, **kwargs)
    if layout == "fera2015":
        return write_bp4d(out_dir, fera2015=True, **kwargs)
    if layout == "disfa":
        return write_disfa(out_dir, **kwargs)
    raise ValueError(f"Unknown layout {layout!r}. Expected one of: bp4d, fera2015, disfa.")
