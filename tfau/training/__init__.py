"""Training and evaluation of tfau networks under any tf.distribute strategy.

``Trainer`` runs a custom ``strategy.run`` loop (single device, MirroredStrategy,
MultiWorkerMirroredStrategy), writes checkpoints, TensorBoard logs, the config and per-epoch
metrics into its run folder, resumes exactly after a kill and stops on a NaN loss.
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
from tfau.training.strategy import is_chief, make_strategy
from tfau.training.trainer import NaNLossError, Trainer

__all__ = [
    "BUILTIN_CONFIGS",
    "LOSS_FUNCTIONS",
    "LossSpec",
    "NaNLossError",
    "OptimizerSpec",
    "TrainConfig",
    "Trainer",
    "get_config",
    "is_chief",
    "make_loss",
    "make_optimizer",
    "make_schedule",
    "make_strategy",
]
