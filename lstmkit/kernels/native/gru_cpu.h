// lstmkit's native CPU GRU (Keras's reset_after=True, its default): the time loop in C++, forward
// and backward, for lstm_cpu.cc (included there after the LSTM: it shares packed_gemm.h, vmath.h,
// lstm_step.h's helpers and the pool).
//
// Keras's GRU, with x_* = x_t @ W_* + b_in_* and r_* = h @ U_* + b_rec_* (gate order z, r, h~):
//   z = sigmoid(x_z + r_z), r = sigmoid(x_r + r_r), h~ = tanh(x_h + r * r_h),
//   h' = z * h + (1 - z) * h~.
// The forward step is one product [x_t, h] @ [W; U] over the two kernels packed once per call, in
// panels of kUnits units whose rows hold the z, r and candidate columns (three vectors). A register
// tile keeps four sums per row: z and r over both kernels, and the candidate's x part and h part
// apart (the reset gate multiplies the h part only); it applies the gates while they are in
// registers, as the LSTM's step does (lstm_step.h).
//
// Layouts (row-major, batch-major): x (B, T, D), kernel W (D, 3u), input bias (3u), recurrent
// kernel U (u, 3u), recurrent bias (3u), h (B, u), mask (B, T) booleans or an empty array.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

constexpr int kGruVecs = 3;  // vectors per packed row: z, r, candidate

// [W; U] packed by panels of kUnits units: row k of panel p holds the z, r and candidate columns
// of units kUnits p .. kUnits (p + 1) - 1 (zero past u).
struct GruPacked {
  int K = 0, panels = 0;
  std::vector<vec> data;  // panels * K * 3 vectors
  const vec* panel(int p) const { return data.data() + int64_t(p) * K * kGruVecs; }
  double bytes() const { return double(sizeof(vec)) * data.size(); }
};

static void gru_pack(GruPacked& P, int u, const float* W, int D, const float* U) {
  const int g3 = 3 * u;
  P.K = D + u;
  P.panels = (u + kUnits - 1) / kUnits;
  P.data.resize(size_t(P.panels) * P.K * kGruVecs);
  float* dst = reinterpret_cast<float*>(P.data.data());
  const int n = std::min(threads_for(2.0 * P.K * g3 * 4), P.panels);  // a copy: ~4 flops' time
  g_pool.run(n, [&](int i) {
    for (int p = P.panels * i / n; p < P.panels * (i + 1) / n; ++p) {
      const int j0 = p * kUnits, w = std::min(kUnits, u - j0);
      for (int k = 0; k < P.K; ++k) {
        const float* src = k < D ? W + int64_t(k) * g3 : U + int64_t(k - D) * g3;
        float* row = dst + (int64_t(p) * P.K + k) * kGruVecs * kUnits;
        for (int g = 0; g < kGruVecs; ++g) {
          std::memcpy(row + g * kUnits, src + g * u + j0, sizeof(float) * w);
          std::memset(row + g * kUnits + w, 0, sizeof(float) * (kUnits - w));
        }
      }
    }
  });
}

// One time step's operands and results, rows being the batch (as lstm_step.h's Step).
struct GruStep {
  int u, D;
  const GruPacked* P;
  const float* b_in;   // (3u)
  const float* b_rec;  // (3u)
  const float* x;      // row b of this step's input at x + b * ldx
  int64_t ldx;
  const float* h_prev;  // (B, u)
  float* h;             // (B, u), never h_prev
  float* y;             // row b of the step's output at y + b * ldy
  int64_t ldy;
  float* gates;  // z, r, h~ activated, row b at gates + b * ldg, or null (then rh and hp too)
  int64_t ldg;
  float* rh;  // r_h = h @ U_h + b_rec_h (before the reset gate), row b at rh + b * ldy
  float* hp;  // h before the step, row b at hp + b * ldy
  const bool* mask;  // row b's at mask[b * ldm], or null
  int64_t ldm;
  bool zero_output;
};

