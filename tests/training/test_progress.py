"""What training prints: a bar in a terminal, plain lines elsewhere, nothing when quiet.

The terminal and pipe runs are ``tfau train`` subprocesses (3 steps an epoch of the tiny DRML
config); the bar's run reads its output through a pseudo-terminal.
"""

import json
import os
import re
import select
import struct
import subprocess
import sys
import time

import pytest

from tests.training.conftest import write_config
from tfau.cli.main import build_parser
from tfau.cli.train import verbosity
from tfau.training.progress import TrainingProgress, resolve_verbose

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
# TQDM_MININTERVAL=0: tqdm redraws after every step, however fast (by default at most every
# 0.1 s, which skips the mid-epoch states of a tiny model's 3-step epochs on a fast CPU).
ENV = dict(
    os.environ,
    PYTHONPATH=ROOT,
    TF_CPP_MIN_LOG_LEVEL="2",
    CUDA_VISIBLE_DEVICES="",
    TQDM_MININTERVAL="0",
)
# `tfau train` with progress lines after every step instead of every 30 seconds.
TRAIN_WITH_LINES_EVERY_STEP = (
    "import sys; import tfau.training.progress as progress; progress.LINE_INTERVAL = 0; "
    "from tfau.cli.main import main; sys.exit(main(sys.argv[1:]))"
)
# An epoch's line: description, steps, elapsed<ETA, images per second, running loss.
LINE = re.compile(
    r"^epoch (\d)/2: (\d)/3 steps \[\d\d:\d\d<\d\d:\d\d, \d+\.\d img/s, loss=\d+\.\d{4}\]$"
)


def _train_command(config, synth_data_dir, run_dir, *options):
    command = ["train", "--config", config, "--run_dir", str(run_dir)]
    return [*command, "--data_dir", synth_data_dir, *options]


def _read_terminal(command, columns=150, timeout=300):
    """Runs ``command`` with stdout on a pseudo-terminal ``columns`` wide; returns its text."""
    import fcntl
    import termios

    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    with open(os.devnull, "w") as devnull:
        proc = subprocess.Popen(
            command, stdin=secondary, stdout=secondary, stderr=devnull, env=ENV, close_fds=True
        )
    os.close(secondary)
    output, deadline = b"", time.time() + timeout
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([primary], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            output += chunk
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(primary)
    assert proc.returncode == 0, output.decode(errors="replace")[-3000:]
    return output.decode()


def test_a_terminal_shows_a_bar_per_epoch(tiny_config, synth_data_dir, tmp_path):
    config = write_config(tiny_config.replace(epochs=2, val_split="part3"), tmp_path / "c.json")
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "tfau", *_train_command(config, synth_data_dir, run_dir)]
    output = _read_terminal(command)
    # Redrawn in place: carriage returns between the states of each epoch's bar.
    states = [s.strip() for s in re.split(r"[\r\n]+", output) if s.strip()]
    for epoch in (1, 2):
        bars = [s for s in states if s.startswith(f"epoch {epoch}/2: ")]
        assert len(bars) >= 3, output
        running = [s for s in bars if re.search(r" 33%\|.+\| 1/3 \[\d\d:\d\d<\d\d:\d\d, ", s)]
        assert running and re.search(r"\d+\.\d img/s, loss=\d+\.\d{4}\]$", running[0]), bars
        assert any(s.endswith(", validating]") for s in bars), bars
        final = re.compile(
            r"100%\|█{10}\| 3/3 \[\d\d:\d\d<00:00, \d+\.\d img/s, loss=\d+\.\d{4}, "
            r"val_mean_f1=\d\.\d{4}, val_mean_accuracy=\d\.\d{4}, val_mean_auc=(nan|\d\.\d{4})\]$"
        )
        assert final.search(bars[-1]), bars[-1]
    assert "\r" in output and "\n" in output
    # metrics.jsonl keeps its records, whatever is printed.
    records = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    assert [r["epoch"] for r in records] == [0, 1]
    assert set(records[0]) == {
        "epoch",
        "step",
        "loss",
        "seconds",
        "learning_rate",
        "val_mean_f1",
        "val_mean_accuracy",
        "val_mean_auc",
    }


def test_a_pipe_gets_plain_lines(tiny_config, synth_data_dir, tmp_path):
    config = write_config(tiny_config.replace(epochs=2), tmp_path / "c.json")
    command = [sys.executable, "-c", TRAIN_WITH_LINES_EVERY_STEP]
    command += _train_command(config, synth_data_dir, tmp_path / "run")
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "\r" not in result.stdout and "%|" not in result.stdout
    lines = result.stdout.splitlines()
    progress = [LINE.match(line) for line in lines]
    assert all(progress), lines
    # A line after the first and second steps, the epoch's line after the third.
    assert [(int(m[1]), int(m[2])) for m in progress] == [(e, s) for e in (1, 2) for s in (1, 2, 3)]


def test_verbose_2_prints_one_line_per_epoch(tiny_config, synth_data_dir, tmp_path, capsys):
    from tfau.training import Trainer

    trainer = Trainer(
        tiny_config.replace(epochs=2), data_dir=synth_data_dir, run_dir=str(tmp_path), verbose=2
    )
    trainer.train()
    lines = capsys.readouterr().out.splitlines()
    assert [LINE.match(line).groups() for line in lines] == [("1", "3"), ("2", "3")], lines


def test_quiet_cv_prints_only_its_results(tiny_config, synth_data_dir, tmp_path, capsys):
    from tfau.cli.main import main

    config = write_config(tiny_config.replace(epochs=1), tmp_path / "c.json")
    run_dir = tmp_path / "cv"
    argv = ["cv", "--config", config, "--run_dir", str(run_dir), "--data_dir", synth_data_dir]
    assert main([*argv, "--folds", "part3", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.strip() == (run_dir / "results" / "results.md").read_text().strip()
    assert (run_dir / "seed0" / "part3" / "metrics.jsonl").is_file()


@pytest.mark.parametrize("verb", ["train", "cv", "demo"])
def test_quiet_and_verbose_flags(verb):
    parser = build_parser()
    required = {"train": ["--config", "c"], "cv": ["--config", "c", "--run_dir", "r"]}
    base = [verb, *required.get(verb, [])]
    assert verbosity(parser.parse_args(base)) == "auto"
    assert verbosity(parser.parse_args([*base, "--quiet"])) == 0
    assert verbosity(parser.parse_args([*base, "--verbose", "2"])) == 2
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--quiet", "--verbose", "1"])


def test_verbose_values_follow_keras():
    assert [resolve_verbose(v) for v in ("auto", 0, 1, 2)] == [1, 0, 1, 2]
    with pytest.raises(ValueError, match=r"`verbose` must be 0 .* Received: verbose=3"):
        TrainingProgress(verbose=3)
    # Other workers than the chief print nothing.
    assert TrainingProgress(verbose=1, chief=False).verbose == 0
