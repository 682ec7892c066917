"""`lstmkit demo`: the seed-000 demonstration of return_sequences and return_state."""

from __future__ import annotations

import numpy as np

from lstmkit import utils
from lstmkit.layers import LSTM, Input
from lstmkit.models import Model

EXPLAIN = {
    (False, False): "the hidden state h of the last time step only: shape (batch, units).",
    (True, False): "the hidden state h at every time step: shape (batch, time, units).",
    (False, True): "[output, state_h, state_c]: the last h (twice: output and state_h are the "
    "same values) and the last cell state c.",
    (True, True): "[sequence of h, last h, last c]: every hidden state, then the final h and c "
    "(to initialise another LSTM, e.g. an encoder-decoder).",
}


def demo(seed: int = 0) -> None:
    """Print the four return_sequences x return_state outputs of LSTM(1) on [0.1, 0.2, 0.3]."""
    data = np.array([0.1, 0.2, 0.3]).reshape((1, 3, 1))
    print("LSTM(1) on the input [0.1, 0.2, 0.3], shaped (batch=1, time=3, features=1):\n")
    for return_sequences in (False, True):
        for return_state in (False, True):
            utils.set_random_seed(seed)  # the same weights for all four
            x = Input(shape=(3, 1))
            y = LSTM(1, return_sequences=return_sequences, return_state=return_state)(x)
            out = Model(inputs=x, outputs=y).predict(data, verbose=0)
            print(f"return_sequences={return_sequences}, return_state={return_state}:")
            print("  " + EXPLAIN[(return_sequences, return_state)])
            for line in str(
                out if not isinstance(out, list) else [np.round(o, 6) for o in out]
            ).splitlines():
                print("    " + line)
            print()
