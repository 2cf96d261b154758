"""Losses of the five papers, masking unknown AU labels (-1).

Each loss exists as a registered ``keras.losses.Loss`` (usable in ``model.compile`` and in
``.keras`` files) and as a function taking an explicit ``mask``. Inputs are probabilities,
as every tfau network outputs; they are clipped before logarithms (see each function).
"""

from tfau.losses.jaanet import (
    AlignmentLoss,
    AttentionRefinementLoss,
    JAANetAULoss,
    WeightedDice,
    WeightedSoftmaxCrossEntropy,
    alignment_loss,
    attention_refinement_loss,
    weighted_dice,
    weighted_softmax_cross_entropy,
)
from tfau.losses.multilabel import (
    MultiLabelSigmoidCrossEntropy,
    OffsetCrossEntropy,
    WeightedBinaryCrossEntropy,
    multilabel_sigmoid_cross_entropy,
    offset_cross_entropy,
    weighted_binary_cross_entropy,
)
from tfau.losses.weights import au_counts, jaanet_au_weights, occurrence_rates, positive_weights

__all__ = [
    "AlignmentLoss",
    "AttentionRefinementLoss",
    "JAANetAULoss",
    "MultiLabelSigmoidCrossEntropy",
    "OffsetCrossEntropy",
    "WeightedBinaryCrossEntropy",
    "WeightedDice",
    "WeightedSoftmaxCrossEntropy",
    "alignment_loss",
    "attention_refinement_loss",
    "au_counts",
    "jaanet_au_weights",
    "multilabel_sigmoid_cross_entropy",
    "occurrence_rates",
    "offset_cross_entropy",
    "positive_weights",
    "weighted_binary_cross_entropy",
    "weighted_dice",
    "weighted_softmax_cross_entropy",
]
