// The forward time step with the gates fused into the product, for lstm_cpu.cc (included there).
//
// z_t = [x_t, h_{t-1}] @ [W; U] + bias, one product per step over the two kernels packed once per
// call. The packed columns are interleaved by gate: panel p holds, for each of the four gates,
// the kUnits columns (one vector) of units kUnits p .. kUnits (p + 1) - 1, so a register tile's
// four accumulators of a row are the i, f, c~, o pre-activations of the same units, and the tile
// applies the gates and updates the states while they are still in registers: no (batch, 4u)
// pre-activation array is written and read back at every step, and no (time, batch, 4u) one at
// all in inference. The input projection is part of the step's product (not one whole-sequence
// product before the loop): its (time, batch, 4u) result did not stay in cache, and writing and
// reading it back cost more than the longer product (measured: 48 -> 34 ms at (64, 100, 128,
// 256) on one core).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

constexpr int kUnits = kLanes;  // units per panel: one vector per gate

// The first n (at most kUnits) floats at p; the lanes past n are zero. A whole vector is one
// move; a memcpy of a size known only at run time was a call to libc (6 % of a training step).
static inline vec load_n(const float* p, int n) {
  vec v = {};
  if (n == kUnits) {
    std::memcpy(&v, p, sizeof(v));
  } else {
    std::memcpy(&v, p, sizeof(float) * n);
  }
  return v;
}
static inline void store_n(float* p, vec v, int n) {
  if (n == kUnits) {
    std::memcpy(p, &v, sizeof(v));
  } else {
    std::memcpy(p, &v, sizeof(float) * n);
  }
}

// Pack the rows of W (D, 4u) then of U (u, 4u) by gate-interleaved panels; the pool's threads
// share the panels.
static void pack_gates(Packed& P, int u, const float* W, int D, const float* U) {
  const int g4 = 4 * u;
  P.K = D + u;
  P.N = g4;
  P.panels = (u + kUnits - 1) / kUnits;
  P.data.resize(size_t(P.panels) * P.K * 4);
  float* dst = reinterpret_cast<float*>(P.data.data());
  const int n = std::min(threads_for(2.0 * P.K * g4 * 4), P.panels);  // a copy: ~4 flops' time
  g_pool.run(n, [&](int i) {
    for (int p = P.panels * i / n; p < P.panels * (i + 1) / n; ++p) {
      const int j0 = p * kUnits, w = std::min(kUnits, u - j0);
      for (int k = 0; k < P.K; ++k) {
        const float* src = k < D ? W + int64_t(k) * g4 : U + int64_t(k - D) * g4;
        float* row = dst + (int64_t(p) * P.K + k) * kPanel;
        for (int g = 0; g < 4; ++g) {
          std::memcpy(row + g * kUnits, src + g * u + j0, sizeof(float) * w);
          std::memset(row + g * kUnits + w, 0, sizeof(float) * (kUnits - w));
        }
      }
    }
  });
}

// One time step's operands and results; rows are the batch. The layer's arrays are batch-major
// (batch, time, ...), so a step's rows of them lie a stride apart (time * features, ...); the
// carried states are (batch, units) arrays of their own.
struct Step {
  int u, D;                 // units, input features
  const Packed* P;          // pack_gates of [W; U]
  const float* bias;        // (4u)
  const float* x;           // row b of this step's input at x + b * ldx
  int64_t ldx;
  const float* h_prev;      // (B, u)
  float* h;                 // (B, u) the carried h after the step (h_prev itself only when
                            // one thread steps one row at a time: the streamed step)
  float* c;                 // (B, u) the carried c, updated in place
  float* y;                 // row b of the step's output at y + b * ldy
  int64_t ldy;
  float* gates;             // the activated gates, row b at gates + b * ldg, or null
  int64_t ldg;
  float* hp;                // the carried h and c before the step (for the backward), row b at
  float* cp;                // hp + b * ldy, or null
  const bool* mask;         // row b's at mask[b * ldm], or null
  int64_t ldm;
  bool zero_output;

  // The same operands at step t of a call whose step 0 this is: the batch-major arrays' rows
  // of step t lie t rows further (the carried states stay).
  Step at(int t) const {
    Step s = *this;
    s.x += int64_t(t) * D;
    s.y += int64_t(t) * u;
    if (s.gates) s.gates += int64_t(t) * 4 * u;
    if (s.hp) s.hp += int64_t(t) * u;
    if (s.cp) s.cp += int64_t(t) * u;
    if (s.mask) s.mask += t;
    return s;
  }
};

