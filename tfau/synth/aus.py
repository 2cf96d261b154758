"""Action units of SynthAU: which AUs exist, how often they occur and which go together.

SynthAU animates the union of the AUs coded in BP4D and DISFA (17 AUs). A profile
(:class:`AUProfile`) says which of them a corpus codes, how often each occurs, and at which
integer intensity an AU counts as present (1 for BP4D's occurrence codes, 2 for DISFA).

Base rates: BP4D from EAC-Net Table II ("Original" row); DISFA from EAC-Net Table VIII for the
eight AUs it lists. DISFA's AUs 5, 15, 17 and 20 are not in any of the team's papers: their rates
here are small estimates (rare AUs), stated as such. AUs a corpus does not code still occur
(faces talk and blink whatever is being coded), at the rates in ``uncoded_rates``.

Reference:
    - Li et al., "EAC-Net: Deep Nets with Enhancing and Cropping for Facial Action Unit
      Detection", IEEE TPAMI 2018 (Tables II and VIII).
    - Ekman, Friesen and Hager, "Facial Action Coding System", 2002.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from tfau.aus import BP4D_AUS, DISFA_CODED_AUS
from tfau.aus import BP4D_INTENSITY_AUS as BP4D_INTENSITY_AUS  # for tfau.synth.writers

#: Every AU SynthAU animates, in this order everywhere (intensity arrays are (..., 17)).
ALL_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26)

#: What each AU does, as FACS describes it and as SynthAU renders it.
AU_NAMES: dict[int, str] = {
    1: "inner brow raiser",
    2: "outer brow raiser",
    4: "brow lowerer",
    5: "upper lid raiser",
    6: "cheek raiser",
    7: "lid tightener",
    9: "nose wrinkler",
    10: "upper lip raiser",
    12: "lip corner puller",
    14: "dimpler",
    15: "lip corner depressor",
    17: "chin raiser",
    20: "lip stretcher",
    23: "lip tightener",
    24: "lip pressor",
    25: "lips part",
    26: "jaw drop",
}

#: BP4D occurrence rates, EAC-Net Table II, first row.
BP4D_BASE_RATES: dict[int, float] = {
    1: 0.24,
    2: 0.18,
    4: 0.23,
    6: 0.44,
    7: 0.52,
    10: 0.58,
    12: 0.57,
    14: 0.43,
    15: 0.15,
    17: 0.36,
    23: 0.19,
    24: 0.16,
}

#: DISFA occurrence rates (intensity >= 2): EAC-Net Table VIII for AUs 1, 2, 4, 6, 9, 12, 25,
#: 26; estimates for 5, 15, 17 and 20 (not reported in the papers).
DISFA_BASE_RATES: dict[int, float] = {
    1: 0.049,
    2: 0.043,
    4: 0.152,
    5: 0.02,
    6: 0.078,
    9: 0.041,
    12: 0.1288,
    15: 0.03,
    17: 0.06,
    20: 0.025,
    25: 0.277,
    26: 0.088,
}

# Correlations of the latent AU activations. Positive: AUs of one expression (smile 6+12
# (+7, 10, 25), surprise 1+2+5+26, frown 4+7, sadness 1+4+15+17, disgust 9+10, lip press
# 17+23+24); negative: antagonists (12 vs 15, 24 vs 25, 5 vs 7).
_LATENT_CORRELATIONS: dict[tuple[int, int], float] = {
    (1, 2): 0.8,
    (1, 4): 0.2,
    (1, 5): 0.35,
    (2, 5): 0.4,
    (1, 15): 0.2,
    (4, 7): 0.45,
    (4, 9): 0.3,
    (4, 15): 0.2,
    (5, 26): 0.3,
    (5, 7): -0.3,
    (6, 12): 0.85,
    (6, 7): 0.5,
    (6, 10): 0.55,
    (7, 10): 0.4,
    (7, 12): 0.45,
    (9, 10): 0.5,
    (10, 12): 0.6,
    (10, 25): 0.3,
    (12, 14): 0.3,
    (12, 25): 0.3,
    (12, 15): -0.4,
    (14, 17): 0.2,
    (15, 17): 0.5,
    (17, 23): 0.4,
    (17, 24): 0.5,
    (23, 24): 0.5,
    (20, 25): 0.2,
    (24, 25): -0.5,
    (24, 26): -0.3,
    (25, 26): 0.7,
}

#: Pairs that never co-occur in SynthAU (antagonistic muscles): where both are active in a
#: frame, the weaker one is switched off.
EXCLUSIVE_PAIRS: tuple[tuple[int, int], ...] = ((12, 15), (24, 25), (5, 7))


def latent_correlation() -> np.ndarray:
    """Returns the (17, 17) positive-definite correlation matrix of the latent AU activations.

    Returns:
        float64 array in :data:`ALL_AUS` order, symmetric, unit diagonal.

    Example:
        >>> latent_correlation().shape
        (17, 17)
    """
    n = len(ALL_AUS)
    corr = np.eye(n)
    position = {au: i for i, au in enumerate(ALL_AUS)}
    for (a, b), value in _LATENT_CORRELATIONS.items():
        corr[position[a], position[b]] = corr[position[b], position[a]] = value
    # The hand-written pairs need not form a valid correlation matrix: clip the spectrum.
    values, vectors = np.linalg.eigh(corr)
    corr = (vectors * np.maximum(values, 0.05)) @ vectors.T
    scale = np.sqrt(np.diag(corr))
    return corr / np.outer(scale, scale)


@dataclasses.dataclass(frozen=True)
class AUProfile:
    """How often AUs occur in a corpus, and which of them it codes.

    Args:
        name: profile name (``"bp4d"``, ``"disfa"``, ``"balanced"``).
        coded_aus: AUs whose labels the corpus provides.
        base_rates: occurrence rate of each coded AU (fraction of frames).
        uncoded_rates: rate of the AUs that occur but are not coded.
        occurrence_intensity: integer intensity from which an AU counts as present.
        episode_frames: typical time scale of an AU episode, in frames (temporal smoothing
            of the latent activations).

    Example:
        >>> BP4D_PROFILE.rate(12)
        0.57
    """

    name: str
    coded_aus: tuple[int, ...]
    base_rates: Mapping[int, float]
    uncoded_rates: Mapping[int, float]
    occurrence_intensity: int
    episode_frames: float = 10.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.coded_aus) - set(ALL_AUS))
        if unknown:
            raise ValueError(
                f"`coded_aus` must be among the SynthAU AUs {ALL_AUS}. Received: {unknown}"
            )
        missing = [
            au for au in ALL_AUS if au not in self.base_rates and au not in self.uncoded_rates
        ]
        if missing:
            raise ValueError(f"Profile {self.name!r} gives no rate for AUs {missing}.")
        for au, rate in {**self.base_rates, **self.uncoded_rates}.items():
            if not 0.0 < rate < 1.0:
                raise ValueError(
                    f"AU rates must lie strictly between 0 and 1. Received: AU{au}={rate}"
                )
        if self.occurrence_intensity not in (1, 2, 3):
            raise ValueError(
                "`occurrence_intensity` must be 1, 2 or 3. "
                f"Received: occurrence_intensity={self.occurrence_intensity}"
            )

    def rate(self, au: int) -> float:
        """Occurrence rate of ``au`` (coded or not)."""
        if au in self.base_rates:
            return float(self.base_rates[au])
        return float(self.uncoded_rates[au])

    def rates(self) -> np.ndarray:
        """Occurrence rates of :data:`ALL_AUS`, shape (17,)."""
        return np.array([self.rate(au) for au in ALL_AUS])


BP4D_PROFILE = AUProfile(
    name="bp4d",
    coded_aus=BP4D_AUS,
    base_rates=BP4D_BASE_RATES,
    uncoded_rates={5: 0.04, 9: 0.05, 20: 0.05, 25: 0.35, 26: 0.12},
    occurrence_intensity=1,
)

DISFA_PROFILE = AUProfile(
    name="disfa",
    coded_aus=DISFA_CODED_AUS,
    base_rates=DISFA_BASE_RATES,
    uncoded_rates={7: 0.15, 10: 0.1, 14: 0.1, 23: 0.04, 24: 0.04},
    occurrence_intensity=2,
)

#: Every AU coded, each present in about a third of the frames: for learnability checks.
BALANCED_PROFILE = AUProfile(
    name="balanced",
    coded_aus=ALL_AUS,
    base_rates=dict.fromkeys(ALL_AUS, 0.3),
    uncoded_rates={},
    occurrence_intensity=1,
)

PROFILES: dict[str, AUProfile] = {
    p.name: p for p in (BP4D_PROFILE, DISFA_PROFILE, BALANCED_PROFILE)
}


def get_profile(profile: AUProfile | str) -> AUProfile:
    """Returns a profile by name (``"bp4d"``, ``"disfa"``, ``"balanced"``) or as given."""
    if isinstance(profile, AUProfile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"Unknown AU profile {profile!r}. Expected one of: {', '.join(PROFILES)}.")
    return PROFILES[profile]


def au_index(au: int) -> int:
    """Position of ``au`` in :data:`ALL_AUS` (and in every intensity array)."""
    if au not in ALL_AUS:
        raise ValueError(f"SynthAU has no AU{au}. Expected one of: {ALL_AUS}.")
    return ALL_AUS.index(au)
