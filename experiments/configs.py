"""One training config per paper x dataset, with the paper's protocol and hyper-parameters.

``EXPERIMENTS[name]`` is an `Experiment`: a `tfau.training.TrainConfig` dict, the paper's
published F1 (`tfau.training.paper_results`), the command that runs the 3-fold protocol, and
the paper's staged training in words (with what tfau runs today). ``<paper>_<dataset>``
configs use the real corpora; ``<paper>_synth`` ones run the same network, loss and optimizer
family at tiny widths on ``synth_au/tiny`` (64 px faces, one subject per part) on a 2-core CPU
in minutes (smoke runs); ``<paper>_synthbp4d`` ones train CPU-sized networks on SynthAU BP4D
(the SynthAU CV table, experiments/benchmarks/results/synth_cv.md) in 4-35 minutes. The
papers' staged trainings that change networks or hand weights over run from their own
configs (``eacnet_bp4d_staged``, ``aunets_bp4d_hydranet``, ``jaanet_disfa_transfer``, each
with a tiny ``*_synth_*`` twin, and ``aunets_synth_domain``); JAA-Net's stages are in
``jaanet_*`` themselves.

Run one::

    tfau cv --config jaanet_bp4d --data_dir ~/tensorflow_datasets --run_dir runs/jaanet_bp4d

Example:
    >>> import tfau.experiments.configs as ex  # doctest: +SKIP
    >>> ex.get_experiment("drml_bp4d").config["optimizer"]["learning_rate"]  # doctest: +SKIP
    0.001
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from tfau.aus import BP4D_AUS, DISFA_AUS

DATASET_AUS = {"bp4d": BP4D_AUS, "disfa": DISFA_AUS, "synth_au": BP4D_AUS}
CV_COMMAND = "tfau cv --config {name} --data_dir <tfds data_dir> --run_dir runs/{name}"


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A paper x dataset experiment.

    Args:
        name: registry key, ``<paper>_<dataset>`` or ``<paper>_synth``.
        paper: ``"drml"``, ``"eacnet"``, ``"jaanet"``, ``"aunets"`` or ``"pattnet"``.
        dataset: ``"bp4d"``, ``"disfa"``, ``"synth"`` (tiny smoke runs) or ``"synthbp4d"``
            (CPU-sized networks on SynthAU BP4D, the SynthAU CV table).
        config: a `TrainConfig` dict (``TrainConfig.from_dict``).
        paper_f1: the paper's average F1-frame (percent) on this dataset; for synth
            experiments the real-data (BP4D) number the network is compared with.
        command: the command that runs the 3-fold protocol with this config.
        stages: the paper's training stages, in words.
        runs: what this config trains today (single stage, or which stage).
        notes: deviations and assumptions.
    """

    name: str
    paper: str
    dataset: str
    config: dict[str, Any]
    paper_f1: float
    command: str
    stages: tuple[str, ...]
    runs: str
    notes: str = ""

    @property
    def paper_dataset(self) -> str:
        """The dataset of the published numbers this experiment is compared with."""
        return "bp4d" if self.dataset.startswith("synth") else self.dataset

    def train_config(self) -> Any:
        """The `tfau.training.TrainConfig`."""
        from tfau.training.config import TrainConfig

        return TrainConfig.from_dict(copy.deepcopy(self.config))


def _sgd(lr: float, **kwargs: Any) -> dict[str, Any]:
    return {"name": "sgd", "learning_rate": lr, "momentum": 0.9, **kwargs}


def _config(model: str, dataset: str, **kwargs: Any) -> dict[str, Any]:
    return {"model": model, "dataset": dataset, "checkpoint_every": 500, **kwargs}


