"""Keras 2's `keras.utils.vis_utils` path (`from keras.utils.vis_utils import plot_model`)."""

from lstmkit.utils.model_visualization import model_to_dot, plot_model

__all__ = ["model_to_dot", "plot_model"]
