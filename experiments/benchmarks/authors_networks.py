"""The authors' networks in PyTorch, for the side-by-side speed benchmark (``models.py``).

``authors_network(name, authors_dir)`` returns an ``AuthorsNetwork`` whose ``train_step`` and
``infer`` run one training step (forward, the authors' loss, backward, their optimizer's
update) or one inference call on inputs made once per batch size. Their code stays in
``authors_dir`` (never copied into tfau); what is built from where:

- JAA-Net: the authors' modules and losses, imported from ``<authors_dir>/PyTorch-JAANet``
  (``network.py``, ``util.py``) and chained as their ``train_JAAv1.py`` / ``test_JAAv1.py``
  do; SGD with Nesterov momentum 0.9 and weight decay 5e-4 (their defaults).
- AUNet: their ``models/vgg16.py`` ``Classifier`` from ``<authors_dir>/AUNets`` (VGG-16, RGB
  only, one AU), ``BCEWithLogitsLoss`` and Adam (0.5, 0.999) as their ``solver.py``.
- DRML: the authors' code is Caffe (``prototxt/DRML.prototxt`` in ``<authors_dir>/DRML``,
  whose ``Box``, ``Splice`` and ``Batch`` layers are C++/CUDA in their Caffe fork). Built here
  as the nearest PyTorch module of that prototxt, read from the file: conv1 11 x 11 (32);
  the 8 x 8 grid of 20 x 20 boxes cut out one by one, each through its own parameter-free
  BatchNorm (``Batch``, all lr_mult 0), ReLU and 3 x 3 / pad 1 convolution, spliced back and
  added to conv1; ReLU, max-pool 2, LRN 5; four convolutions (8, 8, 6 / 2, 5; 16 each);
  fc 4096, 2048 with dropout 0.5, fc 12; sigmoid cross-entropy; SGD momentum 0.9, weight
  decay 5e-4 (``solver.prototxt``).
- PAttNet: the public repository (``<authors_dir>/PAttNet``) holds the training loop
  (``core/train_AU.py``: ``encoder(9 patches)``, ``attn``, ``classifier``, weighted BCE with
  logits, SGD momentum 0.9) but not the module definitions. Built here from the paper and
  that loop: nine encoders of 3 x [conv 5 x 5 (32, 64, 64) -> ReLU -> BatchNorm -> max-pool
  2] -> fc 60, sigmoid patch attention (60 x 60, context 60), ReLU -> fc 1 (one AU).

Images are NCHW float32 with values in [-1, 1]; the weights are PyTorch's default
initialisation and the learning rate is the caller's (speed depends on neither).
"""

from __future__ import annotations

import importlib
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional

#: Which folder of ``authors_dir`` holds each network's code, and what was built from it.
SOURCES = {
    "JAANet": ("PyTorch-JAANet", "authors' PyTorch modules and losses"),
    "AUNet": ("AUNets", "authors' PyTorch Classifier (VGG-16), loss and Adam"),
    "DRML": ("DRML", "PyTorch port of the authors' Caffe prototxt (their code is Caffe)"),
    "PAttNet": (
        "PAttNet",
        "PyTorch module from the paper and their train loop (no modules public)",
    ),
}


@dataclass
class AuthorsNetwork:
    """A network's training step and inference, each a call on prepared inputs."""

    source: str
    make_train_step: Callable[[int], Callable[[], object]]
    make_infer: Callable[[int], Callable[[], object]]
    modules: list = field(default_factory=list)


def _train_mode(modules, training: bool) -> None:
    for module in modules:
        module.train(training)


def _images(batch: int, *shape: int) -> torch.Tensor:
    return torch.rand(batch, *shape) * 2.0 - 1.0


def _runner(modules, forward, loss_fn, optimizer, make_inputs):
    """(make_train_step, make_infer) around a forward function of prepared inputs."""

    def make_train_step(batch: int):
        inputs = make_inputs(batch)

        def step():
            _train_mode(modules, True)
            optimizer.zero_grad()
            loss = loss_fn(forward(inputs), inputs)
            loss.backward()
            optimizer.step()
            return loss.item()

        return step

    def make_infer(batch: int):
        inputs = make_inputs(batch)

        def infer():
            _train_mode(modules, False)
            with torch.no_grad():
                return forward(inputs)

        return infer

    return make_train_step, make_infer


def _import_from(folder: Path, *names: str):
    if not folder.is_dir():
        raise FileNotFoundError(f"Expected the authors' code in {folder}. It does not exist.")
    sys.path.insert(0, str(folder))
    try:
        return [importlib.import_module(name) for name in names]
    finally:
        sys.path.remove(str(folder))


