"""Plots of tfau: timelines, attention, saliency, occlusion, AU relations and F1 charts.

Every function writes one PNG through its own matplotlib ``Figure`` on an Agg canvas (no
pyplot global state) and returns the path; the numbers behind each figure come from a plain
function returning numpy, usable without plotting.

- Timeline (``tfau predict``'s CSV): `read_au_csv`, `AUTrack`, `median_smooth`,
  `plot_track`, `plot_timeline`.
- Attention: `plot_attention_maps`, `plot_eacnet_attention` (EAC-Net Fig. 3),
  `jaanet_attention`, `plot_jaanet_attention` (JAA-Net Fig. 4).
- Saliency and occlusion: `saliency_maps`, `plot_saliency` (DRML Fig. 4);
  `occlusion_positions`, `occlusion_drops`, `occlusion_heatmap`, `plot_occlusion`
  (AUNets Fig. 5).
- PAttNet: `patch_attention_matrix`, `plot_patch_attention`, `PATCH_NAMES` (its Fig. 4).
- AU relations: `jaccard_matrix`, `plot_cooccurrence` (PAttNet Fig. 3); `correlation_matrix`,
  `relation_tables`, `relation_distance`, `plot_relations` (DRML Fig. 5).
- F1: `plot_f1_vs_paper`, `read_f1_summary` (the chart of `tfau.training.results`).

Direction of imports: tfau.plots uses tfau.faces only; tfau.training (results) and the
command line call tfau.plots, never the other way round.
"""

from tfau.plots.attention import (
    jaanet_attention,
    plot_attention_maps,
    plot_eacnet_attention,
    plot_jaanet_attention,
)
from tfau.plots.f1 import plot_f1_vs_paper, read_f1_summary
from tfau.plots.patch_attention import PATCH_NAMES, patch_attention_matrix, plot_patch_attention
from tfau.plots.relations import (
    correlation_matrix,
    jaccard_matrix,
    plot_cooccurrence,
    plot_relations,
    relation_distance,
    relation_tables,
)
from tfau.plots.saliency import (
    occlusion_drops,
    occlusion_heatmap,
    occlusion_positions,
    plot_occlusion,
    plot_saliency,
    saliency_maps,
)
from tfau.plots.timeline import AUTrack, median_smooth, plot_timeline, plot_track, read_au_csv

__all__ = [
    "PATCH_NAMES",
    "AUTrack",
    "correlation_matrix",
    "jaanet_attention",
    "jaccard_matrix",
    "median_smooth",
    "occlusion_drops",
    "occlusion_heatmap",
    "occlusion_positions",
    "patch_attention_matrix",
    "plot_attention_maps",
    "plot_cooccurrence",
    "plot_eacnet_attention",
    "plot_f1_vs_paper",
    "plot_jaanet_attention",
    "plot_occlusion",
    "plot_patch_attention",
    "plot_relations",
    "plot_saliency",
    "plot_timeline",
    "plot_track",
    "read_au_csv",
    "read_f1_summary",
    "relation_distance",
    "relation_tables",
    "saliency_maps",
]
