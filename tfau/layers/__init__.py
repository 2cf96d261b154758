"""Keras layers for the building blocks of DRML, EAC-Net, AUNets, JAA-Net and PAttNet.

Every layer is registered for serialization under the package name ``tfau``.
"""

# Region learning (DRML section 3.2, JAA-Net section 3.1).
from tfau.layers.hierarchical_multi_scale_region import HierarchicalMultiScaleRegion
from tfau.layers.locally_connected import LocallyConnected2D
from tfau.layers.region_layer import RegionLayer

# isort: split
# Attention, cropping and normalisation (EAC-Net, JAA-Net, PAttNet).
from tfau.layers.attention_enhance import AttentionEnhance
from tfau.layers.attention_refinement import AttentionRefinement
from tfau.layers.conv_relu_batch_norm_pool import ConvReLUBatchNormPool
from tfau.layers.fast_gradient_conv2d import FastGradientConv2D
from tfau.layers.gradient_scale import GradientScale
from tfau.layers.local_au_branches import LocalAUBranches
from tfau.layers.local_response_normalization import LocalResponseNormalization
from tfau.layers.nearest_resize import NearestResize
from tfau.layers.region_conv2d import RegionConv2D
from tfau.layers.region_dense import RegionDense
from tfau.layers.roi_crop import ROICrop
from tfau.layers.sigmoid_patch_attention import SigmoidPatchAttention

# isort: split
# Landmark-derived attention maps (tfau.faces inside the graph).
from tfau.layers.eacnet_roi_centres import EACNetROICentres
from tfau.layers.landmark_attention import LandmarkAttention
