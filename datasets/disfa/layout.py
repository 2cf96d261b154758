"""Reading DISFA as it arrives on disk.

```
<manual_dir>/
  Videos_LeftCamera/LeftVideoSN001_comp.avi
  Video_RightCamera/RightVideoSN001_Comp.avi     # singular "Video_", capital "C"
  ActionUnit_Labels/SN001/SN001_au1.txt ... SN001_au26.txt
  Landmark_Points/SN001/tmp_frame_lm/SN001_0000_lm.mat   # or l0NNNN_lm.mat
```

Label files have no header, lines ``frame,intensity`` (frame 1-based, intensity 0-5); label
frame f is video frame f-1. Landmark files (MATLAB v5, variable ``pts``, 66 x 2, 1-based) are
named ``SNxxx_NNNN_lm.mat`` (NNNN = frame - 1) or ``l0NNNN_lm.mat`` (NNNN = frame), in a
sub-folder whose name varies: they are found with ``Landmark_Points/SNxxx/*/*_lm.mat``.
Folder and file names are matched without regard to case.
"""

from __future__ import annotations

import dataclasses
import re

import cv2
import numpy as np
import scipy.io
from etils import epath
from tfau.datasets import common

from tfau.aus import DISFA_AUS, DISFA_CODED_AUS
from tfau.faces import convert_landmarks

#: Standard AU set of DISFA (DRML, EAC-Net, JAA-Net): the ``au`` feature's columns and the
#: ``standard_aus`` metadata.
STANDARD_AUS: tuple[int, ...] = DISFA_AUS
#: Every AU DISFA codes (intensity 0-5; occurrence = intensity >= 2).
CODED_AUS: tuple[int, ...] = DISFA_CODED_AUS
#: Intensity from which an AU counts as present.
OCCURRENCE_THRESHOLD = 2
#: Right-camera configs: frames sampled to find the left-to-right face shift.
STEREO_SAMPLES = 16

PARTS: dict[str, tuple[str, ...]] = {
    "part1": "SN001 SN002 SN009 SN010 SN016 SN026 SN027 SN030 SN032".split(),
    "part2": "SN006 SN011 SN012 SN013 SN018 SN021 SN024 SN028 SN031".split(),
    "part3": "SN003 SN004 SN005 SN007 SN008 SN017 SN023 SN025 SN029".split(),
}

VIDEO_DIRS: dict[str, tuple[str, ...]] = {
    "left": ("Videos_LeftCamera", "Video_LeftCamera"),
    "right": ("Video_RightCamera", "Videos_RightCamera"),
}
LABEL_DIR = "ActionUnit_Labels"
LANDMARK_DIR = "Landmark_Points"

