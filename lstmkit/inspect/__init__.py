"""The glass box: every gate and state of every recurrent layer, and plots of them."""

from lstmkit.inspect.plot import plot_trace, saturation
from lstmkit.inspect.trace import trace

__all__ = ["plot_trace", "saturation", "trace"]
