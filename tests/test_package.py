"""The installed package: a quiet import, the version, and the command line entry points."""

import os
import subprocess
import sys
from pathlib import Path

import tfau


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_import_is_quiet():
    result = _run("-c", "import tfau")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""


def test_version_from_python_dash_m():
    result = _run("-m", "tfau", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tfau {tfau.__version__}"


def test_help_lists_every_verb():
    from tfau.cli.main import VERB_MODULES

    result = _run("-m", "tfau", "--help")
    assert result.returncode == 0, result.stderr
    for module in VERB_MODULES:
        assert module.rsplit(".", 1)[1] in result.stdout


def test_unknown_verb_is_an_error():
    result = _run("-m", "tfau", "no-such-verb")
    assert result.returncode == 2
    assert "invalid choice: 'no-such-verb'" in result.stderr


def test_the_wheel_carries_the_experiment_configs(tmp_path):
    # `tfau train --config <experiment>` must work from a plain `pip install`, not only from a
    # source checkout: experiments/configs.py installs as tfau.experiments.configs.
    import zipfile

    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("tfau-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    assert "tfau/experiments/configs.py" in names
    assert "tfau/datasets/bp4d/bp4d_dataset_builder.py" in names
    assert not any("benchmarks" in name for name in names)
    site = str(tmp_path / "site")
    code = (
        "from tfau.cli._configs import resolve_config\n"
        "import tfau\n"
        f"assert tfau.__file__.startswith({site!r}), tfau.__file__\n"
        "print(resolve_config('drml_synthbp4d')[2])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "drml_synthbp4d (DRML on bp4d/aligned112)" in result.stdout


def test_training_and_predict_verbs_run_with_onednn():
    """``tfau train`` / ``cv`` / ``demo`` / ``predict`` turn oneDNN on (where TensorFlow leaves
    it off, e.g. AMD EPYC Zen 3, it trains DRML 2.5x faster); other verbs and user choices are
    left alone."""
    from tfau import _environment

    assert _environment._is_onednn_command(["/venv/bin/tfau", "demo", "--epochs", "2"])
    assert _environment._is_onednn_command(["-m", "cv"])
    assert _environment._is_onednn_command(["/venv/bin/tfau", "predict", "--input", "x.mp4"])
    assert not _environment._is_onednn_command(["/venv/bin/tfau", "export", "--out", "x"])
    assert not _environment._is_onednn_command(["/venv/bin/pytest", "train"])
    assert not _environment._is_onednn_command([])

    script = (
        "import os, sys\n"
        "sys.argv = ['tfau', 'train', '--config', 'x']\n"
        "import tfau\n"
        "from tfau.layers import _patches\n"
        "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), _patches._onednn_enabled())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    for user_choice, expected in ((None, "1 True"), ("0", "0 False")):
        if user_choice is not None:
            env["TF_ENABLE_ONEDNN_OPTS"] = user_choice
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.split() == expected.split()
