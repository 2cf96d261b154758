"""Time courses of a SynthAU sequence: AU episodes and smooth head motion.

AU activations are a Gaussian copula in time: each AU has a latent signal, white noise
smoothed with a Gaussian kernel (so episodes rise, peak and fall over several frames: onset,
apex, offset), mixed across AUs with :func:`tfau.synth.aus.latent_correlation` (so AU6 comes
with AU12, AU1 with AU2 ...). An AU is present where its latent signal exceeds the quantile
of its base rate, so the expected fraction of frames in which it is present is exactly the
profile's rate; its intensity grows with the excess. Antagonistic pairs
(:data:`tfau.synth.aus.EXCLUSIVE_PAIRS`) never overlap.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from tfau.synth.aus import ALL_AUS, EXCLUSIVE_PAIRS, AUProfile, au_index, latent_correlation

# Intensity gained per standard deviation of latent excess over the occurrence threshold.
_GAIN = 2.2
_CHOLESKY = np.linalg.cholesky(latent_correlation())


def smooth_noise(rng: np.random.Generator, num_frames: int, channels: int, sigma: float):
    """Unit-variance Gaussian-smoothed white noise, shape (num_frames, channels).

    Args:
        rng: random generator.
        num_frames: length.
        channels: number of independent signals.
        sigma: standard deviation of the smoothing kernel, in frames (> 0).

    Returns:
        float64 array whose every entry is standard normal (marginally).
    """
    if sigma <= 0:
        raise ValueError(f"`sigma` must be positive. Received: sigma={sigma}")
    radius = int(np.ceil(3.0 * sigma))
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= np.sqrt(np.sum(kernel**2))
    white = rng.standard_normal((num_frames + 2 * radius, channels))
    out = np.empty((num_frames, channels))
    for c in range(channels):
        out[:, c] = np.convolve(white[:, c], kernel, mode="valid")
    return out


def sample_intensities(rng: np.random.Generator, num_frames: int, profile: AUProfile) -> np.ndarray:
    """Samples continuous AU intensities over time.

    Args:
        rng: random generator.
        num_frames: number of frames.
        profile: base rates, occurrence level and episode time scale.

    Returns:
        (num_frames, 17) float32 intensities in [0, 5], :data:`ALL_AUS` order. The integer
        label of a frame is ``floor(intensity + 0.5)``.

    Example:
        >>> from tfau.synth.aus import BP4D_PROFILE
        >>> x = sample_intensities(np.random.default_rng(0), 50, BP4D_PROFILE)
        >>> x.shape
        (50, 17)
    """
    if num_frames < 1:
        raise ValueError(f"`num_frames` must be at least 1. Received: num_frames={num_frames}")
    latent = smooth_noise(rng, num_frames, len(ALL_AUS), profile.episode_frames) @ _CHOLESKY.T
    threshold = ndtri(1.0 - profile.rates())
    # At the threshold the intensity is the occurrence level minus one half, so that rounding
    # turns exactly the frames above the threshold into "present".
    level = profile.occurrence_intensity - 0.5
    intensity = np.clip(level + _GAIN * (latent - threshold), 0.0, 5.0)
    for a, b in EXCLUSIVE_PAIRS:
        ia, ib = au_index(a), au_index(b)
        both = (intensity[:, ia] > 0) & (intensity[:, ib] > 0)
        weaker_a = both & (intensity[:, ia] < intensity[:, ib])
        weaker_b = both & ~weaker_a
        intensity[weaker_a, ia] = 0.0
        intensity[weaker_b, ib] = 0.0
    return intensity.astype(np.float32)


def integer_intensities(intensities: np.ndarray) -> np.ndarray:
    """Integer intensity labels 0-5 of continuous intensities (round half up)."""
    return np.clip(np.floor(np.asarray(intensities) + 0.5), 0, 5).astype(np.int8)


def sample_head_motion(
    rng: np.random.Generator, num_frames: int, amount: float = 1.0
) -> np.ndarray:
    """Samples a smooth head trajectory around a random resting pose.

    Args:
        rng: random generator.
        num_frames: number of frames.
        amount: multiplies every range (0 gives a still, frontal head).

    Returns:
        (num_frames, 6) float64: yaw, pitch, roll (degrees), relative scale (around 1),
        x and y offsets (fractions of the image size).
    """
    rest = np.array(
        [
            rng.normal(0.0, 6.0),
            rng.normal(0.0, 4.0),
            rng.normal(0.0, 3.0),
            rng.uniform(-0.08, 0.08),
            rng.uniform(-0.04, 0.04),
            rng.uniform(-0.03, 0.03),
        ]
    )
    spread = np.array([4.0, 3.0, 2.5, 0.025, 0.012, 0.01])
    motion = smooth_noise(rng, num_frames, 6, sigma=20.0) * spread
    out = (rest + motion) * amount
    out[:, 3] += 1.0
    return out
