"""The AU sets of BP4D and DISFA, named once for the whole package.

Two kinds of set, kept apart by name:

- what the papers evaluate (DRML, EAC-Net, AUNets, JAA-Net, PAttNet): BP4D's 12 occurrence
  AUs (`BP4D_AUS`) and DISFA's 8 (`DISFA_AUS`); a model's ``"au"`` columns, the F1 tables
  and the datasets' ``au`` feature use these;
- what a corpus codes: DISFA's files code 12 AUs (`DISFA_CODED_AUS`, intensity 0-5; an AU
  occurs from intensity 2), of which the papers keep 8; BP4D codes intensity for 5
  (`BP4D_INTENSITY_AUS`). SynthAU (`tfau.synth`) writes every coded AU, as the corpora do.

Plain tuples, importing nothing: every part of tfau (faces to cli) may use them.
"""

from __future__ import annotations

from collections.abc import Sequence

#: BP4D's 12 occurrence AUs, the set every paper evaluates (FERA 2015's), in this order.
BP4D_AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
#: The 5 AUs BP4D codes for intensity (``AUCoding/AU_INT``).
BP4D_INTENSITY_AUS: tuple[int, ...] = (6, 10, 12, 14, 17)
#: DISFA's 8 AUs the papers evaluate (DRML, EAC-Net, JAA-Net Table 2), in this order.
DISFA_AUS: tuple[int, ...] = (1, 2, 4, 6, 9, 12, 25, 26)
#: Every AU DISFA's files code (intensity 0-5), a superset of `DISFA_AUS`.
DISFA_CODED_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
#: The evaluated AUs by dataset name.
DATASET_AUS: dict[str, tuple[int, ...]] = {"bp4d": BP4D_AUS, "disfa": DISFA_AUS}


def au_names(aus: Sequence[int]) -> list[str]:
    """``[1, 12] -> ["AU01", "AU12"]``, the column names of tfau's CSVs and exports."""
    return [f"AU{int(au):02d}" for au in aus]


__all__ = [
    "BP4D_AUS",
    "BP4D_INTENSITY_AUS",
    "DATASET_AUS",
    "DISFA_AUS",
    "DISFA_CODED_AUS",
    "au_names",
]