_DRML = dict(
    losses={"au": {"name": "sigmoid_cross_entropy"}},
    optimizer=_sgd(1e-3, weight_decay=5e-4, schedule="step", decay_factor=0.1, decay_steps=4000),
)
_EACNET = dict(
    losses={"au": {"name": "offset_cross_entropy"}},
    optimizer=_sgd(1e-4, nesterov=True),
)
_JAANET_LOSSES = {
    "au": [
        {"name": "weighted_softmax_ce", "kwargs": {"au_weights": "auto"}},
        {"name": "weighted_dice", "kwargs": {"au_weights": "auto"}},
    ],
    "landmarks": {"name": "alignment", "weight": 0.5},
    # Eq. 4: refined maps against the initial ones (a model output), lambda2 = 1e-7.
    "attention": {"name": "attention_refinement", "weight": 1e-7, "target": "attention_initial"},
}
#: JAA-Net's stages (Sec. 4.1) as `TrainConfig.stages` dicts: the first stage's learning rate
#: is the config's (0.01 BP4D, 0.001 DISFA), the two others' 1e-3; the AU head is trained with
#: the AU modules (tfau.training.JAANET_STAGES, which tests/experiments checks these equal).
_JAANET_STAGES = [
    {"name": "all_modules", "epochs": 8, "loss_weights": {"landmarks": 0.5}},
    {
        "name": "face_alignment",
        "epochs": 2,
        "trainable": ["align"],
        "learning_rate": 1e-3,
        "loss_weights": {"landmarks": 1.0},
    },
    {
        "name": "au_modules",
        "epochs": 2,
        "trainable": ["global", "attention_refinement", "local", "au"],
        "learning_rate": 1e-3,
        "loss_weights": {"landmarks": 1.0},
    },
]


def _eacnet_stages(epochs: int) -> list[dict[str, Any]]:
    """EAC-Net's trainings (Sec. IV-B) as `TrainConfig.stages` dicts: FVGG (its builder's
    3 frozen groups, its own pipeline without landmarks), E-Net started as a copy of the
    trained FVGG, EAC-Net built on the trained E-Net (tfau.training.recipes.eacnet's
    eacnet_stages, which tests/experiments checks these equal)."""
    return [
        {
            "name": "fvgg",
            "epochs": epochs,
            "model": "FVGG",
            "model_kwargs": {"frozen_groups": 3},
            "pipeline": "FVGG",
        },
        {
            "name": "enet",
            "epochs": epochs,
            "model": "ENet",
            "init": {"name": "vgg_encoder", "include_head": True},
        },
        {"name": "eacnet", "epochs": epochs, "model": "EACNet", "init": "eacnet_on_enet"},
    ]


def _hydranet_stages(aus: tuple[int, ...], epochs: int) -> list[dict[str, Any]]:
    """HydraNet's heads one at a time (AUNets Sec. 3.2.1) as `TrainConfig.stages` dicts: stage
    ``au<k>`` grows AU k's head on the frozen encoder and trains it alone on the labels of the
    heads so far (tfau.training.recipes.aunets.hydranet_stages)."""
    stages = []
    for index, au in enumerate(aus):
        stage = {"name": f"au{au}", "epochs": epochs, "trainable": [f"au{au}"]}
        if index:
            stage["init"] = {"name": "hydranet_head", "au": au}
        stages.append({**stage, "aus": list(aus[: index + 1])})
    return stages


