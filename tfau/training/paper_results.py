"""The papers' per-AU F1-frame numbers on BP4D and DISFA (3-fold CV), transcribed from their tables.

Every entry names the table it comes from. ``reported_mean`` is the average printed in the
table; ``per_au`` its per-AU row. Three printed averages are not the mean of their own rows
(a paper inconsistency, not a transcription error): DRML's BP4D and DISFA averages (48.3 and
26.7; the rows average 47.69, as PAttNet's Table 1 recomputes, and 26.05) and EAC-Net's BP4D
and DISFA averages (55.9 and 48.5; the rows average 55.58 and 57.41). `PaperResult.mean` is
the mean of the row; `PaperResult.reported_mean` what the paper states.

Example:
    >>> r = paper_result("jaanet", "bp4d")
    >>> r.per_au[1], r.reported_mean
    (47.2, 60.0)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfau.aus import BP4D_AUS, DISFA_AUS


@dataclasses.dataclass(frozen=True)
class PaperResult:
    """One paper's published per-AU F1-frame (percent) on one dataset.

    Args:
        paper: experiment key of the paper (``"drml"``, ``"eacnet"``, ...).
        dataset: ``"bp4d"`` or ``"disfa"``.
        aus: AU numbers, in the table's order.
        f1: F1-frame per AU (percent), same order as ``aus``.
        reported_mean: the average F1 printed in the table.
        source: the table (and paper) the numbers come from.
        note: what else to know (protocol quirks, inconsistencies).
    """

    paper: str
    dataset: str
    aus: tuple[int, ...]
    f1: tuple[float, ...]
    reported_mean: float
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.aus) != len(self.f1):
            raise ValueError(
                f"{self.paper}/{self.dataset}: {len(self.aus)} AUs but {len(self.f1)} F1 values."
            )

    @property
    def per_au(self) -> dict[int, float]:
        """``{au: F1 percent}``."""
        return dict(zip(self.aus, self.f1, strict=True))

    @property
    def mean(self) -> float:
        """Mean of the per-AU F1 row (percent)."""
        return float(np.mean(self.f1))

    @property
    def consistent(self) -> bool:
        """Whether the printed average is the row's mean to the table's rounding (0.05)."""
        return abs(self.mean - self.reported_mean) <= 0.051


_RESULTS = [
    PaperResult(
        "drml",
        "bp4d",
        BP4D_AUS,
        (36.4, 41.8, 43.0, 55.0, 67.0, 66.3, 65.8, 54.1, 33.2, 48.0, 31.7, 30.0),
        48.3,
        "DRML (Zhao et al., CVPR 2016), Table 2, F1-frame, column DRML",
        "The printed Avg. 48.3 is not the row mean (47.69; PAttNet's Table 1 prints 47.69).",
    ),
    PaperResult(
        "drml",
        "disfa",
        DISFA_AUS,
        (17.3, 17.7, 37.4, 29.0, 10.7, 37.7, 38.5, 20.1),
        26.7,
        "DRML (Zhao et al., CVPR 2016), Table 3, F1-frame, column DRML",
        "The printed Avg. 26.7 is not the row mean (26.05).",
    ),
    PaperResult(
        "eacnet",
        "bp4d",
        BP4D_AUS,
        (39.0, 35.2, 48.6, 76.1, 72.9, 81.9, 86.2, 58.8, 37.5, 59.1, 35.9, 35.8),
        55.9,
        "EAC-Net (Li et al., TPAMI 2018), as tabulated in JAA-Net Table 1 and PAttNet Table 1",
        "The printed average 55.9 is not the row mean (55.58; PAttNet prints 55.58).",
    ),
    PaperResult(
        "eacnet",
        "disfa",
        DISFA_AUS,
        (41.5, 26.4, 66.4, 50.7, 80.5, 89.3, 88.9, 15.6),
        48.5,
        "EAC-Net (Li et al., TPAMI 2018), Table VI, column EAC",
        "BP4D-trained features + linear regression on DISFA. The printed Avg 48.5 is not the "
        "row mean (57.41).",
    ),
    PaperResult(
        "jaanet",
        "bp4d",
        BP4D_AUS,
        (47.2, 44.0, 54.9, 77.5, 74.6, 84.0, 86.9, 61.9, 43.6, 60.3, 42.7, 41.9),
        60.0,
        "JAA-Net (Shao et al., ECCV 2018), Table 1, F1-frame, column JAA-Net",
    ),
    PaperResult(
        "jaanet",
        "disfa",
        DISFA_AUS,
        (43.7, 46.2, 56.0, 41.4, 44.7, 69.6, 88.3, 58.4),
        56.0,
        "JAA-Net (Shao et al., ECCV 2018), Table 2, F1-frame, column JAA-Net",
        "Fine-tuned from the BP4D model.",
    ),
    PaperResult(
        "aunets",
        "bp4d",
        BP4D_AUS,
        (53.4, 44.7, 55.8, 79.2, 78.2, 83.1, 88.4, 66.6, 47.5, 62.0, 47.3, 49.7),
        63.0,
        "AUNets (Romero et al., WACV 2018), Table 5, column Ours (RGB+OF horizontal, "
        "median window 7)",
        "Table 4 prints AU7 as 78.1; Table 5 (used here) 78.2.",
    ),
    PaperResult(
        "pattnet",
        "bp4d",
        BP4D_AUS,
        (46.12, 41.43, 57.11, 77.91, 76.15, 83.84, 88.41, 66.47, 51.19, 61.62, 44.11, 57.31),
        62.64,
        "PAttNet (Ertugrul et al., WACV 2019), Table 1, column PAttNet",
    ),
]

PAPER_RESULTS: dict[tuple[str, str], PaperResult] = {(r.paper, r.dataset): r for r in _RESULTS}


def paper_result(paper: str, dataset: str) -> PaperResult:
    """The published result of ``paper`` on ``dataset``.

    Args:
        paper: ``"drml"``, ``"eacnet"``, ``"jaanet"``, ``"aunets"`` or ``"pattnet"``.
        dataset: ``"bp4d"`` or ``"disfa"``.

    Returns:
        The `PaperResult`.

    Raises:
        KeyError: naming the pair and listing the published ones.

    Example:
        >>> paper_result("aunets", "bp4d").reported_mean
        63.0
    """
    try:
        return PAPER_RESULTS[(paper, dataset)]
    except KeyError:
        known = ", ".join(f"{p}/{d}" for p, d in PAPER_RESULTS)
        raise KeyError(f"No published result for {paper}/{dataset}. Published: {known}.") from None
