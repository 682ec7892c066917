// How a time loop's work is shared between the pool's threads, for the LSTM's and the GRU's
// forward and backward (lstm_cpu.cc, gru_cpu.h; included after packed_gemm.h). Rows of the batch
// are independent, so when each thread has enough rows and the packed weights fit its L2, each
// thread runs its rows through the whole loop and no step waits for another thread; otherwise
// every step's units (panels) are split and the threads meet at each step. Either way every sum
// is taken in the same order, so the numbers do not depend on the thread count.
#pragma once

#include <algorithm>
#include <vector>

// The forward loop over T steps of B rows and `panels` panels of packed weights (`packed_bytes`
// of them): step(t, b0, b1, p0, p1, part) runs rows [b0, b1) and panels [p0, p1) of step t, with
// `part` room for the sums of four vectors per row between K chunks.
template <class Step>
static void forward_loop(int B, int T, int panels, double step_flops, double packed_bytes,
                         const Step& step) {
  int n = threads_for(step_flops * T);
  if (split_batch(n, B, packed_bytes)) {  // each thread its rows through the whole loop
    g_pool.run(n, [&](int i) {
      const int b0 = rows_at(B, n, i), b1 = rows_at(B, n, i + 1);
      std::vector<vec> part(size_t(b1 - b0) * 4);
      for (int t = 0; t < T; ++t) step(t, b0, b1, 0, panels, part.data());
    });
    return;
  }
  n = std::min(threads_for(step_flops), panels);  // each step's panels split (n may be 1)
  std::vector<vec> part(size_t(B) * 4 * n);
  for (int t = 0; t < T; ++t) {
    g_pool.run(n, [&](int i) {
      step(t, 0, B, panels * i / n, panels * (i + 1) / n, part.data() + size_t(B) * 4 * i);
    });
  }
}

// The reverse loop over T steps of B rows and u units, with Ut the packed transposed recurrent
// kernel: gates_back(t, b0, b1, j0, j1) turns step t's incoming gradients into its gates'
// (rows [b0, b1), units [j0, j1)), then dh_acc(t, b0, b1, p0, p1) adds their product with U^T
// (panels [p0, p1) of Ut) to the carried state's gradient.
template <class Gates, class Acc>
static void backward_loop(int B, int T, int u, const Packed& Ut, double step_flops,
                          const Gates& gates_back, const Acc& dh_acc) {
  int n = threads_for(step_flops * T);
  if (split_batch(n, B, Ut)) {  // each thread its rows through the whole loop
    g_pool.run(n, [&](int i) {
      const int b0 = rows_at(B, n, i), b1 = rows_at(B, n, i + 1);
      for (int t = T - 1; t >= 0; --t) {
        gates_back(t, b0, b1, 0, u);
        dh_acc(t, b0, b1, 0, Ut.panels);
      }
    });
    return;
  }
  // Each thread its units (panels of U^T): at every step, dh's units from the later step's
  // gradient (all of it, complete after the last run), then the units' gates.
  n = std::min(threads_for(step_flops), Ut.panels);
  for (int t = T; t >= 0; --t) {
    g_pool.run(n, [&](int i) {
      const int p0 = Ut.panels * i / n, p1 = Ut.panels * (i + 1) / n;
      if (t < T) dh_acc(t, 0, B, p0, p1);
      if (t > 0) gates_back(t - 1, 0, B, std::min(u, p0 * kPanel), std::min(u, p1 * kPanel));
    });
  }
}