_VIDEO = re.compile(r"^(left|right)video(sn\d{3})_comp\.avi$", re.IGNORECASE)
_LABEL = re.compile(r"^(sn\d{3})_au(\d+)\.txt$", re.IGNORECASE)
_LANDMARK_ZERO_BASED = re.compile(r"^sn\d{3}_(\d+)_lm\.mat$", re.IGNORECASE)
_LANDMARK_ONE_BASED = re.compile(r"^l(\d+)_lm\.mat$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class DisfaSubject:
    """One subject's video, label files and landmark files (paths as strings)."""

    subject: str
    video: str
    landmark_video: str | None
    label_files: tuple[tuple[int, str], ...]
    landmark_dir: str | None
    crop: common.CropSpec


@dataclasses.dataclass(frozen=True)
class DisfaLayout:
    """The folders of a DISFA manual_dir and its subjects that have a video and labels."""

    video_dir: epath.Path
    label_dir: epath.Path
    landmark_dir: epath.Path
    subjects: tuple[str, ...]
    videos: dict[str, epath.Path]
    left_videos: dict[str, epath.Path]


def _child(folder: epath.Path, names: tuple[str, ...] | str) -> epath.Path | None:
    """The sub-folder of ``folder`` named one of ``names``, ignoring case."""
    wanted = [names] if isinstance(names, str) else list(names)
    if not folder.is_dir():
        return None
    children = {child.name.lower(): child for child in folder.iterdir() if child.is_dir()}
    for name in wanted:
        if name.lower() in children:
            return children[name.lower()]
    return None


def find_layout(manual_dir: epath.PathLike, camera: str = "left") -> DisfaLayout:
    """Checks a DISFA manual_dir and lists the subjects with a video and label files.

    Args:
        manual_dir: the folder holding the DISFA download.
        camera: ``"left"`` or ``"right"``.

    Returns:
        The `DisfaLayout`.

    Raises:
        ManualDirError: a folder is missing or no subject has both a video and labels; the
            message lists what was expected and what the manual_dir contains.
    """
    root = epath.Path(manual_dir)
    problems = []
    video_dir, videos = _videos(root, camera)
    left_videos = videos if camera == "left" else _videos(root, "left")[1]
    if not videos:
        prefix = "Left" if camera == "left" else "Right"
        problems.append(
            f"{camera} camera videos: {' or '.join(VIDEO_DIRS[camera])}/{prefix}VideoSNxxx_comp.avi"
        )
    label_dir = _child(root, LABEL_DIR)
    labelled = set()
    if label_dir is not None:
        labelled = {child.name.upper() for child in label_dir.iterdir() if child.is_dir()}
    if not labelled:
        problems.append(f"{LABEL_DIR}/SNxxx/SNxxx_au<k>.txt")
    landmark_dir = _child(root, LANDMARK_DIR)
    if landmark_dir is None:
        problems.append(f"{LANDMARK_DIR}/SNxxx/<any folder>/*_lm.mat")
    subjects = tuple(sorted(set(videos) & labelled))
    if camera == "right" and subjects and not set(subjects) <= set(left_videos):
        problems.append(
            "left camera videos of the same subjects (the landmarks are the left camera's; "
            f"right-camera configs register them to the right camera): missing for "
            f"{sorted(set(subjects) - set(left_videos))}"
        )
    if not problems and not subjects:
        problems.append(
            f"a subject with both a video and labels (videos: {sorted(videos)}, "
            f"labels: {sorted(labelled)})"
        )
    if problems:
        found = [common.describe_dir(root)]
        if video_dir is not None:
            found.append(common.describe_dir(video_dir))
        raise common.ManualDirError(
            f"{root} is not a DISFA manual_dir. Missing:\n  - "
            + "\n  - ".join(problems)
            + "\nFound: "
            + "; ".join(found)
            + f"\nExpected layout:\n{__doc__.split('```')[1].strip()}"
        )
    return DisfaLayout(
        video_dir=video_dir,
        label_dir=label_dir,
        landmark_dir=landmark_dir,
        subjects=subjects,
        videos=videos,
        left_videos=left_videos,
    )


def _videos(root: epath.Path, camera: str) -> tuple[epath.Path | None, dict[str, epath.Path]]:
    video_dir = _child(root, VIDEO_DIRS[camera])
    videos: dict[str, epath.Path] = {}
    if video_dir is not None:
        for path in video_dir.iterdir():
            match = _VIDEO.match(path.name)
            if match and match.group(1).lower() == camera:
                videos[match.group(2).upper()] = path
    return video_dir, videos


def make_task(layout: DisfaLayout, subject: str, crop: common.CropSpec) -> DisfaSubject:
    """Locates the video, label files and landmark folder of one subject."""
    label_folder = _child(layout.label_dir, subject)
    label_files = []
    for path in label_folder.iterdir():
        match = _LABEL.match(path.name)
        if match and match.group(1).upper() == subject:
            label_files.append((int(match.group(2)), str(path)))
    landmark_folder = _child(layout.landmark_dir, subject)
    return DisfaSubject(
        subject=subject,
        video=str(layout.videos[subject]),
        landmark_video=(
            None
            if layout.videos[subject] == layout.left_videos[subject]
            else str(layout.left_videos[subject])
        ),
        label_files=tuple(sorted(label_files)),
        landmark_dir=str(landmark_folder) if landmark_folder else None,
        crop=crop,
    )


def read_labels(
    label_files: tuple[tuple[int, str], ...], result: common.SequenceResult
) -> dict[int, dict[int, int]]:
    """Label files -> {frame: {au: intensity}}; malformed lines are recorded and skipped."""
    frames: dict[int, dict[int, int]] = {}
    for au, path in label_files:
        for number, line in enumerate(epath.Path(path).read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                frame_text, value_text = line.split(",")[:2]
                frame, value = int(float(frame_text)), int(float(value_text))
                if not 0 <= value <= 5:
                    raise ValueError(f"intensity {value}, expected 0-5")
                if frame < 1:
                    raise ValueError(f"frame {frame}, expected >= 1")
            except ValueError as error:
                result.skip("malformed_row", f"{path}:{number} ({error})")
                continue
            frames.setdefault(frame, {})[au] = value
    return frames


def landmark_frame(name: str) -> int | None:
    """Label frame of a landmark file name, in either naming scheme; None if neither."""
    match = _LANDMARK_ZERO_BASED.match(name)
    if match:
        return int(match.group(1)) + 1
    match = _LANDMARK_ONE_BASED.match(name)
    if match:
        return int(match.group(1))
    return None


def index_landmarks(landmark_dir: str | None) -> dict[int, epath.Path]:
    """Label frame -> landmark file, over ``<landmark_dir>/*/*_lm.mat``."""
    if landmark_dir is None:
        return {}
    files = {}
    for path in sorted(epath.Path(landmark_dir).glob("*/*_lm.mat")):
        frame = landmark_frame(path.name)
        if frame is not None:
            files[frame] = path
    return files


def read_landmarks66(path: epath.Path, result: common.SequenceResult) -> np.ndarray | None:
    """One landmark file -> (66, 2) 0-based points; None if unreadable or empty."""
    try:
        with path.open("rb") as stream:
            points = np.asarray(scipy.io.loadmat(stream)["pts"], np.float64)
    except (OSError, KeyError, ValueError, TypeError, NotImplementedError) as error:
        result.skip("corrupt_landmarks", f"{path} ({type(error).__name__}: {error})")
        return None
    if not common.valid_landmarks(points, 66):
        return None
    return (points - 1.0).astype(np.float32)


def _read_frame(capture: cv2.VideoCapture, index: int) -> np.ndarray | None:
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = capture.read()
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if ok else None


def stereo_offset(
    landmark_video: str, video: str, landmarks66: dict[int, np.ndarray]
) -> np.ndarray | None:
    """Where the landmarked (left) camera's face sits in the other camera: median (dx, dy).

    DISFA's landmarks belong to the left camera. For the right camera, the face box of the
    left frame (landmarks' bounding box, enlarged 1.2x) is found in the right frame by
    normalised cross-correlation on up to `STEREO_SAMPLES` frames spread over the video; the
    median shift moves every landmark. The cameras are fixed, so the shift barely changes
    within a video; the landmarks are then approximate (no correction for the different
    viewing angle).

    Returns:
        ``(2,)`` float32 shift, or None when no sample frame could be matched.
    """
    frames = sorted(landmarks66)
    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, STEREO_SAMPLES).astype(int)]
    shifts = []
    with (
        common.local_file(epath.Path(landmark_video)) as left_path,
        common.local_file(epath.Path(video)) as right_path,
    ):
        left, right = cv2.VideoCapture(left_path), cv2.VideoCapture(right_path)
        try:
            for frame in sorted(set(picks)):
                left_gray, right_gray = _read_frame(left, frame - 1), _read_frame(right, frame - 1)
                if left_gray is None or right_gray is None:
                    continue
                points = landmarks66[frame]
                centre = (points.min(axis=0) + points.max(axis=0)) / 2.0
                half = 0.6 * (points.max(axis=0) - points.min(axis=0))
                x0, y0 = np.maximum(np.floor(centre - half), 0).astype(int)
                x1, y1 = np.ceil(centre + half).astype(int)
                template = left_gray[y0:y1, x0:x1]
                if min(template.shape) < 4 or any(
                    t > r for t, r in zip(template.shape, right_gray.shape, strict=True)
                ):
                    continue
                scores = cv2.matchTemplate(right_gray, template, cv2.TM_CCOEFF_NORMED)
                _, _, _, (best_x, best_y) = cv2.minMaxLoc(scores)
                shifts.append((best_x - x0, best_y - y0))
        finally:
            left.release()
            right.release()
    if not shifts:
        return None
    return np.median(np.asarray(shifts, np.float32), axis=0)


