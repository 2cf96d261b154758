"""Regenerates the builders' ``dummy_data/`` folders with the SynthAU layout writers.

The dummy data is a tiny BP4D and a tiny DISFA written by ``tfau.synth.write_bp4d`` /
``write_disfa`` exactly in the real layouts, quirks included (mixed zero padding, 9s, empty
landmark entries, coded frames without image; both DISFA landmark naming schemes and
sub-folder names, missing landmark files, SN010 one label line short), with the writers'
manifest (``synthau_manifest.json``) beside it. One subject per standard part keeps every
split non-empty; frames are small so the committed files stay a few hundred kB.

Usage:
    python -m tfau.datasets.make_dummy_data          # rewrites both folders
    python -m tfau.datasets.make_dummy_data --check  # regenerates into a temp dir and
                                                     # fails if the counts differ
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from tfau.synth import Preset, write_bp4d, write_disfa

DATASETS_DIR = Path(__file__).resolve().parent
SEED = 0
#: Frame size as a fraction of the real corpora's (BP4D 104 x 140, DISFA 102 x 76).
SCALE = 0.1

#: One subject per part for BP4D (F001 part1, F003 part2, F004 part3), two tasks each;
#: DISFA SN001 and SN010 (part1), SN006 (part2), SN003 (part3): four subjects give both
#: landmark naming schemes and both sub-folder names.
DUMMY_PRESET = Preset(
    name="dummy",
    bp4d_subjects=("F001", "F003", "F004"),
    bp4d_tasks=("T1", "T2"),
    bp4d_frames=4,
    disfa_subjects=("SN003", "SN006", "SN010", "SN001"),
    disfa_frames=5,
)


def write_dummy_data(bp4d_dir: Path, disfa_dir: Path) -> dict[str, Any]:
    """Writes the BP4D and DISFA dummy data; returns both manifests.

    Args:
        bp4d_dir: output folder of the BP4D layout (replaced).
        disfa_dir: output folder of the DISFA layout (replaced).

    Returns:
        ``{"bp4d": manifest, "disfa": manifest}``.
    """
    for folder in (bp4d_dir, disfa_dir):
        if folder.exists():
            shutil.rmtree(folder)
    return {
        "bp4d": write_bp4d(bp4d_dir, size=DUMMY_PRESET, seed=SEED, scale=SCALE, progress=False),
        "disfa": write_disfa(disfa_dir, size=DUMMY_PRESET, seed=SEED, scale=SCALE, progress=False),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir only")
    args = parser.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = write_dummy_data(Path(tmp) / "bp4d", Path(tmp) / "disfa")
        for name, manifest in fresh.items():
            print(name, manifest["totals"])
        return 0
    manifests = write_dummy_data(
        DATASETS_DIR / "bp4d" / "dummy_data", DATASETS_DIR / "disfa" / "dummy_data"
    )
    for name, manifest in manifests.items():
        print(name, manifest["totals"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
