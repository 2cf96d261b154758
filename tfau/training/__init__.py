"""Training and evaluation of tfau networks under any tf.distribute strategy.

``Trainer`` runs a custom ``strategy.run`` loop (single device, MirroredStrategy,
MultiWorkerMirroredStrategy), writes checkpoints, TensorBoard logs, the config and per-epoch
metrics into its run folder, resumes exactly after a kill and stops on a NaN loss. A run's
examples are a ``RunData`` (training and validation examples; every training statistic comes
from the training examples only). ``run_training`` (one run, or the config's stages),
``run_stages`` and the ``train_*`` functions of ``tfau.training.stages`` run the papers'
staged trainings as a sequence of ``Trainer`` runs.
"""

from tfau.training.config import (
    BUILTIN_CONFIGS,
    LossSpec,
    OptimizerSpec,
    TrainConfig,
    get_config,
)
from tfau.training.losses import LOSS_FUNCTIONS, make_loss
from tfau.training.optimizers import make_optimizer, make_schedule
from tfau.training.run_data import RunData, filter_subjects
from tfau.training.stages import (
    JAANET_STAGES,
    LinearAURegression,
    Stage,
    extract_features,
    fit_linear_au_regression,
    linear_transfer_fold,
    pretrain_vgg_classifier,
    run_stages,
    run_training,
    train_aunets_domain_adapted,
    train_eacnet_staged,
    train_hydranet_heads,
    transfer_au_branches,
    transfer_vgg_encoder,
)
from tfau.training.strategy import is_chief, make_strategy
from tfau.training.trainer import NaNLossError, Trainer

__all__ = [
    "BUILTIN_CONFIGS",
    "JAANET_STAGES",
    "LOSS_FUNCTIONS",
    "LinearAURegression",
    "LossSpec",
    "NaNLossError",
    "OptimizerSpec",
    "RunData",
    "Stage",
    "TrainConfig",
    "Trainer",
    "extract_features",
    "filter_subjects",
    "fit_linear_au_regression",
    "get_config",
    "is_chief",
    "linear_transfer_fold",
    "make_loss",
    "make_optimizer",
    "make_schedule",
    "make_strategy",
    "pretrain_vgg_classifier",
    "run_stages",
    "run_training",
    "train_aunets_domain_adapted",
    "train_eacnet_staged",
    "train_hydranet_heads",
    "transfer_au_branches",
    "transfer_vgg_encoder",
]