def jaanet(folder: Path, learning_rate: float, num_aus: int = 12) -> AuthorsNetwork:
    network, util = _import_from(folder, "network", "util")
    crop, unit = 176, 8
    region_learning = network.HMRegionLearning(input_dim=3, unit_dim=unit)
    align_net = network.AlignNet(
        crop_size=crop, map_size=44, au_num=num_aus, land_num=49, input_dim=unit * 8
    )
    refine = network.LocalAttentionRefine(au_num=num_aus, unit_dim=unit)
    local_au_net = network.LocalAUNetv1(au_num=num_aus, input_dim=unit * 8, unit_dim=unit)
    global_au_feat = network.HLFeatExtractor(input_dim=unit * 8, unit_dim=unit)
    au_net = network.AUNet(au_num=num_aus, input_dim=12000, unit_dim=unit)
    modules = [region_learning, align_net, refine, local_au_net, global_au_feat, au_net]
    optimizer = torch.optim.SGD(
        itertools.chain(*(m.parameters() for m in modules)),
        lr=learning_rate,
        momentum=0.9,
        weight_decay=5e-4,
        nesterov=True,
    )
    au_weight = torch.ones(num_aus)

    def make_inputs(batch):
        return {
            "image": _images(batch, 3, crop, crop),
            "land": torch.rand(batch, 98) * 96 + 40,
            "biocular": torch.full((batch,), 60.0),
            "au": torch.randint(0, 2, (batch, num_aus)),
        }

    def forward(inputs):  # train_JAAv1.py / util.AU_detection_evalv1
        region_feat = region_learning(inputs["image"])
        align_feat, align_output, aus_map = align_net(region_feat)
        output_aus_map = refine(aus_map.detach())
        local_feat = local_au_net(region_feat, output_aus_map)
        global_feat = global_au_feat(region_feat)
        aus_output = au_net(torch.cat((align_feat, global_feat, local_feat), 1))
        return aus_output, align_output, aus_map, output_aus_map

    def loss_fn(outputs, inputs):  # train_JAAv1.py with its default lambdas
        aus_output, align_output, aus_map, output_aus_map = outputs
        loss_au = util.au_softmax_loss(aus_output, inputs["au"], weight=au_weight)
        loss_au = loss_au + util.au_dice_loss(aus_output, inputs["au"], weight=au_weight)
        loss_land = util.landmark_loss(align_output, inputs["land"], inputs["biocular"])
        resized = functional.interpolate(aus_map, size=output_aus_map.size(2))
        loss_refine = util.attention_refine_loss(output_aus_map, resized.detach())
        return loss_au + 0.5 * loss_land + (0.0002 / 2) * loss_refine

    return AuthorsNetwork(
        SOURCES["JAANet"][1], *_runner(modules, forward, loss_fn, optimizer, make_inputs), modules
    )


def aunet(folder: Path, learning_rate: float) -> AuthorsNetwork:
    (vgg16,) = _import_from(folder, "models.vgg16")  # their package: models/vgg16.py
    net = vgg16.Classifier(pretrained="random", OF_option="None")
    optimizer = torch.optim.Adam(net.parameters(), learning_rate, [0.5, 0.999])
    criterion = nn.BCEWithLogitsLoss()

    def make_inputs(batch):
        return {"image": _images(batch, 3, 224, 224), "label": torch.randint(0, 2, (batch, 1))}

    def loss_fn(logits, inputs):
        return criterion(logits, inputs["label"].float())

    return AuthorsNetwork(
        SOURCES["AUNet"][1],
        *_runner([net], lambda inputs: net(inputs["image"]), loss_fn, optimizer, make_inputs),
        [net],
    )


class DRMLFromPrototxt(nn.Module):
    """DRML.prototxt as a PyTorch module, the boxes handled one by one as their Caffe net."""

    def __init__(self, num_aus: int = 12, grid: int = 8, box: int = 20) -> None:
        super().__init__()
        self.grid, self.box = grid, box
        self.conv1 = nn.Conv2d(3, 32, 11)
        self.batch = nn.ModuleList(nn.BatchNorm2d(32, affine=False) for _ in range(grid**2))
        self.box_convs = nn.ModuleList(nn.Conv2d(32, 32, 3, padding=1) for _ in range(grid**2))
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(32, 16, 8),
                nn.Conv2d(16, 16, 8),
                nn.Conv2d(16, 16, 6, 2),
                nn.Conv2d(16, 16, 5),
            ]
        )
        self.fc6 = nn.Linear(27 * 27 * 16, 4096)
        self.fc7 = nn.Linear(4096, 2048)
        self.fc8 = nn.Linear(2048, num_aus)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        conv1 = self.conv1(x)
        rows = []
        for i in range(self.grid):  # Box -> Batch -> ReLU -> Convolution per box -> Splice
            row = []
            for j in range(self.grid):
                index = i * self.grid + j
                box = conv1[
                    ..., i * self.box : (i + 1) * self.box, j * self.box : (j + 1) * self.box
                ]
                row.append(self.box_convs[index](functional.relu(self.batch[index](box))))
            rows.append(torch.cat(row, dim=3))
        x = functional.relu(conv1 + torch.cat(rows, dim=2))  # Eltwise SUM, relu_res
        x = self.norm1(functional.max_pool2d(x, 2, 2))
        for conv in self.convs:
            x = functional.relu(conv(x))
        x = self.dropout(functional.relu(self.fc6(x.flatten(1))))
        x = self.dropout(functional.relu(self.fc7(x)))
        return self.fc8(x)