// Rows [r0, r0 + R), units of panel p, from their four sums each in `part` (R x 4 vectors); a
// masked row keeps h and repeats the previous output (or zeros), as Keras's masking does. Phase
// by phase over the rows (every row's z and r, then every row's candidate, then the stores), as
// lstm_step.h's gate_rows and for its reason: row by row, the step waited on each row's chain of
// dependent activations.
template <int R>
__attribute__((always_inline)) static inline void gru_rows(const GruStep& s, int r0, int p,
                                                           const vec* part) {
  const int u = s.u, j0 = p * kUnits, n = std::min(kUnits, u - j0);
  vec z[R], r[R], cand[R];
  for (int i = 0; i < R; ++i) {
    z[i] = approx_sigmoid(part[i * 4]);
    r[i] = approx_sigmoid(part[i * 4 + 1]);
  }
  for (int i = 0; i < R; ++i) cand[i] = approx_tanh(part[i * 4 + 2] + r[i] * part[i * 4 + 3]);
  for (int i = 0; i < R; ++i) {
    const int64_t b = r0 + i, row = b * u + j0, out = b * s.ldy + j0;
    const vec h_old = load_n(s.h_prev + row, n);
    if (s.gates != nullptr) {
      float* gates = s.gates + b * s.ldg + j0;
      store_n(gates, z[i], n);
      store_n(gates + u, r[i], n);
      store_n(gates + 2 * u, cand[i], n);
      store_n(s.rh + out, part[i * 4 + 3], n);
      store_n(s.hp + out, h_old, n);
    }
    if (s.mask != nullptr && !s.mask[b * s.ldm]) {
      store_n(s.h + row, h_old, n);
      store_n(s.y + out, s.zero_output ? vec{} : h_old, n);
      continue;
    }
    const vec h_new = z[i] * h_old + (1.0f - z[i]) * cand[i];
    store_n(s.h + row, h_new, n);
    store_n(s.y + out, h_new, n);
  }
}

// Rows [r0, r0 + R), units of panel p, packed rows [k0, k1), the packed vectors [V0, V0 + kPass)
// (all three, or z and r in one pass and the candidate in the next: packed_gemm.h's kPass);
// `part` holds the four sums over the rows before k0 (R x 4 vectors) and gets this pass's up to
// k1. Not inlined, as lstm_step.h's step_product.
template <int R, int V0, bool kFetch>
__attribute__((noinline)) static void gru_product(const GruStep& s, int r0, int p, int k0, int k1,
                                                  vec* part, Prefetch pf) {
  constexpr bool zr = V0 == 0, cand = V0 + kPass > 2;  // the sums this pass makes
  const int u = s.u, j0 = p * kUnits, n = std::min(kUnits, u - j0);
  vec acc[R][4];
  for (int r = 0; r < R; ++r) {
    if (k0 > 0) {
      for (int g = 0; g < 4; ++g) {
        if (g < 2 ? zr : cand) acc[r][g] = part[r * 4 + g];
      }
      continue;
    }
    if constexpr (zr) {
      acc[r][0] = load_n(s.b_in + j0, n) + load_n(s.b_rec + j0, n);
      acc[r][1] = load_n(s.b_in + u + j0, n) + load_n(s.b_rec + u + j0, n);
    }
    if constexpr (cand) {
      acc[r][2] = load_n(s.b_in + 2 * u + j0, n);
      acc[r][3] = load_n(s.b_rec + 2 * u + j0, n);
    }
  }
  const vec* pv = s.P->panel(p) + int64_t(k0) * kGruVecs;
  vec b0 = {}, b1 = {}, b2 = {};
  auto load = [&](const vec* row) {  // the packed row's vectors this pass reads, in registers
    if constexpr (zr) {
      b0 = in_register(row[0]);
      b1 = in_register(row[1]);
    }
    if constexpr (cand) {
      b2 = in_register(row[2]);
    }
    if constexpr (kFetch) pf.next();
  };
  const float* xr = s.x + r0 * s.ldx;
  for (int k = k0; k < std::min(k1, s.D); ++k, pv += kGruVecs) {  // rows of W: x the operand
    load(pv);
    for (int r = 0; r < R; ++r) {
      const float a = xr[r * s.ldx + k];
      if constexpr (zr) {
        acc[r][0] += a * b0;
        acc[r][1] += a * b1;
      }
      if constexpr (cand) acc[r][2] += a * b2;
    }
  }
  const float* hr = s.h_prev + int64_t(r0) * u - s.D;  // indexed by the packed row
  for (int k = std::max(k0, s.D); k < k1; ++k, pv += kGruVecs) {  // rows of U: h the operand
    load(pv);
    for (int r = 0; r < R; ++r) {
      const float a = hr[r * u + k];
      if constexpr (zr) {
        acc[r][0] += a * b0;
        acc[r][1] += a * b1;
      }
      if constexpr (cand) acc[r][3] += a * b2;
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < 4; ++g) {
      if (g < 2 ? zr : cand) part[r * 4 + g] = acc[r][g];
    }
  }
}

