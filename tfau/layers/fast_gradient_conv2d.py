"""Keras' 2D convolution with a kernel gradient that trains fast on CPUs without oneDNN."""

import keras
import tensorflow as tf

from tfau.layers import _patches


@keras.saving.register_keras_serializable(package="tfau")
class FastGradientConv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` whose kernel gradient is a forward convolution where that is
    faster.

    Same arguments, weights, outputs and gradients as ``keras.layers.Conv2D`` (to float32
    rounding); only how the kernel gradient is computed differs. TensorFlow's CPU kernels
    without oneDNN (Eigen: what TensorFlow runs on CPUs without AVX-512 VNNI / BF16, e.g.
    AMD EPYC Zen 3, or with ``TF_ENABLE_ONEDNN_OPTS=0``) compute the kernel gradient of a
    large kernel slowly: DRML's 8 x 8 convolutions take 2.6-3x longer as
    ``Conv2DBackpropFilter`` than as the equivalent forward convolution this layer runs
    (``x`` with batch and channels swapped, by the output gradient as the kernel, dilated by
    the stride). With oneDNN or on a GPU, and for what the forward-convolution form does not
    cover (``padding="same"``, dilation, groups, ``channels_first``, unequal strides), the
    layer is ``Conv2D`` itself.

    Args:
        *args, **kwargs: those of ``keras.layers.Conv2D``.

    Example:

    ```python
    import numpy as np
    from tfau.layers import FastGradientConv2D

    images = np.random.rand(2, 90, 90, 3).astype("float32")
    print(FastGradientConv2D(32, 11)(images).shape)  # (2, 80, 80, 32)
    ```
    """

    def convolution_op(self, inputs, kernel):
        if (
            self.padding != "valid"
            or self.data_format != "channels_last"
            or self.groups != 1
            or tuple(self.dilation_rate) != (1, 1)
            or self.strides[0] != self.strides[1]
            or _patches.native_filter_gradient_is_fast()
        ):
            return super().convolution_op(inputs, kernel)
        # The compute-dtype value of the kernel (autocast under mixed precision).
        return _patches.valid_conv2d(inputs, tf.convert_to_tensor(kernel), self.strides[0])