def drml(folder: Path, learning_rate: float, num_aus: int = 12) -> AuthorsNetwork:
    if not (folder / "prototxt" / "DRML.prototxt").is_file():
        raise FileNotFoundError(f"Expected the authors' prototxt/DRML.prototxt in {folder}.")
    net = DRMLFromPrototxt(num_aus)
    optimizer = torch.optim.SGD(net.parameters(), lr=learning_rate, momentum=0.9, weight_decay=5e-4)
    criterion = nn.BCEWithLogitsLoss()  # MultiSigmoidCrossEntropyLoss

    def make_inputs(batch):
        return {
            "image": _images(batch, 3, 170, 170),
            "label": torch.randint(0, 2, (batch, num_aus)).float(),
        }

    return AuthorsNetwork(
        SOURCES["DRML"][1],
        *_runner(
            [net],
            lambda inputs: net(inputs["image"]),
            lambda logits, inputs: criterion(logits, inputs["label"]),
            optimizer,
            make_inputs,
        ),
        [net],
    )


class PAttNetFromPaper(nn.Module):
    """PAttNet for one AU: nine patch encoders, sigmoid patch attention, ReLU -> fc."""

    def __init__(self, patches: int = 9, side: int = 100, encoding: int = 60) -> None:
        super().__init__()
        for _ in range(3):  # valid 5 x 5 convolution, 2 x 2 max-pool
            side = (side - 4) // 2
        flat = 64 * side * side

        def encoder():
            layers = []
            for cin, cout in ((3, 32), (32, 64), (64, 64)):
                layers += [
                    nn.Conv2d(cin, cout, 5),
                    nn.ReLU(),
                    nn.BatchNorm2d(cout),
                    nn.MaxPool2d(2),
                ]
            return nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, encoding))

        self.encoders = nn.ModuleList(encoder() for _ in range(patches))
        self.attention = nn.Linear(encoding, encoding)
        self.context = nn.Parameter(torch.randn(encoding) * 0.1)
        self.classifier = nn.Linear(encoding, 1)

    def forward(self, *patches):
        encoded = torch.stack([e(p) for e, p in zip(self.encoders, patches, strict=True)], 1)
        alpha = torch.sigmoid(torch.tanh(self.attention(encoded)) @ self.context)
        face = (alpha.unsqueeze(-1) * encoded).sum(1)
        return self.classifier(functional.relu(face))


def pattnet(folder: Path, learning_rate: float) -> AuthorsNetwork:
    if not (folder / "core" / "train_AU.py").is_file():
        raise FileNotFoundError(f"Expected the authors' core/train_AU.py in {folder}.")
    net = PAttNetFromPaper()
    optimizer = torch.optim.SGD(net.parameters(), lr=learning_rate, momentum=0.9)
    criterion = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0]))

    def make_inputs(batch):
        return {
            "patches": [_images(batch, 3, 100, 100) for _ in range(9)],
            "label": torch.randint(0, 2, (batch, 1)).float(),
        }

    return AuthorsNetwork(
        SOURCES["PAttNet"][1],
        *_runner(
            [net],
            lambda inputs: net(*inputs["patches"]),
            lambda logits, inputs: criterion(logits, inputs["label"]),
            optimizer,
            make_inputs,
        ),
        [net],
    )


_BUILDERS = {"JAANet": jaanet, "AUNet": aunet, "DRML": drml, "PAttNet": pattnet}


def authors_network(name: str, authors_dir: Path, learning_rate: float) -> AuthorsNetwork | None:
    """The authors' network for a tfau registry name, or None where none is benchmarked."""
    if name not in _BUILDERS:
        return None
    torch.manual_seed(0)
    return _BUILDERS[name](Path(authors_dir) / SOURCES[name][0], learning_rate)