// gru_product, then, when k1 is the last row and this pass has the candidate, the gates applied
// to the sums in `part`.
template <int R, int V0>
static void gru_tile(const GruStep& s, int r0, int p, int k0, int k1, vec* part, Prefetch pf) {
  by_fetch(pf, [&](auto f) { gru_product<R, V0, f>(s, r0, p, k0, k1, part, pf); });
  if (k1 < s.P->K || V0 + kPass <= 2) return;
  gru_rows<R>(s, r0, p, part);
}

// Rows [b0, b1) and panels [p0, p1) of one step, chunked over K and fetching ahead as
// step_block (lstm_step.h).
static void gru_block(const GruStep& s, int b0, int b1, int p0, int p1, vec* part) {
  const int chunk = g_k_chunk, K = s.P->K;
  constexpr int passes = kPass < 3 ? 2 : 1;
  const int calls = (b1 - b0 + kRows - 1) / kRows * passes;  // of gru_product, a chunk
  constexpr int64_t row_bytes = kGruVecs * sizeof(vec);
  const bool big = s.P->bytes() > kFetchBytes;
  for (int p = p0; p < p1; ++p) {
    for (int k0 = 0; k0 < K; k0 += chunk) {
      const int k1 = std::min(K, k0 + chunk);
      const auto [next, bytes] = next_rows(s.P->panel(0), K, row_bytes, p, p1, k1, chunk);
      ChunkFetch fetch{next, bytes, calls, k1 - k0, big};
      for_tiles(b0, b1, [&](int r, int rows) {
        vec* pr = part + (r - b0) * 4;
        with_rows(rows, [&](auto R) {
          gru_tile<R, 0>(s, r, p, k0, k1, pr, fetch.share());
          if constexpr (passes == 2) gru_tile<R, kPass>(s, r, p, k0, k1, pr, fetch.share());
        });
      });
    }
  }
}