def subject_examples(task: DisfaSubject) -> common.SequenceResult:
    """Reads one subject's video: label frame f is video frame f-1; stops at the shorter.

    Pairs configs (``task.crop.pairs``) add video frame f-2 (the frame decoded just before,
    kept rather than decoded again) cut out with label frame f's matrix; label frame 1 has
    none (``has_previous=False``, counted in ``kept_without_previous``).

    Args:
        task: the subject.

    Returns:
        The examples (keys ``<subject>_<frame>``) and what was skipped and why.
    """
    result = common.SequenceResult()
    labels = read_labels(task.label_files, result)
    landmarks66 = {}
    for frame, path in index_landmarks(task.landmark_dir).items():
        points = read_landmarks66(path, result)
        if points is not None:
            landmarks66[frame] = points
    frames = sorted(labels)
    if task.landmark_video is not None and landmarks66:
        offset = stereo_offset(task.landmark_video, task.video, landmarks66)
        if offset is None:
            landmarks66 = {}
        else:
            landmarks66 = {frame: points + offset for frame, points in landmarks66.items()}
    landmarks49 = {frame: convert_landmarks(points, 49) for frame, points in landmarks66.items()}
    fallback = {} if task.crop.aligned else common.nearest_landmarks(frames, landmarks49)
    with common.local_file(epath.Path(task.video)) as video_path:
        capture = cv2.VideoCapture(video_path)
        if not capture.isOpened():
            result.skip("corrupt_image", f"{task.video} (OpenCV cannot open the video)")
            return result
        try:
            # bgr: video frame video_frames - 1; previous_bgr: the one before it.
            video_frames, bgr, previous_bgr = 0, None, None
            for frame in frames:
                while video_frames < frame:
                    ok, decoded = capture.read()
                    if not ok:
                        break
                    previous_bgr, bgr = bgr, decoded
                    video_frames += 1
                if video_frames < frame:
                    result.skip("no_video_frame", f"{task.video}: label frame {frame}")
                    continue
                where = f"{task.video}: label frame {frame} (video frame {frame - 1})"
                if bgr is None or bgr.ndim != 3:
                    result.skip("corrupt_image", where)
                    continue
                image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                previous = None
                if task.crop.pairs and previous_bgr is not None and previous_bgr.ndim == 3:
                    previous = cv2.cvtColor(previous_bgr, cv2.COLOR_BGR2RGB)
                    if previous.shape != image.shape:
                        previous = None
                points66 = landmarks66.get(frame)
                face = common.crop_face(
                    image,
                    landmarks49.get(frame),
                    task.crop,
                    box_landmarks=fallback.get(frame),
                    extra_points={
                        "landmarks66": points66
                        if points66 is not None
                        else np.zeros((66, 2), np.float32)
                    },
                    previous_rgb=previous,
                )
                if face is None:
                    reason = "no_landmarks" if task.crop.aligned else "no_landmarks_in_sequence"
                    result.skip(reason, where)
                    continue
                if points66 is None:
                    result.kept_without_landmarks += 1
                if task.crop.pairs and previous is None:
                    result.kept_without_previous += 1
                intensity = labels[frame]
                occurrence = {
                    au: int(value >= OCCURRENCE_THRESHOLD) for au, value in intensity.items()
                }
                example = {
                    **face,
                    **common.au_vectors(occurrence, intensity, STANDARD_AUS),
                    "subject": task.subject,
                    "sequence": task.subject,
                    "frame": np.int32(frame),
                }
                result.examples.append((f"{task.subject}_{frame:05d}", example))
            total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            last = frames[-1] if frames else 0
            for video_frame in range(last, total):
                result.skip("no_label_line", f"{task.video}: video frame {video_frame}")
        finally:
            capture.release()
    return result