// The gates of rows [r0, r0 + R), units of panel p, from their sums in `part` (R x 4 vectors: i,
// f, c~, o pre-activations): the activated gates stored at `gates` and the states before the step
// at hp, cp when those are not null; then c and h updated and the output y written, or, for a
// masked row, Keras's masking: the states carried and the previous output repeated (or zeros).
// Phase by phase over all the rows (the four activations of every row, then every row's new c
// and its tanh, then the stores), not row by row: one row's gates are a chain of dependent
// operations (exp, a division, then the state's tanh: another exp and division), and row after
// row the step waited on the chain's latency. Phase by phase the rows' chains overlap: the
// forward with two threads 2-11 % faster at (64, 100, 128, 256) and (32, 80, 128, 128) on Zen 3
// (medians of 20-40 alternating runs; one thread: no change). Inlined always: once per tile.
template <int R>
__attribute__((always_inline)) static inline void gate_rows(const Step& s, int r0, int p,
                                                             const vec* part) {
  const int u = s.u, j0 = p * kUnits, n = std::min(kUnits, u - j0);
  vec act[R][4];  // i, f, c~, o of each row
  for (int r = 0; r < R; ++r) {
    const vec* z = part + r * 4;
    act[r][0] = approx_sigmoid(z[0]);
    act[r][1] = approx_sigmoid(z[1]);
    act[r][2] = approx_tanh(z[2]);
    act[r][3] = approx_sigmoid(z[3]);
  }
  vec c_new[R], h_new[R];
  for (int r = 0; r < R; ++r) {
    c_new[r] = act[r][1] * load_n(s.c + (r0 + r) * int64_t(u) + j0, n) + act[r][0] * act[r][2];
  }
  for (int r = 0; r < R; ++r) h_new[r] = act[r][3] * approx_tanh(c_new[r]);
  for (int r = 0; r < R; ++r) {
    const int64_t b = r0 + r, row = b * u + j0, out = b * s.ldy + j0;
    const vec* a = act[r];
    if (s.gates != nullptr) {  // the glass box shows a masked step's gates too, as the scan does
      float* gates = s.gates + b * s.ldg + j0;
      for (int g = 0; g < 4; ++g) store_n(gates + g * u, a[g], n);
    }
    const vec h_old = load_n(s.h_prev + row, n);
    if (s.hp != nullptr) {
      store_n(s.hp + out, h_old, n);
      store_n(s.cp + out, load_n(s.c + row, n), n);
    }
    if (s.mask != nullptr && !s.mask[b * s.ldm]) {  // Keras's masking: the states carried
      store_n(s.h + row, h_old, n);
      store_n(s.y + out, s.zero_output ? vec{} : h_old, n);
      continue;
    }
    store_n(s.c + row, c_new[r], n);
    store_n(s.h + row, h_new[r], n);
    store_n(s.y + out, h_new[r], n);
  }
}

// Rows [r0, r0 + R), units of panel p, the packed rows [k0, k1) of the product, the gates' sums
// [V0, V0 + kPass) (all four, or two per pass): part (R x 4 vectors) holds them over the rows
// before k0 and gets them up to k1. A function of its own, not inlined: within step_tile, whose
// gates keep a dozen constants live, GCC kept the sums in memory on AVX2 (a load and a store
// with every FMA: the forward ran at a third of the FMA peak).
template <int R, int V0, bool kFetch>
__attribute__((noinline)) static void step_product(const Step& s, int r0, int p, int k0, int k1,
                                                   vec* part, Prefetch pf) {
  const int u = s.u, j0 = p * kUnits, n = std::min(kUnits, u - j0);
  vec acc[R][kPass];
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < kPass; ++g) {
      acc[r][g] = k0 == 0 ? load_n(s.bias + (V0 + g) * u + j0, n) : part[r * 4 + V0 + g];
    }
  }
  const vec* pv = reinterpret_cast<const vec*>(s.P->panel(p)) + int64_t(k0) * 4 + V0;
  const float* xr = s.x + r0 * s.ldx;
  for (int k = k0; k < std::min(k1, s.D); ++k, pv += 4) {  // rows of W: x is the operand
    const PanelRow b(pv);
    if constexpr (kFetch) pf.next();
    for (int r = 0; r < R; ++r) b.fma(acc[r], xr[r * s.ldx + k]);
  }
  const float* hr = s.h_prev + int64_t(r0) * u - s.D;  // indexed by the packed row
  for (int k = std::max(k0, s.D); k < k1; ++k, pv += 4) {  // rows of U: h is the operand
    const PanelRow b(pv);
    if constexpr (kFetch) pf.next();
    for (int r = 0; r < R; ++r) b.fma(acc[r], hr[r * u + k]);
  }
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < kPass; ++g) part[r * 4 + V0 + g] = acc[r][g];
  }
}

// step_product, then, when k1 is the last row and these are the last gates, the gates applied
// to the sums in `part` and the states updated.
template <int R, int V0>
static void step_tile(const Step& s, int r0, int p, int k0, int k1, vec* part, Prefetch pf) {
  by_fetch(pf, [&](auto f) { step_product<R, V0, f>(s, r0, p, k0, k1, part, pf); });
  if (k1 < s.P->K || V0 + kPass < 4) return;
  gate_rows<R>(s, r0, p, part);
}

// Rows [b0, b1) and panels [p0, p1) of one step. Panels outer and their rows in chunks of
// g_k_chunk (packed_gemm.h says why); the sums between chunks wait in `part` (rows x 64 floats).
// The next chunk is fetched ahead when P is large (packed_gemm.h's Prefetch).
static void step_block(const Step& s, int b0, int b1, int p0, int p1, vec* part) {
  const int chunk = g_k_chunk, K = s.P->K;
  const int calls = (b1 - b0 + kRows - 1) / kRows * (4 / kPass);  // of step_product, a chunk
  const bool big = s.P->bytes() > kFetchBytes;
  for (int p = p0; p < p1; ++p) {
    for (int k0 = 0; k0 < K; k0 += chunk) {
      const int k1 = std::min(K, k0 + chunk);
      const auto [next, bytes] = next_rows(*s.P, p, p1, k1, chunk);
      ChunkFetch fetch{next, bytes, calls, k1 - k0, big};
      for_tiles(b0, b1, [&](int r, int rows) {
        vec* pr = part + (r - b0) * 4;
        with_rows(rows, [&](auto R) {
          step_tile<R, 0>(s, r, p, k0, k1, pr, fetch.share());
          if constexpr (kPass < 4) step_tile<R, kPass>(s, r, p, k0, k1, pr, fetch.share());
        });
      });
    }
  }
}
