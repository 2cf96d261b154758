"""The authors' released models as tfau models: ``.pth`` checkpoints -> ``.keras``.

Two of the five papers released networks trained on the real BP4D / DISFA: JAA-Net
(ZhiwenShao/PyTorch-JAANet, one snapshot folder of six module files per fold) and AUNets
(BCV-Uniandes/AUNets, one VGG-16 ``.pth`` per AU, fold and optical-flow option). Their
converters write a ``.keras`` file that loads with ``safe_mode=True`` and its ``model.json``
(AUs, face size, test-time preprocessing, provenance), so that ``tfau export`` and
``tfau predict`` take it as they take a model trained by tfau:

    tfau convert jaanet --snapshot_dir JAANet/BP4D_part3 --epoch 12 --out jaanet.keras
    tfau predict --model jaanet.keras --input talk.mp4 --out talk.csv

Reading ``.pth`` files needs torch: ``pip install "tfau[convert]"``. tfau never downloads
weights: the user passes the authors' files.
"""

from tfau.convert import aunets, jaanet
from tfau.convert.state_dict import (
    INSTALL_HINT,
    ConversionError,
    load_state_dict,
    save_state_dict,
)

__all__ = [
    "INSTALL_HINT",
    "ConversionError",
    "aunets",
    "jaanet",
    "load_state_dict",
    "save_state_dict",
]
