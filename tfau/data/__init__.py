"""tf.data input pipelines: from a TFDS split to exactly what each network consumes.

- ``tfau.data.transforms``: per-example crops, flips (landmarks permuted), resizes and value
  ranges, stateless seeds (eager and ``Dataset.map``).
- ``tfau.data.patches``: PAttNet's nine patches placed by the eye centres.
- ``tfau.data.flow``: AUNets' optical-flow image (OpenCV DIS inside ``tf.data``) and the
  pairing of consecutive frames.
- ``tfau.data.balancing``: label passes, per-AU loss weights, EAC-Net's oversampling and
  DRML's per-video sampling.
- ``tfau.data.pipelines``: one pipeline per network family, ``get_pipeline(model_name)``
  (the family named by the network's ``tfau.models.network`` record).
- ``tfau.data.smoothing``: AUNets' temporal median filter of per-frame predictions
  (``median_smooth``, streaming ``TrackSmoother``), used by inference and the plots.

Not imported by ``import tfau`` (it pulls in OpenCV and, for `load_split`, TFDS): use
``import tfau.data``.
"""

from tfau.data.balancing import (
    EACNET_MINOR_AUS,
    LabelTable,
    apply_sampling,
    au_loss_weights,
    collect_labels,
    drml_video_sampling,
    eacnet_oversampling_counts,
    eacnet_oversampling_factors,
    example_key,
)
from tfau.data.flow import (
    dis_flow,
    dis_flow_batch,
    flow_image,
    flow_to_image,
    optical_flow,
    previous_frame_pairs,
)
from tfau.data.patches import (
    PATTNET_CENTRES_512,
    crop_patches,
    patch_boxes_from_eyes,
    pattnet_patch_boxes,
    pattnet_patches,
    template_boxes,
)
from tfau.data.pipelines import (
    CONFIG_FUNCTIONS,
    PipelineConfig,
    aunets_config,
    aunets_pipeline,
    aunets_view_config,
    decode_image,
    drml_config,
    drml_pipeline,
    eacnet_config,
    eacnet_pipeline,
    flow_frame_pair,
    get_config,
    get_pipeline,
    image_mean,
    jaanet_config,
    jaanet_pipeline,
    list_pipelines,
    load_split,
    make_pipeline,
    pattnet_config,
    pattnet_holistic_config,
    pattnet_pipeline,
    preprocess_example,
)
from tfau.data.smoothing import TrackSmoother, median_smooth
from tfau.data.transforms import (
    VGG_BGR_MEAN,
    centre_crop,
    crop,
    example_seed,
    flip_horizontal,
    normalize_image,
    random_crop,
    random_flip,
    resize,
    split_seed,
)

__all__ = [
    "CONFIG_FUNCTIONS",
    "EACNET_MINOR_AUS",
    "PATTNET_CENTRES_512",
    "VGG_BGR_MEAN",
    "LabelTable",
    "PipelineConfig",
    "TrackSmoother",
    "apply_sampling",
    "au_loss_weights",
    "aunets_config",
    "aunets_pipeline",
    "aunets_view_config",
    "centre_crop",
    "collect_labels",
    "crop",
    "crop_patches",
    "decode_image",
    "dis_flow",
    "dis_flow_batch",
    "drml_config",
    "drml_pipeline",
    "drml_video_sampling",
    "eacnet_config",
    "eacnet_oversampling_counts",
    "eacnet_oversampling_factors",
    "eacnet_pipeline",
    "example_key",
    "example_seed",
    "flip_horizontal",
    "flow_frame_pair",
    "flow_image",
    "flow_to_image",
    "get_config",
    "get_pipeline",
    "image_mean",
    "jaanet_config",
    "jaanet_pipeline",
    "list_pipelines",
    "load_split",
    "make_pipeline",
    "median_smooth",
    "normalize_image",
    "optical_flow",
    "patch_boxes_from_eyes",
    "pattnet_config",
    "pattnet_holistic_config",
    "pattnet_patch_boxes",
    "pattnet_patches",
    "pattnet_pipeline",
    "preprocess_example",
    "previous_frame_pairs",
    "random_crop",
    "random_flip",
    "resize",
    "split_seed",
    "template_boxes",
]