def _transfer_stages(stages: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """JAA-Net's stages, the first starting from the JAA-Net saved at ``source`` (shared
    weights, and the AUs both datasets have by identity: hand-over jaanet_au_branches)."""
    first = {**stages[0], "init": {"name": "jaanet_au_branches", "source": source}}
    return [first, *copy.deepcopy(stages[1:])]


_AUNETS = dict(
    losses={"au": {"name": "sigmoid_cross_entropy"}},
    optimizer={"name": "adam", "learning_rate": 1e-4, "beta_1": 0.5, "beta_2": 0.999},
    early_stopping_patience=3,
)
_PATTNET = dict(
    losses={"au": {"name": "weighted_bce", "kwargs": {"pos_weight": "auto"}}},
    optimizer=_sgd(1e-3),
)

_STAGES = {
    "drml": ("One stage: SGD lr 1e-3 (x0.1 every 4k iterations), momentum 0.9, wd 5e-4.",),
    "eacnet": (
        "1. FVGG: VGG-19 fine-tuned, groups 1-2 frozen.",
        "2. E-Net: FVGG plus attention-enhanced groups 3-4, trained from the FVGG weights.",
        "3. EAC-Net: C-Net crops added on top of the trained E-Net.",
    ),
    "jaanet": (
        "1. All modules, lambda1 = 0.5, lr 0.01 (BP4D) / 0.001 (DISFA) x0.3 every 2 epochs, "
        "8 epochs.",
        "2. Face alignment module only (lambda1 = 1), 2 epochs at lr 1e-3.",
        "3. Global and local AU modules only, 2 epochs at lr 1e-3.",
    ),
    "aunets": (
        "0. Encoder pretrained on an emotion data set (EmoNet), then fine-tuned on AUs.",
        "1. One binary VGG-16 per AU (RGB + optical flow, horizontal fusion), Adam 1e-4, "
        "about 12 epochs, early stopping; HydraNet adds one head per AU on a frozen encoder.",
        "Evaluation: rolling median over each video (window 7).",
    ),
    "pattnet": ("One stage per AU (the authors train one model per AU), SGD 1e-3.",),
}

_RUNS = {
    "drml": "The whole paper protocol (single stage).",
    "eacnet": "Stage 3 (EACNet) trained end to end from ImageNet-free initial weights; the "
    "FVGG -> E-Net -> EAC-Net hand-over runs from eacnet_bp4d_staged (config stages).",
    "jaanet": "The three stages (config `stages`, run by tfau cv / tfau train in the fold's "
    "<index>_<stage> folders): all modules 8 epochs (lambda1 = 0.5, refinement loss lambda2 = "
    "1e-7, x0.3 every 2 epochs), face alignment 2 epochs and the AU modules 2 epochs at lr "
    "1e-3 (lambda1 = 1); the epoch is chosen on the validation subjects within the last "
    "stage.",
    "aunets": "One multi-AU AUNetHorizontal (shared network, one sigmoid per AU) with Adam and "
    "early stopping; no EmoNet pretraining, no per-AU networks, no median filter (encoder "
    "pretraining: config aunets_synth_domain; HydraNet heads one AU at a time: config "
    "aunets_bp4d_hydranet).",
    "pattnet": "One multi-AU PAttNet (one logit per AU) instead of one model per AU.",
}


def _real(
    paper: str, dataset: str, config: dict[str, Any], f1: float, notes: str = ""
) -> Experiment:
    name = f"{paper}_{dataset}"
    return Experiment(
        name=name,
        paper=paper,
        dataset=dataset,
        config=config,
        paper_f1=f1,
        command=CV_COMMAND.format(name=name),
        stages=_STAGES[paper],
        runs=_RUNS[paper],
        notes=notes,
    )


_EPOCHS_NOTE = "The paper does not state the number of epochs: {} is an assumption."

_REAL = [
    _real(
        "drml",
        "bp4d",
        _config("DRML", "bp4d/aligned200", batch_size=128, epochs=20, **_DRML),
        48.3,
        _EPOCHS_NOTE.format(20),
    ),
    _real(
        "drml",
        "disfa",
        _config("DRML", "disfa/aligned200", batch_size=128, epochs=20, **_DRML),
        26.7,
        _EPOCHS_NOTE.format(20),
    ),
    _real(
        "eacnet",
        "bp4d",
        _config("EACNet", "bp4d/unaligned224", batch_size=50, epochs=10, **_EACNET),
        55.9,
        _EPOCHS_NOTE.format(10) + " Minor-AU oversampling (tfau.data.balancing) is not "
        "applied by the trainer yet.",
    ),
    _real(
        "eacnet",
        "disfa",
        _config("EACNet", "disfa/unaligned224", batch_size=50, epochs=10, **_EACNET),
        48.5,
        "The paper does NOT train on DISFA: it extracts 2048-d features with the BP4D model "
        "and fits a linear regression to the 8 DISFA AUs. This config trains EAC-Net on DISFA "
        "directly; the feature + regression protocol is tfau.training.linear_transfer_fold.",
    ),
    _real(
        "jaanet",
        "bp4d",
        _config(
            "JAANet",
            "bp4d/aligned200",
            batch_size=9,
            epochs=12,
            losses=_JAANET_LOSSES,
            optimizer=_sgd(
                0.01, weight_decay=5e-4, schedule="epoch_step", decay_factor=0.3, decay_epochs=2
            ),
            stages=_JAANET_STAGES,
        ),
        60.0,
    ),
    _real(
        "jaanet",
        "disfa",
        _config(
            "JAANet",
            "disfa/aligned200",
            # Attention centres of DISFA's AUs (without `aus` JAANet takes BP4D's first 8).
            model_kwargs={"aus": list(DISFA_AUS)},
            batch_size=9,
            epochs=12,
            losses=_JAANET_LOSSES,
            optimizer=_sgd(
                0.001, weight_decay=5e-4, schedule="epoch_step", decay_factor=0.3, decay_epochs=2
            ),
            stages=_JAANET_STAGES,
        ),
        56.0,
        "The paper fine-tunes from the BP4D model (shared AU branches copied by AU identity); "
        "this config trains from scratch at the DISFA learning rate "
        "(jaanet_disfa_transfer starts from the BP4D model).",
    ),
    _real(
        "aunets",
        "bp4d",
        _config(
            "AUNetHorizontal",
            "bp4d/unaligned224_pairs",
            pipeline_kwargs={"fusion": "horizontal"},
            batch_size=32,
            epochs=12,
            **_AUNETS,
        ),
        63.0,
        "Batch size is not stated in the paper: 32 is an assumption. The flow is computed "
        "from each frame and its predecessor (bp4d/unaligned224_pairs: previous_image).",
    ),
    _real(
        "pattnet",
        "bp4d",
        _config("PAttNet", "bp4d/aligned200", batch_size=50, epochs=10, **_PATTNET),
        62.64,
        _EPOCHS_NOTE.format(10) + " Faces are tfau's 2D-aligned 200 px crops, not the "
        "paper's 3D-registered 512 px faces (patches placed by the eyes).",
    ),
]

_SYNTH_BASE = {"dataset": "synth_au/tiny", "epochs": 2, "steps_per_epoch": 2, "batch_size": 2}
_SYNTH_MODELS: dict[str, tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "drml": (
        "DRML",
        {"input_shape": [74, 74, 3], "conv1_filters": 8, "conv_filters": 8, "fc_units": [32, 32]},
        {"input_size": 74, "source_size": 80},
        _DRML,
    ),
    "eacnet": (
        "EACNet",
        {"input_size": 32, "width": 1 / 16, "fc_units": 32, "head_units": 16, "region_units": 8},
        {"input_size": 32},
        _EACNET,
    ),
    "jaanet": (
        "JAANet",
        {"input_size": 48, "c": 2, "d": 16},
        {"input_size": 48, "source_size": 56},
        {
            "losses": _JAANET_LOSSES,
            "optimizer": _sgd(
                0.01, weight_decay=5e-4, schedule="epoch_step", decay_factor=0.3, decay_epochs=2
            ),
            # The paper's stages, 1 epoch each: the smoke run takes the staged path.
            "epochs": 3,
            "stages": [{**stage, "epochs": 1} for stage in _JAANET_STAGES],
        },
    ),
    "aunets": (
        "AUNetHorizontal",
        {"input_size": 32, "width": 1 / 16, "fc_units": 32},
        {"input_size": 32, "fusion": "horizontal"},
        _AUNETS,
    ),
    "pattnet": (
        "PAttNet",
        {"input_shape": [9, 40, 40, 3], "filters": [8, 8, 8], "encoding_size": 16},
        {"patch_size": 40},
        _PATTNET,
    ),
}
_PAPER_BP4D_F1 = {e.paper: e.paper_f1 for e in _REAL if e.dataset == "bp4d"}


def _synth_epochs(config: dict[str, Any]) -> str:
    stages = config.get("stages")
    if not stages:
        return f"{config['epochs']} epochs"
    return " + ".join(str(stage["epochs"]) for stage in stages) + " epochs (stages)"


def _synth(paper: str) -> Experiment:
    model, model_kwargs, pipeline_kwargs, recipe = _SYNTH_MODELS[paper]
    name = f"{paper}_synth"
    settings = {k: v for k, v in _SYNTH_BASE.items() if k != "dataset"}
    config = _config(
        model,
        _SYNTH_BASE["dataset"],
        model_kwargs={**model_kwargs, "num_aus": len(BP4D_AUS)},
        pipeline_kwargs=pipeline_kwargs,
        **{**settings, **copy.deepcopy(recipe)},
    )
    config["checkpoint_every"] = 2
    # One subject per part: some AUs never occur in a fold's training frames, so the papers'
    # label-derived weights ("auto") are undefined; the synth runs use uniform weights.
    for specs in config["losses"].values():
        for spec in specs if isinstance(specs, list) else [specs]:
            for key, value in spec.get("kwargs", {}).items():
                if value == "auto":
                    spec["kwargs"][key] = [1.0] * len(BP4D_AUS)
    return Experiment(
        name=name,
        paper=paper,
        dataset="synth",
        config=config,
        paper_f1=_PAPER_BP4D_F1[paper],
        command=CV_COMMAND.format(name=name).replace("<tfds data_dir>", "/tmp/tfds"),
        stages=_STAGES[paper],
        runs=f"Tiny {model} ({model_kwargs}) on synth_au/tiny, {_synth_epochs(config)} x 2 "
        "steps of batch 2: a smoke run of the protocol, not a reproduction. " + _RUNS[paper],
        notes="paper_f1 is the BP4D number, for the results table's paper column.",
    )


#: SynthAU BP4D: what ``tfau synth --layout bp4d --size demo`` writes (41 subjects x 8 tasks x
#: 16 coded frames, the layout `tfau demo` trains on), built by the real ``bp4d`` builder.
SYNTHBP4D_DATA = (
    "tfau synth --layout bp4d --size demo --out runs/synthbp4d/BP4D && "
    "tfau build bp4d --config {config} --manual_dir runs/synthbp4d/BP4D "
    "--data_dir runs/synthbp4d/tfds"
)
_ADAM_3E4 = {"name": "adam", "learning_rate": 3e-4}
#: Each paper's network at CPU size on SynthAU BP4D (the SynthAU CV table,
#: experiments/benchmarks/results/synth_cv.md): the paper's loss, Adam 3e-4 (further than the
#: papers' SGD in a few hundred steps; DRML, JAA-Net: warmed up to 1e-3, cosine-decayed), 4
#: or 8 epochs per fold (8 where the validation F1 of fold part3 still rose after 4: all but
#: EAC-Net). VGG
#: networks start from random weights (no ImageNet file here): none of their groups is
#: frozen, and they read [-1, 1] faces, since on the Caffe range a random BN-free VGG
#: saturates (AUC 0.50 for 4 epochs).
_SYNTHBP4D: dict[str, dict[str, Any]] = {
    # The demo's recipe of 2026-12-05 (tfau.cli.demo.demo_config, chosen on validation
    # subjects; the demo has since moved to 82 px crops of 91 for 5 epochs): no dropout,
    # batches of 16, 90 px crops of the face resized to 100, Adam warmed up to 1e-3 then
    # cosine-decayed; 8 epochs (the AUs here are half the demo's).
    "drml": _config(
        "DRML",
        "bp4d/aligned112",
        model_kwargs={"input_shape": [90, 90, 3], "fc_units": [512, 256], "dropout": 0.0},
        pipeline_kwargs={"input_size": 90, "source_size": 100},
        batch_size=16,
        epochs=8,
        losses=_DRML["losses"],
        optimizer={
            "name": "adam",
            "learning_rate": 1e-3,
            "schedule": "cosine",
            "warmup_epochs": 0.5,
        },
    ),
    "eacnet": _config(
        "EACNet",
        "bp4d/aligned112",
        model_kwargs={
            "input_size": 96,
            "width": 0.25,
            "fc_units": 256,
            "head_units": 128,
            "region_units": 32,
            "frozen_groups": 0,
        },
        pipeline_kwargs={"input_size": 96, "normalization": "symmetric"},
        batch_size=16,
        epochs=4,
        losses=_EACNET["losses"],
        optimizer=_ADAM_3E4,
    ),
    "jaanet": _config(
        "JAANet",
        "bp4d/aligned112",
        model_kwargs={"input_size": 64, "c": 4, "d": 64, "local_implementation": "grouped"},
        pipeline_kwargs={"input_size": 64, "source_size": 72},
        batch_size=16,
        epochs=8,
        losses=_JAANET_LOSSES,
        # Warmed up to 1e-3, then cosine-decayed (validation F1 of fold part3 54.2 after 8
        # epochs, against 46.7 at best and noisy for a constant 3e-4).
        optimizer={
            "name": "adam",
            "learning_rate": 1e-3,
            "schedule": "cosine",
            "warmup_epochs": 0.5,
        },
    ),
    # The RGB AUNet (AUNets Table 2's RGB row), one sigmoid per AU, mirrored faces and no
    # dropout; the horizontal flow fusion at this size stayed at chance (AUC 0.46-0.50) in
    # 4 epochs, and so did any VGG on the Caffe range.
    "aunets": _config(
        "AUNet",
        "bp4d/aligned112",
        model_kwargs={"input_size": 64, "width": 0.25, "fc_units": 256, "dropout": 0.0},
        pipeline_kwargs={"input_size": 64, "flip": True, "normalization": "symmetric"},
        batch_size=16,
        epochs=8,
        losses=_AUNETS["losses"],
        optimizer={**_AUNETS["optimizer"], "learning_rate": 3e-4},
    ),
    "pattnet": _config(
        "PAttNet",
        "bp4d/aligned112",
        model_kwargs={"input_shape": [9, 48, 48, 3]},
        pipeline_kwargs={"input_size": 112, "patch_size": 48},
        batch_size=32,
        epochs=8,
        losses=_PATTNET["losses"],
        optimizer=_ADAM_3E4,
    ),
}
#: Measured 3-fold SynthAU BP4D results (mean F1, mean AUC, minutes on 2 cores).
_SYNTHBP4D_MEASURED: dict[str, tuple[float, float, int]] = {
    "drml": (56.6, 80.1, 12),
    "eacnet": (53.7, 76.9, 28),
    "jaanet": (48.7, 71.0, 24),
    "aunets": (48.5, 72.8, 6),
    "pattnet": (53.9, 76.2, 16),
}


def _synthbp4d(paper: str) -> Experiment:
    name = f"{paper}_synthbp4d"
    config = _SYNTHBP4D[paper]
    config["model_kwargs"]["num_aus"] = len(BP4D_AUS)
    f1, auc, minutes = _SYNTHBP4D_MEASURED[paper]
    build = SYNTHBP4D_DATA.format(config=config["dataset"].split("/")[1])
    return Experiment(
        name=name,
        paper=paper,
        dataset="synthbp4d",
        config=config,
        paper_f1=_PAPER_BP4D_F1[paper],
        command=build
        + " && "
        + CV_COMMAND.format(name=name).replace("<tfds data_dir>", "runs/synthbp4d/tfds"),
        stages=_STAGES[paper],
        runs=f"{config['model']} at CPU size ({config['model_kwargs']}) on SynthAU BP4D, "
        f"{config['epochs']} epochs per fold: measured mean F1 {f1}, AUC {auc}, about "
        f"{minutes} min for the three folds on 2 cores (experiments/benchmarks/results/"
        "synth_cv.md).",
        notes="paper_f1 is the BP4D number, for the results table's paper column.",
    )


EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in _REAL}
EXPERIMENTS.update({f"{paper}_synth": _synth(paper) for paper in _SYNTH_MODELS})
EXPERIMENTS.update({f"{paper}_synthbp4d": _synthbp4d(paper) for paper in _SYNTHBP4D})


