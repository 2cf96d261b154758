"""Keras layers for the building blocks of DRML, EAC-Net, AUNets, JAA-Net and PAttNet.

Every layer is registered for serialization under the package name ``tfau``.
"""

# Region learning (DRML section 3.2, JAA-Net section 3.1).
from tfau.layers.hierarchical_multi_scale_region import HierarchicalMultiScaleRegion
from tfau.layers.locally_connected import LocallyConnected2D
from tfau.layers.region_layer import RegionLayer

# Attention, cropping and normalisation (EAC-Net, JAA-Net, PAttNet).

# Landmark-derived attention maps (tfau.faces inside the graph).
