"""Distributed equivalence and fault tolerance, each in subprocesses with timeouts.

The distributed runs use DRML's ConvNet baseline (``region="none"``) with dropout 0: each
replica draws its own dropout mask and normalises its own half-batch in the region layer's
batch normalisation, so only a network without per-batch randomness or statistics can match
the single-device run exactly.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.training.conftest import write_config

WORKER = os.path.join(os.path.dirname(__file__), "train_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def _env(**extra):
    from tfau.layers import _patches

    # The same kernels as this process: `tfau train` turns oneDNN on where TensorFlow leaves it
    # off, and runs compared with in-process ones must not differ by the kernels' rounding.
    onednn = "1" if _patches._onednn_enabled() else "0"
    env = dict(
        os.environ,
        PYTHONPATH=ROOT,
        TF_CPP_MIN_LOG_LEVEL="2",
        CUDA_VISIBLE_DEVICES="",
        TF_ENABLE_ONEDNN_OPTS=onednn,
    )
    env.update(extra)
    return env


def _weights(path, run=0):
    data = np.load(path)
    keys = sorted((k for k in data if k.startswith(f"w{run}_")), key=lambda k: int(k[3:]))
    return [data[k] for k in keys]


def _assert_same(left, right, rtol=1e-5, atol=1e-6):
    assert len(left) == len(right) and left
    for a, b in zip(left, right, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _deterministic(config):
    kwargs = {**config.model_kwargs, "dropout": 0.0, "region": "none"}
    return config.replace(model_kwargs=kwargs, epochs=1)


def test_mirrored_two_cpus_equals_one_device(tiny_config, synth_data_dir, tmp_path):
    config = write_config(_deterministic(tiny_config), tmp_path / "config.json")
    out = tmp_path / "weights.npz"
    runs = f"{tmp_path / 'one'},{tmp_path / 'two'}"
    result = subprocess.run(
        [
            sys.executable,
            WORKER,
            config,
            synth_data_dir,
            str(out),
            runs,
            "--strategies",
            "default,mirrored",
            "--logical_cpus",
            "2",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas mirrored 2" in result.stdout
    one, two = _weights(out, 0), _weights(out, 1)
    _assert_same(one, two)
    # Training moved the weights: the equality is not between two untouched models.
    initial = tmp_path / "one" / "metrics.jsonl"
    assert len(initial.read_text().splitlines()) == 1


def test_multi_worker_two_processes_equal_single_worker(tiny_config, synth_data_dir, tmp_path):
    from tfau.training import Trainer

    config = _deterministic(tiny_config)
    config_path = write_config(config, tmp_path / "config.json")
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        out = tmp_path / f"worker{index}.npz"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    WORKER,
                    config_path,
                    synth_data_dir,
                    str(out),
                    str(tmp_path / "mw"),
                    "--strategies",
                    "multi_worker",
                ],
                env=_env(TF_CONFIG=tf_config),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=300))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (stdout, stderr) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, stderr[-3000:]
        assert "replicas multi_worker 2" in stdout
    # Only the chief shows the progress (stdout is a pipe: a line at the end of the epoch).
    (chief, _), (other, other_errors) = outputs
    assert re.search(r"^epoch 1/1: 3/3 steps \[.*img/s, loss=", chief, re.MULTILINE), chief
    assert other.splitlines() == ["replicas multi_worker 2"]
    assert "epoch 1/1" not in other_errors
    worker0, worker1 = _weights(tmp_path / "worker0.npz"), _weights(tmp_path / "worker1.npz")
    _assert_same(worker0, worker1, rtol=0, atol=0)
    single = Trainer(
        config.replace(strategy="default"), data_dir=synth_data_dir, run_dir=str(tmp_path / "one")
    )
    single.train()
    _assert_same(worker0, single.model.get_weights())
    # Only the chief keeps checkpoints.
    assert os.listdir(tmp_path / "mw") and not [
        d for d in os.listdir(tmp_path / "mw") if d.startswith("tmp_worker")
    ]


def test_resume_after_sigkill_matches_uninterrupted_run(tiny_config, synth_data_dir, tmp_path):
    config = tiny_config.replace(epochs=3, checkpoint_every=1)
    config_path = write_config(config, tmp_path / "config.json")
    run_dir = tmp_path / "killed"
    command = [sys.executable, "-m", "tfau", "train", "--config", config_path]
    command += ["--run_dir", str(run_dir), "--data_dir", synth_data_dir]
    proc = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    index = run_dir / "checkpoints" / "checkpoint"
    deadline = time.time() + 240
    try:
        while not index.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-3000:]
    killed_at = int(index.read_text().split('"')[1].rsplit("-", 1)[1])
    assert 1 <= killed_at < 9
    resumed = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"(step {killed_at})" in resumed.stdout

    from tfau.training import Trainer

    reference = Trainer(config, data_dir=synth_data_dir, run_dir=str(tmp_path / "reference"))
    reference.train()
    again = Trainer(config, data_dir=synth_data_dir, run_dir=str(run_dir))
    assert again.restore() == 9
    _assert_same(again.model.get_weights(), reference.model.get_weights(), rtol=1e-6, atol=1e-7)
    epochs = [json.loads(line)["epoch"] for line in open(run_dir / "metrics.jsonl")]
    assert epochs == [0, 1, 2]
    losses = [json.loads(line)["loss"] for line in open(run_dir / "metrics.jsonl")]
    reference_losses = [r["loss"] for r in reference.history()]
    if killed_at >= 3:  # the first epoch ran uninterrupted in both runs
        assert losses[0] == pytest.approx(reference_losses[0], rel=1e-6)
    assert losses[-1] == pytest.approx(reference_losses[-1], rel=1e-6)
