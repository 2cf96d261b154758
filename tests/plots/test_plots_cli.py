"""``tfau plot <kind>``: every kind from files on disk, in process."""

import cv2
import numpy as np
import pytest
from test_plots_attention import face_landmarks
from test_plots_timeline import write_csv

import tfau.models
from tfau.cli.main import main
from tfau.model_files import save_trained_model
from tfau.plots import read_f1_summary
from tfau.training.results import evaluate_predictions, write_results


def write_face(path, size):
    yy, xx = np.mgrid[:size, :size] / size
    face = np.stack([np.sin(6 * xx), np.cos(5 * yy), xx * yy], axis=-1)
    cv2.imwrite(str(path), (127.5 + 120 * face).astype(np.uint8))
    return str(path)


def test_timeline_f1_cooccurrence_relations(tmp_path, check_png, capsys):
    csv_path = tmp_path / "video.csv"
    write_csv(csv_path)
    assert (
        main(["plot", "timeline", str(csv_path), "--out", str(tmp_path / "tl"), "--smooth", "3"])
        == 0
    )
    printed = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[1] for p in printed] == [
        "au_timeline_face0.png",
        "au_timeline_face1.png",
    ]
    for path in printed:
        check_png(path)

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (60, 3))
    probabilities = np.clip(0.7 * labels + rng.uniform(0, 0.4, labels.shape), 0, 1)
    folds = [evaluate_predictions(labels, probabilities, (1, 2, 4), fold="part1")]
    write_results(tmp_path / "results", folds)  # no paper: the CLI adds DRML's numbers
    summary = str(tmp_path / "results" / "summary.csv")
    assert np.isnan(read_f1_summary(summary)[2]).all()
    args = ["plot", "f1", summary, "--out", str(tmp_path / "f1.png"), "--paper", "drml"]
    with pytest.raises(SystemExit, match="--paper needs --dataset"):
        main(args)
    assert main([*args, "--dataset", "bp4d", "--title", "DRML"]) == 0
    check_png(tmp_path / "f1.png")

    labels[rng.uniform(size=labels.shape) < 0.1] = -1
    np.save(tmp_path / "labels.npy", labels)
    np.save(tmp_path / "probabilities.npy", probabilities)
    with pytest.raises(SystemExit, match="pass --aus with as many AU numbers"):
        main(["plot", "cooccurrence", str(tmp_path / "labels.npy"), "--out", "x.png"])
    main(
        [
            "plot",
            "cooccurrence",
            str(tmp_path / "labels.npy"),
            "--aus",
            "1",
            "2",
            "4",
            "--out",
            str(tmp_path / "jaccard.png"),
        ]
    )
    check_png(tmp_path / "jaccard.png")
    # labels from a .npy file, predictions from the predict CSV's AUxx_p: frame counts differ
    with pytest.raises(SystemExit, match="must be the same frames in the same order"):
        main(
            [
                "plot",
                "relations",
                str(tmp_path / "labels.npy"),
                str(csv_path),
                "--aus",
                "1",
                "2",
                "12",
                "--out",
                str(tmp_path / "x.png"),
            ]
        )
    capsys.readouterr()
    main(
        [
            "plot",
            "relations",
            str(tmp_path / "labels.npy"),
            str(tmp_path / "probabilities.npy"),
            "--aus",
            "1",
            "2",
            "4",
            "--name",
            "DRML",
            "--out",
            str(tmp_path / "relations.png"),
        ]
    )
    assert "relation distance (mean squared difference):" in capsys.readouterr().out
    check_png(tmp_path / "relations.png")
    # the CSV's occurrences as labels
    main(["plot", "cooccurrence", str(csv_path), "--out", str(tmp_path / "csv_jaccard.png")])
    check_png(tmp_path / "csv_jaccard.png")


def test_model_kinds(tmp_path, check_png):
    drml = tfau.models.DRML(**tfau.models.tiny_kwargs("DRML"))
    save_trained_model(
        drml,
        tmp_path / "drml.keras",
        model_name="DRML",
        aus=(1, 2, 4),
        face_size=80,
        mean=(120.0, 100.0, 90.0),
    )
    face = write_face(tmp_path / "face80.png", 80)
    for kind in ("saliency", "occlusion"):
        out = str(tmp_path / f"{kind}.png")
        assert (
            main(
                [
                    "plot",
                    kind,
                    "--model",
                    str(tmp_path / "drml.keras"),
                    "--face",
                    face,
                    "--out",
                    out,
                ]
            )
            == 0
        )
        check_png(out)
    with pytest.raises(SystemExit, match="--aus names 2 AUs but the model has 3 outputs"):
        main(
            [
                "plot",
                "saliency",
                "--model",
                str(tmp_path / "drml.keras"),
                "--face",
                face,
                "--aus",
                "1",
                "2",
                "--out",
                str(tmp_path / "x.png"),
            ]
        )

    jaanet = tfau.models.JAANet(**tfau.models.tiny_kwargs("JAANet"))
    jaanet.save(tmp_path / "jaanet.keras")  # no model.json: name from the model, AUs given
    out = str(tmp_path / "attention.png")
    main(
        [
            "plot",
            "attention",
            "--model",
            str(tmp_path / "jaanet.keras"),
            "--face",
            write_face(tmp_path / "face48.png", 48),
            "--aus",
            "1",
            "2",
            "4",
            "--out",
            out,
        ]
    )
    check_png(out)

    np.save(tmp_path / "landmarks.npy", face_landmarks(80))
    out = str(tmp_path / "eacnet.png")
    main(
        [
            "plot",
            "eacnet-attention",
            "--face",
            face,
            "--landmarks",
            str(tmp_path / "landmarks.npy"),
            "--out",
            out,
        ]
    )
    check_png(out)


def test_patch_attention_kind(tmp_path, check_png):
    kwargs = {k: v for k, v in tfau.models.tiny_kwargs("PAttNet").items() if k != "num_aus"}
    paths = []
    for au, model in tfau.models.PAttNetPerAU((12,), **kwargs).items():
        path = tmp_path / f"pattnet_au{au}.keras"
        save_trained_model(model, path, model_name="PAttNet", aus=(au,), face_size=80)
        paths.append(str(path))
    np.save(tmp_path / "landmarks.npy", face_landmarks(80))
    face = write_face(tmp_path / "face.png", 80)
    out = str(tmp_path / "pattnet.png")
    main(
        [
            "plot",
            "patch-attention",
            "--models",
            *paths,
            "--aus",
            "12",
            "--faces",
            face,
            face,
            "--landmarks",
            *[str(tmp_path / "landmarks.npy")] * 2,
            "--out",
            out,
        ]
    )
    check_png(out)
    with pytest.raises(SystemExit, match="--models and --aus must pair up"):
        main(
            [
                "plot",
                "patch-attention",
                "--models",
                *paths,
                "--aus",
                "1",
                "2",
                "--faces",
                face,
                "--landmarks",
                str(tmp_path / "landmarks.npy"),
                "--out",
                out,
            ]
        )
