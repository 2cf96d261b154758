"""The installed package: a quiet import, the version, and the command line entry points."""

import os
import subprocess
import sys

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
