"""``tfau build``: TFDS's build machinery from the command line, no apache_beam."""

from __future__ import annotations

import sys

import dataset_test_utils as utils
import tensorflow_datasets as tfds

from tfau.cli.main import main


def test_build_prints_splits_and_summary(tmp_path, capsys):
    beam_was_imported = "apache_beam" in sys.modules  # e.g. by the Beam test
    code = main(
        [
            "build",
            "bp4d",
            "--config",
            "unaligned224",
            "--manual_dir",
            str(utils.BP4D_DUMMY),
            "--data_dir",
            str(tmp_path),
            "--num_workers",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "bp4d/unaligned224/1.0.0" in out
    assert "part1: 5 examples" in out and "part3: 7 examples" in out
    assert "skipped: {'missing_image': 5}" in out
    builder = tfds.builder("bp4d/unaligned224", data_dir=str(tmp_path))
    assert builder.is_prepared()
    assert ("apache_beam" in sys.modules) == beam_was_imported


def test_bad_manual_dir_exits_2_with_the_listing(tmp_path, capsys):
    manual_dir = tmp_path / "manual"
    manual_dir.mkdir()
    (manual_dir / "readme.txt").write_text("wrong folder")
    code = main(["build", "disfa", "--manual_dir", str(manual_dir), "--data_dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 2
    assert "is not a DISFA manual_dir" in out and "Videos_LeftCamera" in out
    assert "contains: readme.txt" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["build", "bp4d", "--manual_dir", str(empty)]) == 2
    assert "does not exist or is empty" in capsys.readouterr().out


def test_manual_dir_is_required(capsys):
    assert main(["build", "bp4d"]) == 2
    assert "pass --manual_dir" in capsys.readouterr().out


def test_list_configs(capsys):
    assert main(["build", "disfa", "--list_configs"]) == 0
    out = capsys.readouterr().out
    assert "aligned200_right:" in out and "Video_RightCamera/RightVideoSNxxx_Comp.avi" in out
