"""From a TFDS split to exactly what each network consumes, all inside ``tf.data``.

One pipeline per network family; each network's record (`tfau.models.network`) names the
family that feeds it and its fixed arguments (`get_config`):

======================  ==============================  ===============================
family (networks)       inputs                          preprocessing (train / test)
======================  ==============================  ===============================
``drml`` (DRML*)        image 170                       random / centre 170 crop of 200,
                                                        flip, minus the RGB mean
``jaanet``              image 176                       random / centre 176 crop of 200,
                                                        flip (landmarks permuted), [-1, 1];
                                                        targets ``au`` and ``landmarks``
``eacnet`` (FVGG)       image 224                       resize 224, VGG (Caffe) range
``eacnet`` (ENet,       image 224, landmarks (224 px)   the same; the maps and ROI centres
EACNet)                                                 are built in the graph from
                                                        ``landmarks``
``aunets`` (AUNet,      image 224                       resize 224, VGG range
HydraNet)
``aunets`` (fusions)    image and/or flow 224           DIS flow of (previous, current)
                                                        as an image, VGG range
``aunets_view``         image 224                       resize 224, VGG range; target
                                                        ``view``
``pattnet``             patches (9, 100, 100, 3)        nine patches placed by the eyes,
                                                        (x / 255 - 0.5) / 0.5
``pattnet_holistic``    image 200                       the face, (x / 255 - 0.5) / 0.5
======================  ==============================  ===============================

Every pipeline returns ``(inputs, targets)`` pairs for ``model.fit``: ``inputs`` a dict named
as the model's inputs (CONTRIBUTING.md), ``targets`` a dict keyed by the model's outputs
(``"au"``: float32 1 / 0 / -1 labels, and JAA-Net's ``"landmarks"``: the 49 points in the
cropped and flipped input's pixels, the target of ``tfau.losses.alignment_loss``, which takes
the inter-ocular distance from them; crops and flips keep it equal to the stored
``interocular_distance``).

Order of operations: (optional resampling, `balancing`) -> shuffle (training) -> enumerate ->
one parallel map (``num_parallel_calls=AUTOTUNE, deterministic=True``) that decodes, crops,
flips, normalises and builds the inputs -> batch -> prefetch. Random crops and flips use
stateless ops seeded with ``example_seed(seed, index)``: the same ``seed`` gives the same
stream. Load splits with `load_split` so that images stay JPEG bytes until the parallel map
(shuffle buffers then hold bytes, and decoding runs on every core).

Example:
    >>> import tfau.data
    >>> train = tfau.data.load_split("bp4d/aligned200", "part1+part2")
    >>> ds = tfau.data.jaanet_pipeline(train, training=True, batch_size=9, seed=0)
    >>> inputs, targets = next(iter(ds))
    >>> inputs["image"].shape, targets["landmarks"].shape
    (TensorShape([9, 176, 176, 3]), TensorShape([9, 49, 2]))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfau import models
from tfau.data import flow as flow_lib
from tfau.data import patches as patches_lib
from tfau.data import transforms

#: Default shuffle buffer (examples; they are JPEG bytes until the map).
SHUFFLE_BUFFER = 4096
#: Examples read by `image_mean` by default.
MEAN_EXAMPLES = 2048

_FUSION_INPUTS: dict[str | None, tuple[str, ...]] = {
    None: ("image",),
    "alone": ("flow",),
    "channels": ("image", "flow"),
    "horizontal": ("image", "flow"),
    "pi_conv": ("image", "flow"),
    "pi_fc6": ("image", "flow"),
    "pi_fc7": ("image", "flow"),
}


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """What one network consumes and how its examples are prepared.

    Args:
        input_size: side of the network's square input.
        crop: True: random crop (training) / centre crop (test) of ``input_size`` from the
            face resized to ``source_size``; False: the face resized to ``input_size``.
        source_size: side the stored face is resized to before cropping; None keeps it.
        flip: random horizontal flip at training time (landmarks flipped and permuted).
        normalization: value range, see `tfau.data.transforms.normalize_image`.
        inputs: the model inputs to produce, among ``"image"``, ``"landmarks"``, ``"flow"``,
            ``"patches"``.
        targets: the targets, among ``"au"``, ``"landmarks"`` and ``"view"`` (int32 camera
            index, the target of AUNets' view classifier).
        flow_preset: DIS preset of the flow inputs.
        max_flow_magnitude: flow magnitude drawn as 255 (None: each field's maximum).
        patch_size: side of PAttNet's output patches.
        patch_index: PAttNet's single-patch baseline: ``"image"`` is this one of the nine
            patches (0-8) instead of the face.
    """

    input_size: int
    crop: bool
    source_size: int | None = None
    flip: bool = False
    normalization: str = "symmetric"
    inputs: tuple[str, ...] = ("image",)
    targets: tuple[str, ...] = ("au",)
    flow_preset: str = "medium"
    max_flow_magnitude: float | None = None
    patch_size: int = patches_lib.PATTNET_OUTPUT_SIZE
    patch_index: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.input_size, int) or self.input_size < 1:
            raise ValueError(
                f"`input_size` must be a positive integer. Received: input_size={self.input_size!r}"
            )
        if self.normalization not in transforms.NORMALIZATIONS:
            raise ValueError(
                f"`normalization` must be one of {transforms.NORMALIZATIONS}. "
                f"Received: normalization={self.normalization!r}"
            )
        unknown = set(self.inputs) - {"image", "landmarks", "flow", "patches"}
        if unknown or not self.inputs:
            raise ValueError(
                '`inputs` must be a non-empty subset of ("image", "landmarks", "flow", '
                f'"patches"). Received: inputs={self.inputs!r}'
            )
        if set(self.targets) - {"au", "landmarks", "view"} or not self.targets:
            raise ValueError(
                '`targets` must be a non-empty subset of ("au", "landmarks", "view"). '
                f"Received: targets={self.targets!r}"
            )
        if self.patch_index is not None and self.patch_index not in range(9):
            raise ValueError(
                f"`patch_index` must be one of PAttNet's patches 0-8. "
                f"Received: patch_index={self.patch_index!r}"
            )
        if self.crop and self.source_size is not None and self.source_size < self.input_size:
            raise ValueError(
                "A crop needs `source_size` >= `input_size`. Received: "
                f"source_size={self.source_size}, input_size={self.input_size}"
            )


def load_split(
    name: str | Any,
    split: str,
    data_dir: str | None = None,
    read_config: Any | None = None,
) -> tf.data.Dataset:
    """A TFDS split of a tfau dataset with its images left as JPEG bytes, in a fixed order.

    The pipelines decode images in their parallel map; `collect_labels` then reads labels
    without decoding any image.

    Args:
        name: dataset and config, e.g. ``"bp4d/aligned200"`` or ``"synth_au/tiny"``, or a
            prepared ``tfds.core.DatasetBuilder`` (e.g. one made with a custom `FaceConfig`).
        split: e.g. ``"part1+part2"``.
        data_dir: TFDS data directory; None: TFDS's default (ignored for a builder).
        read_config: a ``tfds.ReadConfig``; defaults to TFDS's, with files read in order.

    Returns:
        The examples, images as ``tf.string`` scalars.

    Example:
        >>> train = load_split("synth_au/tiny", "part1+part2", data_dir="/tmp/tfds")
    """
    import tensorflow_datasets as tfds

    import tfau.datasets  # noqa: F401  (registers the builders)

    builder = tfds.builder(name, data_dir=data_dir) if isinstance(name, str) else name
    features = builder.info.features
    decoders = {
        key: tfds.decode.SkipDecoding()
        for key in ("image", "previous_image")
        if key in features and isinstance(features[key], tfds.features.Image)
    }
    return builder.as_dataset(
        split=split, shuffle_files=False, decoders=decoders, read_config=read_config
    )


def decode_image(image: tf.Tensor) -> tf.Tensor:
    """JPEG/PNG bytes -> ``(height, width, 3)`` uint8 (as TFDS decodes); pixels pass through."""
    if image.dtype == tf.string:
        decoded = tf.image.decode_image(image, channels=3, dtype=tf.uint8, expand_animations=False)
        return tf.ensure_shape(decoded, [None, None, 3])
    return image


def image_mean(dataset: tf.data.Dataset, max_examples: int | None = MEAN_EXAMPLES) -> np.ndarray:
    """The RGB mean (0-255) of a split's faces, DRML's mean for its mean subtraction.

    Args:
        dataset: TFDS examples (images decoded or bytes), e.g. the training split.
        max_examples: examples read (the split's first, in read order); None: all.

    Returns:
        float32 ``(3,)``.

    Example:
        >>> mean = image_mean(load_split("bp4d/aligned200", "part1+part2"))
    """
    if max_examples is not None:
        dataset = dataset.take(max_examples)
    means = dataset.map(
        lambda ex: tf.reduce_mean(tf.cast(decode_image(ex["image"]), tf.float64), axis=[0, 1]),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    sums = means.reduce(
        (tf.zeros([3], tf.float64), tf.constant(0, tf.int64)),
        lambda state, mean: (state[0] + mean, state[1] + 1),
    )
    total, count = sums[0].numpy(), int(sums[1].numpy())
    if count == 0:
        raise ValueError("The dataset is empty: no image to average.")
    return (total / count).astype(np.float32)


def _select_labels(labels: tf.Tensor, au_indices: Sequence[int] | None) -> tf.Tensor:
    labels = tf.cast(labels, tf.float32)
    if au_indices is None:
        return labels
    return tf.gather(labels, list(au_indices), axis=-1)


def _to_input_size(
    image: tf.Tensor, landmarks: tf.Tensor | None, config: PipelineConfig, crop_seed=None
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """The config's resize, or resize and crop (random with ``crop_seed``, else central)."""
    if not config.crop:
        return transforms.resize(image, landmarks, config.input_size)
    if config.source_size is not None:
        image, landmarks = transforms.resize(image, landmarks, config.source_size)
    if crop_seed is not None:
        return transforms.random_crop(image, landmarks, config.input_size, crop_seed)
    return transforms.centre_crop(image, landmarks, config.input_size)


def preprocess_example(
    example: dict[str, Any],
    config: PipelineConfig,
    *,
    training: bool,
    seed: tf.Tensor | None = None,
    mean: Sequence[float] | None = None,
    au_indices: Sequence[int] | None = None,
) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
    """One TFDS example -> ``(inputs, targets)`` of one network (eager or in ``Dataset.map``).

    Args:
        example: a TFDS example (``image`` bytes or uint8, ``landmarks``, ``au``; flow
            inputs also ``previous_image``, or ``flow``: the DIS flow field of the pair
            `flow_frame_pair` gives, float32 ``(input_size, input_size, 2)``, computed
            outside the graph; ``has_landmarks`` used when present).
        config: the network's `PipelineConfig`.
        training: random crop and flip (True) or centre crop (False).
        seed: ``(2,)`` stateless seed of this example (`transforms.example_seed`); required
            when ``training`` and the config crops or flips.
        mean: RGB mean for ``normalization="mean"``.
        au_indices: label columns to keep (e.g. one AU for an AUNet); None keeps all.

    Returns:
        ``(inputs, targets)`` dicts of tensors without a batch axis.
    """
    image = decode_image(example["image"])
    channels = 3
    wants_flow = "flow" in config.inputs
    # A flow field computed outside the graph (served exports: `flow_frames` then DIS).
    given_flow = wants_flow and "flow" in example
    if wants_flow and not given_flow:
        if "previous_image" not in example:
            raise ValueError(
                "Flow inputs need the previous frame: build the dataset with previous frames "
                '(the "unaligned224_pairs" configs of bp4d, disfa and synth_au) or add them with '
                "tfau.data.previous_frame_pairs. Received features: "
                f"{sorted(example)}"
            )
        image = tf.concat([image, decode_image(example["previous_image"])], axis=-1)
        channels = 6
    landmarks = tf.convert_to_tensor(example["landmarks"], tf.float32)
    random = training and (config.crop or config.flip)
    if random and seed is None:
        raise ValueError("Training with random crops or flips needs the example's `seed`.")
    crop_seed, flip_seed = transforms.split_seed(seed, 2) if random else (None, None)

    image, landmarks = _to_input_size(image, landmarks, config, crop_seed if training else None)
    if training and config.flip:
        image, landmarks = transforms.random_flip(image, landmarks, flip_seed)
    image = tf.ensure_shape(image, [config.input_size, config.input_size, channels])
    current = image[..., :3]

    inputs: dict[str, tf.Tensor] = {}
    if "patches" in config.inputs or config.patch_index is not None:
        boxes = patches_lib.pattnet_patch_boxes(landmarks)
        if "has_landmarks" in example:
            boxes = tf.where(
                tf.cast(example["has_landmarks"], tf.bool),
                boxes,
                patches_lib.template_boxes(config.input_size),
            )
        if config.patch_index is not None:
            boxes = boxes[config.patch_index : config.patch_index + 1]
        patches = transforms.normalize_image(
            patches_lib.crop_patches(current, boxes, config.patch_size), config.normalization
        )
        if config.patch_index is not None:
            current = patches[0]
        else:
            inputs["patches"] = patches
    if "image" in config.inputs:
        inputs["image"] = (
            current
            if config.patch_index is not None
            else transforms.normalize_image(current, config.normalization, mean)
        )
    if "landmarks" in config.inputs:
        inputs["landmarks"] = landmarks
    if wants_flow:
        if given_flow:
            flow = tf.ensure_shape(
                tf.convert_to_tensor(example["flow"], tf.float32),
                [config.input_size, config.input_size, 2],
            )
        else:
            # Float frames (resized) are rounded to uint8 by dis_flow.
            flow = flow_lib.optical_flow(image[..., 3:], current, preset=config.flow_preset)
        flow_image = flow_lib.flow_to_image(flow, config.max_flow_magnitude)
        inputs["flow"] = transforms.normalize_image(flow_image, config.normalization, mean)

    targets: dict[str, tf.Tensor] = {}
    if "au" in config.targets:
        targets["au"] = _select_labels(example["au"], au_indices)
    if "landmarks" in config.targets:
        targets["landmarks"] = landmarks
    if "view" in config.targets:
        targets["view"] = tf.cast(example["view"], tf.int32)
    return inputs, targets


def flow_frame_pair(
    image: tf.Tensor, previous: tf.Tensor, config: PipelineConfig
) -> tuple[tf.Tensor, tf.Tensor]:
    """The two frames whose optical flow `preprocess_example` computes at test time.

    The current and previous frames resized (or resized and centre-cropped) to the network's
    input together, as ``preprocess_example(..., training=False)`` does before OpenCV's DIS,
    rounded to uint8 as `tfau.data.flow.dis_flow` rounds them. Served exports
    (`tfau.export`) run this in the graph, compute the flow of the pair outside it
    (``dis_flow(previous, current, config.flow_preset)``) and pass it back as the example's
    ``flow``: the network then gets exactly the flow image of the training pipeline.

    Args:
        image: the current frame, ``(height, width, 3)`` uint8 or JPEG bytes.
        previous: the previous frame, same size.
        config: a flow network's `PipelineConfig`.

    Returns:
        ``(current, previous)``, uint8 ``(input_size, input_size, 3)`` each.
    """
    pair, _ = _to_input_size(
        tf.concat([decode_image(image), decode_image(previous)], axis=-1), None, config
    )
    pair = tf.cast(tf.round(tf.clip_by_value(tf.cast(pair, tf.float32), 0.0, 255.0)), tf.uint8)
    pair = tf.ensure_shape(pair, [config.input_size, config.input_size, 6])
    return pair[..., :3], pair[..., 3:]


def make_pipeline(
    dataset: tf.data.Dataset,
    config: PipelineConfig,
    *,
    training: bool,
    batch_size: int,
    seed: int = 0,
    shuffle_buffer: int = SHUFFLE_BUFFER,
    repeat: bool = False,
    drop_remainder: bool | None = None,
    mean: Sequence[float] | None = None,
    au_indices: Sequence[int] | None = None,
) -> tf.data.Dataset:
    """Shuffles, maps (in parallel, deterministic order), batches and prefetches.

    Args:
        dataset: TFDS examples (`load_split`, possibly resampled by `tfau.data.balancing`).
        config: what the network consumes.
        training: shuffle, random crops and flips; False: fixed order, centre crops.
        batch_size: examples per batch.
        seed: the pipeline seed (shuffle order and per-example augmentation). Defaults to 0.
        shuffle_buffer: shuffle buffer size when training. Defaults to 4096.
        repeat: repeat the data indefinitely (each pass reshuffled). Defaults to False.
        drop_remainder: drop a last incomplete batch; None: when training.
        mean: RGB mean for ``normalization="mean"``.
        au_indices: label columns to keep; None keeps all.

    Returns:
        A ``tf.data.Dataset`` of ``(inputs, targets)`` batches.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size!r}")
    if config.normalization == "mean" and mean is None:
        raise ValueError(
            "This pipeline subtracts the training images' mean: pass `mean` (e.g. "
            "tfau.data.image_mean(train_split))."
        )
    if training and shuffle_buffer > 1:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    mean_value = None if mean is None else tuple(float(m) for m in mean)

    def prepare(index: tf.Tensor, example: dict[str, Any]) -> Any:
        return preprocess_example(
            example,
            config,
            training=training,
            seed=transforms.example_seed(seed, index),
            mean=mean_value,
            au_indices=au_indices,
        )

    dataset = dataset.enumerate().map(
        prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    dataset = dataset.batch(
        batch_size, drop_remainder=training if drop_remainder is None else drop_remainder
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------------------------
# One pipeline per network


def drml_config(input_size: int = 170, source_size: int | None = 200) -> PipelineConfig:
    """DRML: random 170 crop of the 200 face and mirroring, mean subtraction (Sec. 4.1)."""
    return PipelineConfig(
        input_size=input_size,
        crop=True,
        source_size=source_size,
        flip=True,
        normalization="mean",
    )


def jaanet_config(input_size: int = 176, source_size: int | None = 200) -> PipelineConfig:
    """JAA-Net: random 176 crop of 200, flip with permuted landmarks, [-1, 1] (Sec. 4.1)."""
    return PipelineConfig(
        input_size=input_size,
        crop=True,
        source_size=source_size,
        flip=True,
        normalization="symmetric",
        targets=("au", "landmarks"),
    )


def eacnet_config(
    input_size: int = 224,
    landmarks: bool = True,
    flip: bool = False,
    normalization: str = "caffe",
) -> PipelineConfig:
    """EAC-Net family: the face resized to 224, VGG range; landmarks for E-Net / EAC-Net.

    The paper performs no augmentation ("we do not perform any preprocessing to the input
    images"): ``flip`` defaults to False. ``normalization``: ``"caffe"`` (the ImageNet
    weights' range) or ``"symmetric"`` ([-1, 1]) for a network trained from random weights.
    """
    return PipelineConfig(
        input_size=input_size,
        crop=False,
        flip=flip,
        normalization=normalization,
        inputs=("image", "landmarks") if landmarks else ("image",),
    )


def aunets_config(
    input_size: int = 224,
    fusion: str | None = None,
    flip: bool = False,
    flow_preset: str = "medium",
    max_flow_magnitude: float | None = None,
    normalization: str = "caffe",
) -> PipelineConfig:
    """AUNets: 224 faces, VGG range; the flow image for the flow fusions (Sec. 3.3, 4.1.5).

    Every tfau AUNet takes ``"image"`` and ``"flow"`` separately and fuses them in the graph
    (6 channels, 224 x 448 side by side, or two streams), so one pipeline serves them all.
    ``normalization``: ``"caffe"`` (the ImageNet weights' range), ``"symmetric"``
    ([-1, 1]) for a network trained from random weights, or ``"unit_imagenet_mean"``
    (``x / 255`` minus the RGB ImageNet mean) for the authors' released models
    (`tfau.convert.aunets`).
    """
    if fusion not in _FUSION_INPUTS:
        raise ValueError(
            f"`fusion` must be one of {tuple(_FUSION_INPUTS)}. Received: fusion={fusion!r}"
        )
    return PipelineConfig(
        input_size=input_size,
        crop=False,
        flip=flip,
        normalization=normalization,
        inputs=_FUSION_INPUTS[fusion],
        flow_preset=flow_preset,
        max_flow_magnitude=max_flow_magnitude,
    )


def pattnet_config(
    input_size: int = 200,
    patch_size: int = patches_lib.PATTNET_OUTPUT_SIZE,
    patch_index: int | None = None,
) -> PipelineConfig:
    """PAttNet: nine patches placed by the eyes, mean and std 0.5 (authors' code).

    ``input_size``: side the face is resized to before the patches are placed (200, the
    aligned face; the patches' scale comes from the eyes, so it hardly matters).
    ``patch_index``: the single-patch baseline of Table 3 (``"image"`` = that patch).
    """
    return PipelineConfig(
        input_size=input_size,
        crop=False,
        normalization="symmetric",
        inputs=("patches",) if patch_index is None else ("image",),
        patch_size=patch_size,
        patch_index=patch_index,
    )


def pattnet_holistic_config(input_size: int = 200) -> PipelineConfig:
    """PAttNet's holistic baseline (Table 3): the whole 200 x 200 face, mean and std 0.5."""
    return PipelineConfig(input_size=input_size, crop=False, normalization="symmetric")


def aunets_view_config(input_size: int = 224) -> PipelineConfig:
    """AUNets' view classifier: 224 faces, VGG range, target ``"view"`` (Sec. 3.4)."""
    return PipelineConfig(
        input_size=input_size, crop=False, normalization="caffe", targets=("view",)
    )


def _pipeline(config_fn: Callable[..., PipelineConfig], doc: str) -> Callable[..., Any]:
    def pipeline(
        dataset: tf.data.Dataset,
        *,
        training: bool,
        batch_size: int,
        seed: int = 0,
        shuffle_buffer: int = SHUFFLE_BUFFER,
        repeat: bool = False,
        drop_remainder: bool | None = None,
        mean: Sequence[float] | None = None,
        au_indices: Sequence[int] | None = None,
        **config_kwargs: Any,
    ) -> tf.data.Dataset:
        return make_pipeline(
            dataset,
            config_fn(**config_kwargs),
            training=training,
            batch_size=batch_size,
            seed=seed,
            shuffle_buffer=shuffle_buffer,
            repeat=repeat,
            drop_remainder=drop_remainder,
            mean=mean,
            au_indices=au_indices,
        )

    pipeline.__doc__ = (
        f"{doc}\n\n    Same as ``make_pipeline(dataset, {config_fn.__name__}(**config_kwargs), "
        "...)``; see `make_pipeline` for the other arguments.\n"
    )
    return pipeline


drml_pipeline = _pipeline(drml_config, drml_config.__doc__.splitlines()[0])
drml_pipeline.__name__ = drml_pipeline.__qualname__ = "drml_pipeline"
jaanet_pipeline = _pipeline(jaanet_config, jaanet_config.__doc__.splitlines()[0])
jaanet_pipeline.__name__ = jaanet_pipeline.__qualname__ = "jaanet_pipeline"
eacnet_pipeline = _pipeline(eacnet_config, eacnet_config.__doc__.splitlines()[0])
eacnet_pipeline.__name__ = eacnet_pipeline.__qualname__ = "eacnet_pipeline"
aunets_pipeline = _pipeline(aunets_config, aunets_config.__doc__.splitlines()[0])
aunets_pipeline.__name__ = aunets_pipeline.__qualname__ = "aunets_pipeline"
pattnet_pipeline = _pipeline(pattnet_config, pattnet_config.__doc__.splitlines()[0])
pattnet_pipeline.__name__ = pattnet_pipeline.__qualname__ = "pattnet_pipeline"

#: Pipeline family (`tfau.models.Network.pipeline`) -> its config function.
CONFIG_FUNCTIONS: dict[str, Callable[..., PipelineConfig]] = {
    "drml": drml_config,
    "jaanet": jaanet_config,
    "eacnet": eacnet_config,
    "aunets": aunets_config,
    "aunets_view": aunets_view_config,
    "pattnet": pattnet_config,
    "pattnet_holistic": pattnet_holistic_config,
}


def list_pipelines() -> list[str]:
    """The model names (``tfau.models`` registry names) whose record names a pipeline."""
    return [name for name in models.list_models() if models.network(name).pipeline is not None]


def get_config(name: str, **kwargs: Any) -> PipelineConfig:
    """The `PipelineConfig` of model ``name`` (e.g. ``"JAANet"``), with overrides.

    The model's `tfau.models.Network` record names the pipeline family and its fixed
    arguments (e.g. ``AUNetFlow``: ``aunets_config(fusion="alone")``).

    Args:
        name: a ``tfau.models`` registry name (`list_pipelines`).
        **kwargs: arguments of the network's config function (``input_size``, ...).

    Raises:
        KeyError: an unknown model, or one without a pipeline.

    Example:
        >>> get_config("DRML", input_size=74, source_size=84).input_size
        74
    """
    try:
        record = models.network(name)
    except KeyError as error:
        raise KeyError(f"No pipeline for model {name!r}: {error.args[0]}") from None
    if record.pipeline not in CONFIG_FUNCTIONS:
        raise KeyError(
            f"No pipeline for model {name!r} (its record names pipeline={record.pipeline!r}; "
            f"pipelines: {', '.join(CONFIG_FUNCTIONS)}). Pipelines exist for: "
            f"{', '.join(list_pipelines())}."
        )
    return CONFIG_FUNCTIONS[record.pipeline](**{**record.pipeline_kwargs, **kwargs})


def get_pipeline(name: str, **config_kwargs: Any) -> Callable[..., tf.data.Dataset]:
    """The pipeline function of model ``name``: ``fn(dataset, *, training, batch_size, ...)``.

    Args:
        name: a ``tfau.models`` registry name (`list_pipelines`).
        **config_kwargs: overrides of the network's config (``input_size``, ``fusion``...).

    Returns:
        A function with `make_pipeline`'s arguments after ``config``.

    Example:
        >>> ds = get_pipeline("JAANet")(train, training=True, batch_size=9)
    """
    config = get_config(name, **config_kwargs)

    def pipeline(dataset: tf.data.Dataset, **kwargs: Any) -> tf.data.Dataset:
        return make_pipeline(dataset, config, **kwargs)

    pipeline.__name__ = f"{name}_pipeline"
    pipeline.config = config  # type: ignore[attr-defined]
    return pipeline
