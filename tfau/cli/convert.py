"""``tfau convert``: the authors' released PyTorch models -> a tfau ``.keras`` + ``model.json``.

Example:
    tfau convert jaanet --snapshot_dir JAANet/BP4D_part3 --epoch 12 --dataset bp4d \\
        --out models/jaanet_bp4d.keras
    tfau convert aunet --checkpoint fold_0/AU12/OF_Horizontal/emotionnet/02_1800.pth --au 12 \\
        --of_option Horizontal --out models/aunet_au12.keras
    tfau convert hydranet --checkpoint AU1.pth --checkpoint AU2.pth --au 1 --au 2 \\
        --out models/hydranet.keras

The written model loads with ``keras.saving.load_model(path, safe_mode=True)``; ``tfau export``
and ``tfau predict`` read its ``model.json`` and need no further option. Reading ``.pth`` files
needs torch: ``pip install "tfau[convert]"``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Adds the ``convert`` verb to the ``tfau`` command line."""
    parser = subparsers.add_parser(
        "convert",
        help="convert the authors' released checkpoints (JAA-Net, AUNets) to .keras",
        description=(
            "Converts the authors' released PyTorch checkpoints into a tfau .keras model and "
            "its model.json (AUs, face size, test-time preprocessing, provenance), computing "
            'what the authors\' code computes. Needs torch: pip install "tfau[convert]".'
        ),
    )
    networks = parser.add_subparsers(dest="network", metavar="<network>", required=True)

    jaanet = networks.add_parser(
        "jaanet",
        help="JAA-Net (ZhiwenShao/PyTorch-JAANet): a snapshot folder of six module files",
        description=(
            "Reads region_learning_<N>.pth, align_net_<N>.pth, local_attention_refine_<N>.pth, "
            "local_au_net_<N>.pth, global_au_feat_<N>.pth and au_net_<N>.pth (v1 or v2)."
        ),
    )
    jaanet.add_argument("--snapshot_dir", required=True, help="folder of the six module files")
    jaanet.add_argument(
        "--epoch", type=int, default=None, help="epoch N of the files (default: the last one)"
    )
    jaanet.add_argument(
        "--dataset",
        choices=("bp4d", "disfa"),
        default="bp4d",
        help="what the model was trained on: its AUs (12 BP4D or 8 DISFA; default bp4d)",
    )
    jaanet.add_argument("--out", required=True, help="the .keras file to write")
    jaanet.set_defaults(func=_run)

    for name, help_text in (
        ("aunet", "one AUNet (BCV-Uniandes/AUNets): one AU, fold and optical-flow option"),
        ("hydranet", "AUNets' HydraNet: several per-AU checkpoints that share one encoder"),
    ):
        sub = networks.add_parser(name, help=help_text, description=help_text)
        if name == "aunet":
            sub.add_argument("--checkpoint", required=True, help="the AU's .pth file")
            sub.add_argument("--au", type=int, required=True, help="the AU it detects")
            sub.add_argument(
                "--of_option",
                default="None",
                choices=("None", "Alone", "Channels", "Horizontal", "Conv", "FC6", "FC7"),
                help="its optical-flow option (the OF_<option> folder; default None: RGB)",
            )
        else:
            sub.add_argument(
                "--checkpoint",
                action="append",
                required=True,
                help="a per-AU .pth (repeat, in the order of --au)",
            )
            sub.add_argument(
                "--au", type=int, action="append", required=True, help="its AU (repeat)"
            )
        sub.add_argument("--out", required=True, help="the .keras file to write")
        sub.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        import tfau.convert as convert
    except ImportError as error:  # pragma: no cover - tfau.convert imports only numpy/keras
        print(f"tfau convert: {error}", file=sys.stderr)
        return 2
    try:
        if args.network == "jaanet":
            model = convert.jaanet.convert(
                args.snapshot_dir, args.out, epoch=args.epoch, dataset=args.dataset
            )
        elif args.network == "aunet":
            model = convert.aunets.convert(
                args.checkpoint, args.out, au=args.au, of_option=args.of_option
            )
        else:
            model = convert.aunets.convert_hydranet(args.checkpoint, args.out, aus=args.au)
    except ImportError as error:
        print(f"tfau convert: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as error:
        print(f"tfau convert {args.network}: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.out} ({model.name}, {model.count_params():,} parameters) and its model.json"
    )
    return 0