// The forward: x, W, the input and recurrent biases, U, h0, mask -> outputs (B, T, u), final h,
// and for the backward (else (0,)) the activated gates (B, T, 3u), r_h and h before each step
// (B, T, u).
static ffi::Error GruFwd(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w,
                         ffi::Buffer<ffi::F32> b_in, ffi::Buffer<ffi::F32> b_rec,
                         ffi::Buffer<ffi::F32> U, ffi::Buffer<ffi::F32> h0,
                         ffi::Buffer<ffi::PRED> mask, ffi::ResultBuffer<ffi::F32> ys,
                         ffi::ResultBuffer<ffi::F32> hT, ffi::ResultBuffer<ffi::F32> gates,
                         ffi::ResultBuffer<ffi::F32> rh, ffi::ResultBuffer<ffi::F32> hp,
                         int64_t zero_output) {
  auto dims = x.dimensions();
  const int B = dims[0], T = dims[1], D = dims[2], u = U.dimensions()[0], g3 = 3 * u;
  const int64_t S = int64_t(B) * u;
  const bool save = hp->element_count() > 0;
  float* h = hT->typed_data();  // the carried h lives in the final-state buffer
  std::memcpy(h, h0.typed_data(), sizeof(float) * S);
  if (T == 0) return ffi::Error::Success();
  GruPacked P;
  gru_pack(P, u, w.typed_data(), D, U.typed_data());
  GruStep base{.u = u, .D = D, .P = &P, .b_in = b_in.typed_data(), .b_rec = b_rec.typed_data(),
               .x = x.typed_data(), .ldx = int64_t(T) * D, .h_prev = h, .h = h,
               .y = ys->typed_data(), .ldy = int64_t(T) * u,
               .gates = save ? gates->typed_data() : nullptr, .ldg = int64_t(T) * g3,
               .rh = save ? rh->typed_data() : nullptr, .hp = save ? hp->typed_data() : nullptr,
               .mask = mask.element_count() > 0 ? mask.typed_data() : nullptr, .ldm = T,
               .zero_output = zero_output != 0};
  std::vector<float> h_other(S);  // a step reads h from one buffer and writes the other
  float* bufs[2] = {h, h_other.data()};
  auto step = [&](int t, int b0, int b1, int p0, int p1, vec* part) {
    GruStep s = base;
    s.x += int64_t(t) * D;
    s.h_prev = bufs[t % 2];
    s.h = bufs[(t + 1) % 2];
    s.y += int64_t(t) * u;
    if (s.gates) {
      s.gates += int64_t(t) * g3;
      s.rh += int64_t(t) * u;
      s.hp += int64_t(t) * u;
    }
    if (s.mask) s.mask += t;
    gru_block(s, b0, b1, p0, p1, part);
  };
  forward_loop(B, T, P.panels, 2.0 * B * P.K * g3, P.bytes(), step);
  if (T % 2 == 1) std::memcpy(h, h_other.data(), sizeof(float) * S);
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(lstmkit_gru_fwd, GruFwd,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()   // x (B, T, D)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // kernel (D, 3u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // input bias (3u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // recurrent bias (3u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // recurrent kernel (u, 3u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // h0 (B, u)
                                  .Arg<ffi::Buffer<ffi::PRED>>()  // mask (B, T) or (0,)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // outputs (B, T, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // final h (B, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // gates (B, T, 3u) or (0,)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // r_h (B, T, u) or (0,)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // h before each step, or (0,)
                                  .Attr<int64_t>("zero_output"));

// ----- backward ------------------------------------------------------------------------------
// One step back (rows as in BackStep): the saved gates, r_h and h before the step, the output's
// gradient, and dh (B, u): in, after the step; out, before it (still lacking d_rec @ U^T).
struct GruBack {
  int B, u;
  const float* g;  // z, r, h~, stride ldg
  float* dx;       // the input pre-activations' gradient (d x_z, d x_r, d x_h), stride ldg
  float* drec;     // the recurrent products' gradient (d r_z, d r_r, d r_h), stride ldg
  int64_t ldg;
  const float* rh;  // stride lds
  const float* h_old;
  const float* dy;
  int64_t lds;
  float* dh;
  float* db_groups;  // (kGroups, 2, 3u): the input and the recurrent bias, summed by group
  const bool* mask;  // stride ldm, or null
  int64_t ldm;
  bool zero_output;
};

// Rows [b0, b1) and units [j0, j1) of one step back.
static void gru_gates_bwd(const GruBack& s, int b0, int b1, int j0, int j1) {
  const int u = s.u;
  for (int b = b0; b < b1; ++b) {
    // The gates and dx may be one buffer (gru.py): not restrict; element j of each is read
    // before it is written.
    const float* z = s.g + b * s.ldg;
    const float* r = z + u;
    const float* cand = z + 2 * u;
    const float* __restrict rh = s.rh + b * s.lds;
    const float* __restrict ho = s.h_old + b * s.lds;
    const float* __restrict dyb = s.dy + b * s.lds;
    float* __restrict dhb = s.dh + int64_t(b) * u;
    float* dx = s.dx + b * s.ldg;
    float* __restrict dr = s.drec + b * s.ldg;
    float* __restrict dbi = s.db_groups + int64_t(group_of(s.B, b)) * 6 * u;
    float* __restrict dbr = dbi + 3 * u;
    if (s.mask != nullptr && !s.mask[b * s.ldm]) {  // masked: h passed through, no gate gradient
      for (int g = 0; g < 3; ++g) {
        std::memset(dx + g * u + j0, 0, sizeof(float) * (j1 - j0));
        std::memset(dr + g * u + j0, 0, sizeof(float) * (j1 - j0));
      }
      if (!s.zero_output) {
        for (int j = j0; j < j1; ++j) dhb[j] += dyb[j];
      }
      continue;
    }
#pragma GCC ivdep  // iteration j reads and writes element j of each row only
    for (int j = j0; j < j1; ++j) {
      const float zj = z[j], rj = r[j], cj = cand[j];
      const float dhn = dhb[j] + dyb[j];
      const float dzp = dhn * (ho[j] - cj) * zj * (1.0f - zj);
      const float dcp = dhn * (1.0f - zj) * (1.0f - cj * cj);
      const float drp = dcp * rh[j] * rj * (1.0f - rj);
      dx[j] = dzp;
      dx[u + j] = drp;
      dx[2 * u + j] = dcp;
      dr[j] = dzp;
      dr[u + j] = drp;
      dr[2 * u + j] = dcp * rj;
      dhb[j] = dhn * zj;
    }
#pragma GCC ivdep
    for (int j = j0; j < j1; ++j) {
      for (int g = 0; g < 3; ++g) {
        dbi[g * u + j] += dx[g * u + j];
        dbr[g * u + j] += dr[g * u + j];
      }
    }
  }
}

// The backward, from the forward's saved arrays: x (B, T, D), U (u, 3u), mask, gates (B, T, 3u),
// r_h and h before each step (B, T, u), the gradients of the outputs (B, T, u) and of the final
// h -> the input pre-activations' gradient (B, T, 3u) (XLA makes dx = it @ W^T when it is
// needed), dW, dU, the biases' gradient (2, 3u) (input, recurrent), dh0.
static ffi::Error GruBwd(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> U,
                         ffi::Buffer<ffi::PRED> mask, ffi::Buffer<ffi::F32> gates,
                         ffi::Buffer<ffi::F32> rh, ffi::Buffer<ffi::F32> hp,
                         ffi::Buffer<ffi::F32> dys, ffi::Buffer<ffi::F32> dhT,
                         ffi::ResultBuffer<ffi::F32> dxp, ffi::ResultBuffer<ffi::F32> dw,
                         ffi::ResultBuffer<ffi::F32> du, ffi::ResultBuffer<ffi::F32> db,
                         ffi::ResultBuffer<ffi::F32> dh0, int64_t zero_output) {
  auto dims = x.dimensions();
  const int B = dims[0], T = dims[1], D = dims[2], u = U.dimensions()[0], g3 = 3 * u;
  const int64_t S = int64_t(B) * u;
  float* dh = dh0->typed_data();
  std::memcpy(dh, dhT.typed_data(), sizeof(float) * S);
  float* dX = dxp->typed_data();
  std::vector<float> dRec(size_t(B) * T * g3);
  std::vector<float> db_groups(size_t(kGroups) * 2 * g3, 0.0f);
  Packed Ut;
  pack(Ut, g3, u, U.typed_data(), 1, g3);  // U^T (3u, u)
  const int64_t ldg = int64_t(T) * g3, lds = int64_t(T) * u;
  auto gates_back = [&](int t, int b0, int b1, int j0, int j1) {
    GruBack s{.B = B, .u = u, .g = gates.typed_data() + int64_t(t) * g3,
              .dx = dX + int64_t(t) * g3, .drec = dRec.data() + int64_t(t) * g3, .ldg = ldg,
              .rh = rh.typed_data() + int64_t(t) * u, .h_old = hp.typed_data() + int64_t(t) * u,
              .dy = dys.typed_data() + int64_t(t) * u, .lds = lds, .dh = dh,
              .db_groups = db_groups.data(),
              .mask = mask.element_count() > 0 ? mask.typed_data() + t : nullptr, .ldm = T,
              .zero_output = zero_output != 0};
    gru_gates_bwd(s, b0, b1, j0, j1);
  };
  // dh (rows [b0, b1), units of panels [p0, p1)) += d_rec_t @ U^T
  auto dh_acc = [&](int t, int b0, int b1, int p0, int p1) {
    panels_acc<false>(b1 - b0, dRec.data() + b0 * ldg + int64_t(t) * g3, int(ldg), &Ut,
                      dh + int64_t(b0) * u, u, p0, p1);
  };
  backward_loop(B, T, u, Ut, 2.0 * B * g3 * u, gates_back, dh_acc);
  float* dbv = db->typed_data();  // (2, 3u)
  std::memset(dbv, 0, sizeof(float) * 2 * g3);
  for (int k = 0; k < kGroups; ++k) {
    for (int j = 0; j < 2 * g3; ++j) dbv[j] += db_groups[size_t(k) * 2 * g3 + j];
  }
  // Weight gradients, whole-sequence products over the samples (b, t): dW = X^T dX,
  // dU = H_before^T dRec.
  const int N = B * T;
  float* dW = dw->typed_data();
  float* dU = du->typed_data();
  std::memset(dW, 0, sizeof(float) * D * g3);
  std::memset(dU, 0, sizeof(float) * u * g3);
  if (N > 0) {
    gemm_packed({{D, x.typed_data(), D, dW}}, g3, N, dX, g3, g3);
    gemm_packed({{u, hp.typed_data(), u, dU}}, g3, N, dRec.data(), g3, g3);
  }
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(lstmkit_gru_bwd, GruBwd,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()   // x (B, T, D)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // recurrent kernel (u, 3u)
                                  .Arg<ffi::Buffer<ffi::PRED>>()  // mask (B, T) or (0,)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // gates (B, T, 3u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // r_h (B, T, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // h before each step (B, T, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // d outputs (B, T, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // d final h (B, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d input pre-acts (B, T, 3u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d kernel (D, 3u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d recurrent kernel (u, 3u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d biases (2, 3u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d h0 (B, u)
                                  .Attr<int64_t>("zero_output"));
