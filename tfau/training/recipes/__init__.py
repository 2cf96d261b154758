"""The papers' training recipes: their stage lists and the weight hand-overs between stages.

One module per paper family, each holding only that paper's facts; the stages themselves run
through the one generic loop of `tfau.training.run` (`run_stages`):

- `jaanet`: JAA-Net's three stages (`JAANET_STAGES`) and the BP4D -> DISFA start by AU
  identity (`transfer_au_branches`, hand-over ``"jaanet_au_branches"``).
- `eacnet`: FVGG -> E-Net -> EAC-Net (`eacnet_stages`, hand-over ``"eacnet_on_enet"``) and
  the DISFA protocol (fc features + per-AU linear regression, `linear_transfer_fold`).
- `aunets`: HydraNet's heads one at a time (`hydranet_stages`, hand-over
  ``"hydranet_head"``) and the encoder's domain adaptation (`pretrain_vgg_classifier`,
  hand-over ``"vgg_classifier_pretraining"``).
- `vgg`: the VGG weight copy both EAC-Net and AUNets hand over with (`transfer_vgg_encoder`,
  hand-over ``"vgg_encoder"``).

Importing this package registers the hand-overs a `Stage`'s ``init`` names.
"""

from tfau.training.recipes import aunets, eacnet, jaanet, vgg

__all__ = ["aunets", "eacnet", "jaanet", "vgg"]
