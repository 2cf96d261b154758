"""SynthAU: procedural faces with real action units, written in the BP4D and DISFA layouts.

- :class:`SynthAU` generates sequences (:class:`SynthSequence`): AU intensities with onset,
  apex and offset, head motion, 49/66-point landmarks and RGB frames, from several views.
- :func:`write_bp4d` and :func:`write_disfa` lay the output out exactly as the real corpora,
  quirks included, with a JSON manifest (:func:`read_manifest`).
- ``tfau synth --layout bp4d|disfa --out DIR --size tiny|small|demo --seed N`` does the same
  from the command line.
"""

from tfau.synth.aus import (
    ALL_AUS,
    AU_NAMES,
    BALANCED_PROFILE,
    BP4D_AUS,
    BP4D_BASE_RATES,
    BP4D_INTENSITY_AUS,
    BP4D_PROFILE,
    DISFA_BASE_RATES,
    DISFA_CODED_AUS,
    DISFA_PROFILE,
    EXCLUSIVE_PAIRS,
    PROFILES,
    AUProfile,
    get_profile,
)
from tfau.synth.face import Identity, Pose, sample_identity
from tfau.synth.generator import (
    DEFAULT_FACE_WIDTH,
    DISFA_VIEWS,
    FERA2017_VIEWS,
    SynthAU,
    SynthSequence,
)
from tfau.synth.matlab import read_bp4d_landmarks, write_bp4d_landmarks, write_disfa_landmarks
from tfau.synth.writers import (
    BP4D_SUBJECTS,
    BP4D_TASKS,
    DISFA_SUBJECTS,
    MANIFEST_NAME,
    PRESETS,
    Preset,
    get_preset,
    read_manifest,
    write_bp4d,
    write_disfa,
    write_layout,
    write_video,
)
