"""SynthAU time courses: base rates, co-occurrence, exclusivity, onset-apex-offset, motion."""

import numpy as np
import pytest

from tfau.synth.aus import (
    ALL_AUS,
    BP4D_BASE_RATES,
    BP4D_PROFILE,
    DISFA_BASE_RATES,
    DISFA_PROFILE,
    EXCLUSIVE_PAIRS,
    AUProfile,
    latent_correlation,
)
from tfau.synth.sequence import (
    integer_intensities,
    sample_head_motion,
    sample_intensities,
    smooth_noise,
)


def _occurrence(profile, num_sequences=40, length=400, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([sample_intensities(rng, length, profile) for _ in range(num_sequences)])
    return x, integer_intensities(x) >= profile.occurrence_intensity


def _col(au):
    return ALL_AUS.index(au)


def test_eac_net_table_ii_rates():
    # EAC-Net Table II, "Original" row.
    assert BP4D_BASE_RATES == {
        1: 0.24, 2: 0.18, 4: 0.23, 6: 0.44, 7: 0.52, 10: 0.58,
        12: 0.57, 14: 0.43, 15: 0.15, 17: 0.36, 23: 0.19, 24: 0.16,
    }  # fmt: skip
    # EAC-Net Table VIII for the eight DISFA AUs it lists.
    for au, rate in {1: 0.049, 2: 0.043, 4: 0.152, 6: 0.078, 9: 0.041, 12: 0.1288, 25: 0.277,
                     26: 0.088}.items():  # fmt: skip
        assert DISFA_BASE_RATES[au] == rate


@pytest.mark.parametrize("profile", [BP4D_PROFILE, DISFA_PROFILE], ids=lambda p: p.name)
def test_base_rates_close_to_the_real_datasets(profile):
    _, occ = _occurrence(profile)
    for au in profile.coded_aus:
        rate = occ[:, _col(au)].mean()
        target = profile.rate(au)
        assert abs(rate - target) < 0.05 + 0.25 * target, f"AU{au}: {rate:.3f} vs {target}"


def test_co_occurrence_and_exclusivity():
    _, occ = _occurrence(BP4D_PROFILE)

    def given(a, b):
        return occ[occ[:, _col(b)], _col(a)].mean()

    # AU6 mostly comes with AU12 and AU1 with AU2, far above their base rates.
    assert given(12, 6) > 0.75 > BP4D_BASE_RATES[12]
    assert given(2, 1) > 0.45 > 2 * BP4D_BASE_RATES[2]
    assert given(1, 2) > 0.6
    for a, b in EXCLUSIVE_PAIRS:
        assert not (occ[:, _col(a)] & occ[:, _col(b)]).any(), f"AU{a} and AU{b} co-occur"


def test_episodes_have_onset_apex_offset():
    x, _ = _occurrence(BP4D_PROFILE, num_sequences=4, length=600)
    au12 = x[:600, _col(12)]
    # Smooth: intensity changes little from frame to frame, while spanning the whole range.
    assert np.abs(np.diff(au12)).max() < 0.8
    assert au12.max() > 3.0 and au12.min() == 0.0
    # Episodes last several frames (BP4D codes at 25 fps: about a second or more).
    present = (integer_intensities(x[:, _col(12)]) >= 1).astype(int)
    starts = np.sum(np.diff(present) == 1)
    assert present.sum() / max(starts, 1) > 10


def test_latent_correlation_is_a_correlation_matrix():
    corr = latent_correlation()
    np.testing.assert_allclose(corr, corr.T)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    assert np.linalg.eigvalsh(corr).min() > 0
    assert corr[_col(6), _col(12)] > 0.6 and corr[_col(12), _col(15)] < 0


def test_smooth_noise_is_unit_variance():
    z = smooth_noise(np.random.default_rng(0), 20000, 3, sigma=5.0)
    np.testing.assert_allclose(z.std(0), 1.0, atol=0.08)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.08)
    with pytest.raises(ValueError, match=r"`sigma` must be positive\. Received: sigma=0"):
        smooth_noise(np.random.default_rng(0), 10, 1, 0.0)


def test_integer_intensities_round_half_up_and_clip():
    x = np.array([0.0, 0.49, 0.5, 1.49, 1.5, 4.6, 5.0])
    np.testing.assert_array_equal(integer_intensities(x), [0, 0, 1, 1, 2, 5, 5])


def test_head_motion_is_smooth_and_scales():
    rng = np.random.default_rng(0)
    head = sample_head_motion(rng, 300)
    assert head.shape == (300, 6)
    assert np.abs(np.diff(head[:, 0])).max() < 1.0  # degrees per frame
    still = sample_head_motion(np.random.default_rng(0), 50, amount=0.0)
    np.testing.assert_array_equal(still[:, :3], 0.0)
    np.testing.assert_array_equal(still[:, 3], 1.0)


def test_profile_validation():
    with pytest.raises(ValueError, match=r"`coded_aus` must be among the SynthAU AUs"):
        AUProfile("x", (3,), {}, {}, 1)
    with pytest.raises(ValueError, match=r"Profile 'x' gives no rate for AUs"):
        AUProfile("x", (1,), {1: 0.2}, {}, 1)
    with pytest.raises(ValueError, match=r"strictly between 0 and 1. Received: AU1=1.5"):
        AUProfile("x", (1,), {1: 1.5}, dict.fromkeys(ALL_AUS[1:], 0.1), 1)
