"""The five papers' networks as registered functional-API builders.

``tfau.models.get(name)`` returns a builder, ``tfau.models.list_models()`` lists them, and
``tfau.models.network(name)`` is a network's whole record (`Network`: builder, tiny kwargs,
Keras name, input names, pipeline); ``tfau.models.from_keras_name`` finds the record of a
loaded model.
"""

from tfau.models.registry import (
    Network,
    from_keras_name,
    get,
    list_models,
    network,
    register,
    tiny_kwargs,
)

# isort: split
from tfau.models.aunets import (
    AUNet,
    AUNetChannels,
    AUNetFlow,
    AUNetHorizontal,
    AUNetPiConv,
    AUNetPiFC6,
    AUNetPiFC7,
    AUNetsViewClassifier,
    HydraNet,
    MultiViewEnsemble,
    add_hydranet_head,
)
from tfau.models.drml import DRML, DRMLLCN, DRMLConvNet
from tfau.models.eacnet import FVGG, EACNet, ENet
from tfau.models.jaanet import JAANet
from tfau.models.pattnet import (
    PAttNet,
    PAttNetHolistic,
    PAttNetPerAU,
    PAttNetSinglePatch,
    PAttNetSoftmax,
)