def _variant(base: Experiment, suffix: str, runs: str, notes: str, **changes: Any) -> Experiment:
    """``base`` with config ``changes`` (e.g. its paper's stages), named ``<base>_<suffix>``."""
    name = f"{base.name}_{suffix}"
    return Experiment(
        name=name,
        paper=base.paper,
        dataset=base.dataset,
        config={**copy.deepcopy(base.config), **copy.deepcopy(changes)},
        paper_f1=base.paper_f1,
        command=base.command.replace(base.name, name),
        stages=base.stages,
        runs=runs,
        notes=notes,
    )


_TINY_HYDRANET_AUS = (1, 2, 4)
#: The papers' staged trainings that build or hand weights over between stages, each with a
#: tiny ``*_synth_*`` twin (1 epoch per stage on synth_au/tiny) that the tests run.
_STAGED = [
    _variant(
        EXPERIMENTS["eacnet_bp4d"],
        "staged",
        "The paper's three trainings (config `stages`): FVGG 10 epochs (groups 1-3 frozen), "
        "E-Net 10 epochs from the trained FVGG (all its layers), EAC-Net 10 epochs on the "
        "trained E-Net (VGG layers copied, C-Net new), each in <index>_<name>.",
        EXPERIMENTS["eacnet_bp4d"].notes,
        epochs=30,
        stages=_eacnet_stages(10),
    ),
    _variant(
        EXPERIMENTS["eacnet_synth"],
        "staged",
        "Tiny FVGG -> E-Net -> EAC-Net on synth_au/tiny, 1 epoch of 2 steps each: a smoke run "
        "of the staged protocol.",
        EXPERIMENTS["eacnet_synth"].notes,
        epochs=3,
        stages=_eacnet_stages(1),
    ),
    _variant(
        EXPERIMENTS["aunets_bp4d"],
        "hydranet",
        "HydraNet (RGB, frozen VGG-16 encoder) grown one head per BP4D AU, each head trained "
        "alone for up to 12 epochs with early stopping (config `stages`: au1 ... au24).",
        "Epochs per head as the AUNets' per-AU networks (about 12, early stopping); the "
        "paper's number is the AUNets one.",
        model="HydraNet",
        dataset="bp4d/unaligned224",
        pipeline_kwargs={},
        epochs=12 * len(BP4D_AUS),
        stages=_hydranet_stages(BP4D_AUS, 12),
    ),
    _variant(
        EXPERIMENTS["aunets_synth"],
        "hydranet",
        f"Tiny HydraNet grown head by head for AUs {_TINY_HYDRANET_AUS} on synth_au/tiny, 1 "
        "epoch of 2 steps per head: a smoke run of the head-by-head protocol.",
        EXPERIMENTS["aunets_synth"].notes,
        model="HydraNet",
        model_kwargs={"input_size": 32, "width": 1 / 16, "fc_units": 16},
        pipeline_kwargs={"input_size": 32},
        epochs=len(_TINY_HYDRANET_AUS),
        stages=_hydranet_stages(_TINY_HYDRANET_AUS, 1),
    ),
    _variant(
        EXPERIMENTS["aunets_synth"],
        "domain",
        "Domain adaptation (config `stages`, hand-over vgg_classifier_pretraining): a tiny "
        "VGG-16 view classifier trained 2 epochs on the training faces' two camera views, "
        "its encoder and fc6/fc7 starting the tiny AUNetHorizontal, then 2 epochs on AUs.",
        "The paper's EmoNet is trained on an emotion data set tfau cannot ship; SynthAU's "
        "camera view is the labelled face task here (real BP4D has no view labels).",
        stages=[
            {
                "name": "aus",
                "epochs": 2,
                "init": {
                    "name": "vgg_classifier_pretraining",
                    "num_classes": 2,
                    "epochs": 2,
                    "learning_rate": 1e-3,
                },
            }
        ],
    ),
    _variant(
        EXPERIMENTS["jaanet_disfa"],
        "transfer",
        "The paper's DISFA protocol: the three stages at the DISFA learning rate, the first "
        "starting from the BP4D model (runs/jaanet_bp4d/model.keras, written by `tfau train "
        "--config jaanet_bp4d --run_dir runs/jaanet_bp4d`): shared weights and the AU "
        "branches of AUs 1, 2, 4, 6, 12 copied by AU identity, AUs 9, 25, 26 new.",
        "Set the source with stages=[...] when the BP4D model is elsewhere.",
        stages=_transfer_stages(_JAANET_STAGES, "runs/jaanet_bp4d/model.keras"),
    ),
    _variant(
        EXPERIMENTS["jaanet_synth"],
        "transfer",
        "Tiny JAA-Net whose first stage starts from runs/jaanet_synth/model.keras (`tfau "
        "train --config jaanet_synth --run_dir runs/jaanet_synth`), 1 epoch per stage.",
        EXPERIMENTS["jaanet_synth"].notes,
        stages=_transfer_stages(
            EXPERIMENTS["jaanet_synth"].config["stages"], "runs/jaanet_synth/model.keras"
        ),
    ),
]
EXPERIMENTS.update({e.name: e for e in _STAGED})


def list_experiments() -> list[str]:
    """Every experiment name, sorted."""
    return sorted(EXPERIMENTS)


def get_experiment(name: str) -> Experiment:
    """The `Experiment` called ``name``; a KeyError lists the known ones."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise KeyError(
            f"Unknown experiment {name!r}. Experiments: {', '.join(list_experiments())}."
        ) from None
