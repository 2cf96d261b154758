"""Training and evaluation of tfau networks under any tf.distribute strategy.

``Trainer`` runs a custom ``strategy.run`` loop (single device, MirroredStrategy,
MultiWorkerMirroredStrategy), writes checkpoints, TensorBoard logs, the config and per-epoch
metrics into its run folder, resumes exactly after a kill and stops on a NaN loss. A run's
examples are a ``RunData`` (training and validation examples; every training statistic comes
from the training examples only). ``run_training`` (``tfau.training.run``: one run, or the
config's stages through ``run_stages``) is what ``tfau train`` and ``tfau cv`` call; the
papers' staged trainings are stage lists and weight hand-overs in
``tfau.training.recipes.<paper>``, run by that one loop.
"""

from tfau.training.config import (
    BUILTIN_CONFIGS,
    LossSpec,
    OptimizerSpec,
    Stage,
    TrainConfig,
    get_config,
)
from tfau.training.losses import LOSS_FUNCTIONS, make_loss
from tfau.training.optimizers import make_optimizer, make_schedule
from tfau.training.recipes.aunets import (
    pretrain_vgg_classifier,
    train_aunets_domain_adapted,
    train_hydranet_heads,
)
from tfau.training.recipes.eacnet import (
    LinearAURegression,
    extract_features,
    fit_linear_au_regression,
    linear_transfer_fold,
    train_eacnet_staged,
)
from tfau.training.recipes.jaanet import JAANET_STAGES, transfer_au_branches
from tfau.training.recipes.vgg import transfer_vgg_encoder
from tfau.training.run import run_stages, run_training
from tfau.training.run_data import RunData, filter_subjects
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
