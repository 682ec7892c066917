"""The glass box: every gate and state of every recurrent layer, and plots of them."""

from lstmkit.inspect.plot import plot_trace
from lstmkit.inspect.trace import trace, trace_layer

__all__ = ["plot_trace", "trace", "trace_layer"]
