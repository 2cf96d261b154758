"""VGG weight hand-overs, shared by EAC-Net's and AUNets' recipes.

A tfau VGG stream ``p`` is the layers ``p_block<g>_conv<i>`` (`tfau.models.vgg.VGG_CONV_NAME`),
with fully connected ``p_fc6`` / ``p_fc7`` (`VGG_FC_LAYERS`) where the network has them;
EAC-Net's family (FVGG, E-Net, EAC-Net) ends with the AU head ``p_head_fc`` -> ``p_au_logits``
(`tfau.models.eacnet.AU_HEAD_LAYERS`).
`transfer_vgg_encoder` copies one model's stream into every stream of another; the
``"vgg_encoder"`` hand-over does it between two stages.

Example:
    >>> transfer_vgg_encoder(fvgg, enet, include_head=True)[:2]  # doctest: +SKIP
    ['enet_block1_conv1', 'enet_block1_conv2']
"""

from __future__ import annotations

import keras

from tfau.models.eacnet import AU_HEAD_LAYERS
from tfau.models.vgg import VGG_CONV_NAME, VGG_FC_LAYERS
from tfau.training.run import HandoverContext, register_handover


def vgg_stream_prefixes(model: keras.Model) -> tuple[str, ...]:
    """Every prefix ``p`` of a VGG stream (``p_block1_conv1`` ...) or fc head (``p_fc6``).

    Example:
        >>> vgg_stream_prefixes(HydraNet(aus=(1, 2)))  # doctest: +SKIP
        ('hydranet', 'hydranet_au1', 'hydranet_au2')
    """
    prefixes = []
    for layer in model.layers:
        head, _, block = layer.name.rpartition("_block")
        _, _, fc = layer.name.rpartition("_")
        if head and VGG_CONV_NAME.match(f"block{block}"):
            prefix = head
        elif fc in VGG_FC_LAYERS:
            prefix = layer.name.removesuffix(f"_{fc}")
        else:
            continue
        if prefix not in prefixes:
            prefixes.append(prefix)
    return tuple(prefixes)


def transfer_vgg_encoder(
    source: keras.Model,
    target: keras.Model,
    *,
    source_prefix: str | None = None,
    include_fc: bool = True,
    include_head: bool = False,
) -> list[str]:
    """Copies the VGG convolutions (and fc6 / fc7) of ``source`` into every stream of ``target``.

    Args:
        source: a tfau VGG-based model (FVGG, E-Net, the pretrained classifier ...).
        target: a tfau VGG-based model of the same depth and width.
        source_prefix: the source stream's prefix; None: the source's model name.
        include_fc: also copy fc6 / fc7 (the paper's EmoNet keeps all but the output layer).
        include_head: also copy EAC-Net's AU head (`AU_HEAD_LAYERS`): E-Net is FVGG plus
            weightless enhancing layers, so it starts as a complete copy of FVGG.

    Returns:
        The names of the target layers that were assigned.

    Raises:
        ValueError: a layer's shapes differ between the two models.

    Example:
        >>> transfer_vgg_encoder(fvgg, enet)[:2]  # doctest: +SKIP
        ['enet_block1_conv1', 'enet_block1_conv2']
    """
    from tfau.models.vgg import assign_vgg_weights, vgg_weights_from_model

    prefix = source_prefix or source.name
    weights = vgg_weights_from_model(source, prefix)
    if not include_fc:
        weights = {k: v for k, v in weights.items() if k not in VGG_FC_LAYERS}
    assigned = assign_vgg_weights(
        target, weights, prefixes=vgg_stream_prefixes(target), source=f"model {source.name!r}"
    )
    if include_head:
        for suffix in AU_HEAD_LAYERS:
            origin = source.get_layer(f"{prefix}_{suffix}")
            layer = target.get_layer(f"{target.name}_{suffix}")
            shapes = [tuple(w.shape) for w in origin.weights]
            if shapes != [tuple(w.shape) for w in layer.weights]:
                raise ValueError(
                    f"Cannot copy {origin.name} into {layer.name}: shapes {shapes} and "
                    f"{[tuple(w.shape) for w in layer.weights]}."
                )
            layer.set_weights(origin.get_weights())
            assigned.append(layer.name)
    return assigned


@register_handover("vgg_encoder")
def start_from_vgg_encoder(
    context: HandoverContext, include_fc: bool = True, include_head: bool = False
) -> keras.Model:
    """Hand-over ``"vgg_encoder"``: the stage's network, its VGG streams copied from the
    previous stage's model (`transfer_vgg_encoder`; EAC-Net's E-Net from FVGG with
    ``include_head=True``)."""
    model = context.build()
    transfer_vgg_encoder(
        context.previous_model(), model, include_fc=include_fc, include_head=include_head
    )
    return model
