// lstmkit's native CPU LSTM: the whole time loop in C++, forward and backward (and the GRU's, in
// gru_cpu.h, included at the end).
//
// Compiled on first use by lstmkit/kernels/native/build.py and registered with jax.ffi. The
// forward step is one product [x_t, h] @ [W; U] over the two kernels packed once per call, with
// the gates applied in the product's registers (lstm_step.h); a streamed step (fewer than 4
// steps of at most 4 rows) runs matrix-vector loops over the weights as they are. The backward
// runs the reverse loop on packed_gemm.h's products, and the weight gradients as whole-sequence
// products, packed_gemm.h's too. (OpenBLAS's sgemm ran the largest of those until its threads,
// which wait spinning after a call, were seen taking a core from the next step's forward: the
// (64, 100, 256, 1024) train step was 4-13 % faster without it, bench/results.md.) Work is shared
// between threads by pool.h's pool.
//
// Layouts (row-major, batch-major as the layer has them): x (B, T, D), kernel W (D, 4u), bias
// (4u), recurrent kernel U (u, 4u), states (B, u), mask (B, T) booleans or an empty array for
// "no mask". Gate order is Keras's: i, f, c (candidate), o.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

#include "pool.h"

#include "packed_gemm.h"

// The threads the kernels may use (the cores this process may run on), and the K chunk for this
// CPU. Once, before first use.
extern "C" void lstmkit_native_init(int threads) {
  g_pool.set_size(threads);
  g_k_chunk = default_k_chunk();
}

// The K chunk (packed_gemm.h), for tests: `rows` > 0 rows, or this CPU's default. Not while a
// kernel runs.
extern "C" void lstmkit_set_k_chunk(int rows) { g_k_chunk = rows > 0 ? rows : default_k_chunk(); }

// Floats per vector, as compiled (16 with AVX-512, 8 with AVX, 4 otherwise): for tests.
extern "C" int lstmkit_vector_lanes() { return kLanes; }

#include "time_loops.h"

#include "vmath.h"

// ----- forward -------------------------------------------------------------------------------
#include "lstm_step.h"

// A streamed step (a few rows, fewer than kPackSteps steps): packing [W; U] would cost as much
// as the product, so matrix-vector loops over the weights as they are, which reads them once
// per step from memory. The rows of [W; U] are cut in two halves and each thread sums one (whole
// rows: one stream of memory each; with the columns split, each thread read pieces of every row,
// and two threads were 1.5x one); z = (bias + first half) + second half, the same sums in the
// same order with one thread or two. The gates follow in the calling thread (gate_rows, as in
// the packed step). `s` describes step 0.
static void stream_steps(const Step& s, int T, int B, const float* W, const float* U) {
  const int u = s.u, D = s.D, g4 = 4 * u, K = D + u, half = K / 2;
  std::vector<float> z(size_t(2) * B * g4);  // the two halves' sums, (2, B, 4u)
  const int n = std::min(threads_for(2.0 * B * K * g4), 2);
  for (int t = 0; t < T; ++t) {
    g_pool.run(n, [&](int i) {
      for (int part = i; part < 2; part += n) {
        const int k0 = part == 0 ? 0 : half, k1 = part == 0 ? half : K;
        for (int b = 0; b < B; ++b) {
          float* zb = z.data() + (int64_t(part) * B + b) * g4;
          std::memset(zb, 0, sizeof(float) * g4);
          const float* xb = s.x + b * s.ldx + int64_t(t) * D;
          const float* hb = s.h + int64_t(b) * u;
          if (k0 < D) vec_mat_acc(std::min(k1, D) - k0, g4, g4, W + int64_t(k0) * g4, xb + k0, zb);
          if (k1 > D) {
            const int r0 = std::max(k0, D) - D;
            vec_mat_acc(k1 - D - r0, g4, g4, U + int64_t(r0) * g4, hb + r0, zb);
          }
        }
      }
    });
    const Step st = s.at(t);  // h is read and written in place: one thread, one row at a time
    for (int b = 0; b < B; ++b) {
      float* z0 = z.data() + int64_t(b) * g4;
      const float* z1 = z0 + int64_t(B) * g4;
      for (int j = 0; j < g4; ++j) z0[j] = (s.bias[j] + z0[j]) + z1[j];
      for (int j = 0; j < u; j += kUnits) {
        const int n = std::min(kUnits, u - j);
        const vec part[4] = {load_n(z0 + j, n), load_n(z0 + u + j, n), load_n(z0 + 2 * u + j, n),
                             load_n(z0 + 3 * u + j, n)};
        gate_rows<1>(st, b, j / kUnits, part);
      }
    }
  }
}

// The forward: x (B, T, D), kernel W (D, 4u), bias (4u), recurrent kernel U (u, 4u), h0, c0 (B,
// u), mask (B, T) or (0,) -> outputs (B, T, u), final h and c, and for the backward or the glass
// box (else (0,)) the activated gates (B, T, 4u) and the carried h and c before each step (B, T,
// u).
static ffi::Error LstmFwd(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w,
                          ffi::Buffer<ffi::F32> bias, ffi::Buffer<ffi::F32> U,
                          ffi::Buffer<ffi::F32> h0, ffi::Buffer<ffi::F32> c0,
                          ffi::Buffer<ffi::PRED> mask, ffi::ResultBuffer<ffi::F32> ys,
                          ffi::ResultBuffer<ffi::F32> hT, ffi::ResultBuffer<ffi::F32> cT,
                          ffi::ResultBuffer<ffi::F32> gates, ffi::ResultBuffer<ffi::F32> hp,
                          ffi::ResultBuffer<ffi::F32> cp, int64_t zero_output) {
  auto dims = x.dimensions();
  const int B = dims[0], T = dims[1], D = dims[2], u = U.dimensions()[0], g4 = 4 * u;
  const int64_t S = int64_t(B) * u;  // one step of states
  const bool save = hp->element_count() > 0;
  float* h = hT->typed_data();  // the carried states live in the final-state buffers
  float* c = cT->typed_data();
  std::memcpy(h, h0.typed_data(), sizeof(float) * S);
  std::memcpy(c, c0.typed_data(), sizeof(float) * S);
  if (T == 0) return ffi::Error::Success();
  Step base{.u = u, .D = D, .bias = bias.typed_data(), .x = x.typed_data(),
            .ldx = int64_t(T) * D, .h_prev = h, .h = h, .c = c, .y = ys->typed_data(),
            .ldy = int64_t(T) * u, .gates = save ? gates->typed_data() : nullptr,
            .ldg = int64_t(T) * g4, .hp = save ? hp->typed_data() : nullptr,
            .cp = save ? cp->typed_data() : nullptr,
            .mask = mask.element_count() > 0 ? mask.typed_data() : nullptr, .ldm = T,
            .zero_output = zero_output != 0};
  if (int64_t(T) * B <= 4 && T < kPackSteps) {
    stream_steps(base, T, B, w.typed_data(), U.typed_data());
    return ffi::Error::Success();
  }
  Packed P;
  pack_gates(P, u, w.typed_data(), D, U.typed_data());
  base.P = &P;
  std::vector<float> h_other(S);  // a step reads h from one buffer and writes the other
  float* bufs[2] = {h, h_other.data()};
  // Step t of rows [b0, b1) and panels [p0, p1).
  auto step = [&](int t, int b0, int b1, int p0, int p1, vec* part) {
    Step s = base.at(t);
    s.h_prev = bufs[t % 2];
    s.h = bufs[(t + 1) % 2];
    step_block(s, b0, b1, p0, p1, part);
  };
  forward_loop(B, T, P.panels, 2.0 * B * P.K * g4, P.bytes(), step);
  if (T % 2 == 1) std::memcpy(h, h_other.data(), sizeof(float) * S);
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(lstmkit_lstm_fwd, LstmFwd,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()   // x (B, T, D)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // kernel (D, 4u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // bias (4u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // recurrent kernel (u, 4u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // h0 (B, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // c0 (B, u)
                                  .Arg<ffi::Buffer<ffi::PRED>>()  // mask (B, T) or (0,)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // outputs (B, T, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // final h (B, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // final c (B, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // gates (B, T, 4u) or (0,)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // h before each step (B, T, u) or (0,)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // c before each step (B, T, u) or (0,)
                                  .Attr<int64_t>("zero_output"));

// ----- backward ------------------------------------------------------------------------------
// One step back: the step's rows of the batch-major arrays (row b at pointer + b * stride) and
// the carried states' gradients dh, dc (B, u): in, after the step; out, before it (dh still
// lacking dz @ U^T).
struct BackStep {
  int B, u;
  const float* g;       // activated gates, stride ldg
  float* dz;            // the pre-activations' gradient, stride ldg
  int64_t ldg;
  const float* c_new;   // c after the step, stride ld_new
  int64_t ld_new;
  const float* c_old;   // c before the step, stride lds
  const float* dy;      // the output's gradient, stride lds
  int64_t lds;
  float* dh;
  float* dc;
  float* db_groups;     // (kGroups, 4u), see below
  const bool* mask;     // stride ldm, or null
  int64_t ldm;
  bool zero_output;
  bool fetch_previous;  // fetch the step before's rows of g, c_old and dy into the cache
};

// Rows [b0, b1) and units [j0, j1) of one step back: dz, and dh, dc updated. The bias gradient
// is summed by the batch's groups (packed_gemm.h): a group's sum adds its rows in the same order
// whichever thread runs it, so that the result has the same bits with one thread or two.
static void lstm_gates_bwd(const BackStep& s, int b0, int b1, int j0, int j1) {
  const int u = s.u;
  for (int b = b0; b < b1; ++b) {
    // The gates and dz may be one buffer (lstm.py): not restrict.
    const float* gi = s.g + b * s.ldg;
    const float* gf = gi + u;
    const float* gc = gi + 2 * u;
    const float* go = gi + 3 * u;
    const float* __restrict cn = s.c_new + b * s.ld_new;
    const float* __restrict co = s.c_old + b * s.lds;
    const float* __restrict dyb = s.dy + b * s.lds;
    float* __restrict dhb = s.dh + int64_t(b) * u;
    float* __restrict dcb = s.dc + int64_t(b) * u;
    float* dzi = s.dz + b * s.ldg;
    float* __restrict db = s.db_groups + int64_t(group_of(s.B, b)) * 4 * u;
    if (s.mask != nullptr && !s.mask[b * s.ldm]) {  // masked: the states passed through, no
      for (int g4 = 0; g4 < 4; ++g4) {               // gate gradient
        std::memset(dzi + g4 * u + j0, 0, sizeof(float) * (j1 - j0));
      }
      if (!s.zero_output) {
        for (int j = j0; j < j1; ++j) dhb[j] += dyb[j];
      }
      continue;
    }
    // kLanes units at a time in vectors (as a loop over floats, GCC left it scalar: a branch in
    // tanh's clamp and a division per unit, 14 % of the (32, 80, 128, 128) train step); whole
    // vectors, then the n < kLanes units left (inlined twice: n a constant in the first, so
    // load_n and store_n are plain moves). Each vector of the gates is loaded before dz's vector
    // at the same place is stored.
    auto units = [&](int j, int n) __attribute__((always_inline)) {
      const vec i = load_n(gi + j, n), f = load_n(gf + j, n), cc = load_n(gc + j, n);
      const vec o = load_n(go + j, n);
      const vec tc = approx_tanh(load_n(cn + j, n));
      const vec dhn = load_n(dhb + j, n) + load_n(dyb + j, n);
      const vec dct = load_n(dcb + j, n) + dhn * o * (1.0f - tc * tc);
      const vec dz_i = dct * cc * i * (1.0f - i);
      const vec dz_f = dct * load_n(co + j, n) * f * (1.0f - f);
      const vec dz_c = dct * i * (1.0f - cc * cc);
      const vec dz_o = dhn * tc * o * (1.0f - o);
      store_n(dzi + j, dz_i, n);
      store_n(dzi + u + j, dz_f, n);
      store_n(dzi + 2 * u + j, dz_c, n);
      store_n(dzi + 3 * u + j, dz_o, n);
      store_n(dcb + j, dct * f, n);
      store_n(dhb + j, vec{}, n);
      store_n(db + j, load_n(db + j, n) + dz_i, n);
      store_n(db + u + j, load_n(db + u + j, n) + dz_f, n);
      store_n(db + 2 * u + j, load_n(db + 2 * u + j, n) + dz_c, n);
      store_n(db + 3 * u + j, load_n(db + 3 * u + j, n) + dz_o, n);
    };
    int j = j0;
    for (; j + kLanes <= j1; j += kLanes) units(j, kLanes);
    if (j < j1) units(j, j1 - j);
    // The step before runs next (after this step's product with U^T): its rows of the saved
    // arrays, which lie in rows T steps long, come from L3 or memory.
    if (s.fetch_previous) {
      for (int g = 0; g < 4; ++g) fetch_floats(gi - 4 * u + g * u, j0, j1);
      fetch_floats(co - u, j0, j1);
      fetch_floats(dyb - u, j0, j1);
    }
  }
}

// The backward, from the forward's saved arrays (batch-major): x (B, T, D), U (u, 4u), mask (B,
// T) or (0,), gates (B, T, 4u), h and c before each step (B, T, u), the final c (B, u), and the
// gradients of the outputs (B, T, u) and of the final h and c -> the pre-activations' gradient
// dz (B, T, 4u) (XLA makes dx = dz @ W^T of it when it is needed), dW, dU, db, dh0, dc0.
static ffi::Error LstmBwd(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> U,
                          ffi::Buffer<ffi::PRED> mask, ffi::Buffer<ffi::F32> gates,
                          ffi::Buffer<ffi::F32> hp, ffi::Buffer<ffi::F32> cp,
                          ffi::Buffer<ffi::F32> cT, ffi::Buffer<ffi::F32> dys,
                          ffi::Buffer<ffi::F32> dhT, ffi::Buffer<ffi::F32> dcT,
                          ffi::ResultBuffer<ffi::F32> dz, ffi::ResultBuffer<ffi::F32> dw,
                          ffi::ResultBuffer<ffi::F32> du, ffi::ResultBuffer<ffi::F32> db,
                          ffi::ResultBuffer<ffi::F32> dh0, ffi::ResultBuffer<ffi::F32> dc0,
                          int64_t zero_output) {
  auto dims = x.dimensions();
  const int B = dims[0], T = dims[1], D = dims[2], u = U.dimensions()[0], g4 = 4 * u;
  const int64_t S = int64_t(B) * u;
  float* dh = dh0->typed_data();
  float* dc = dc0->typed_data();
  std::memcpy(dh, dhT.typed_data(), sizeof(float) * S);
  std::memcpy(dc, dcT.typed_data(), sizeof(float) * S);
  float* dZ = dz->typed_data();  // the gates' buffer (lstm.py aliases them): step t's gates are
                                 // read before its dz is written
  std::vector<float> db_groups(size_t(kGroups) * g4, 0.0f);
  const bool packed = T >= kPackSteps || B > 4;
  Packed Ut;
  if (packed) pack(Ut, g4, u, U.typed_data(), 1, g4);  // U^T (4u, u)
  const int64_t ldg = int64_t(T) * g4, lds = int64_t(T) * u;
  // Step t back, rows [b0, b1) and units [j0, j1).
  auto gates_back = [&](int t, int b0, int b1, int j0, int j1) {
    const bool last = t == T - 1;
    BackStep s{.B = B, .u = u, .g = gates.typed_data() + int64_t(t) * g4,
               .dz = dZ + int64_t(t) * g4, .ldg = ldg,
               .c_new = last ? cT.typed_data() : cp.typed_data() + int64_t(t + 1) * u,
               .ld_new = last ? u : lds, .c_old = cp.typed_data() + int64_t(t) * u,
               .dy = dys.typed_data() + int64_t(t) * u, .lds = lds, .dh = dh, .dc = dc,
               .db_groups = db_groups.data(),
               .mask = mask.element_count() > 0 ? mask.typed_data() + t : nullptr, .ldm = T,
               .zero_output = zero_output != 0, .fetch_previous = t > 0};
    lstm_gates_bwd(s, b0, b1, j0, j1);
  };
  // dh (rows [b0, b1), units of panels [p0, p1)) += dz_t @ U^T
  auto dh_acc = [&](int t, int b0, int b1, int p0, int p1) {
    panels_acc<false>(b1 - b0, dZ + b0 * ldg + int64_t(t) * g4, int(ldg), &Ut, dh + int64_t(b0) * u,
                      u, p0, p1);
  };
  if (packed) {
    backward_loop(B, T, u, Ut, 2.0 * B * g4 * u, gates_back, dh_acc);
  } else {  // a few rows (streaming): matrix-vector products over U as it is
    for (int t = T - 1; t >= 0; --t) {
      gates_back(t, 0, B, 0, u);
      for (int r = 0; r < B; ++r) {
        mat_vec_acc(u, g4, U.typed_data(), dZ + r * ldg + int64_t(t) * g4, dh + int64_t(r) * u);
      }
    }
  }
  float* dbv = db->typed_data();
  std::memset(dbv, 0, sizeof(float) * g4);
  for (int k = 0; k < kGroups; ++k) {
    for (int j = 0; j < g4; ++j) dbv[j] += db_groups[size_t(k) * g4 + j];
  }
  // Weight gradients, whole-sequence products over the batch-major samples (b, t): dW = X^T dZ,
  // dU = H_before^T dZ.
  const int N = B * T;
  float* dW = dw->typed_data();
  float* dU = du->typed_data();
  std::memset(dW, 0, sizeof(float) * D * g4);
  std::memset(dU, 0, sizeof(float) * u * g4);
  if (N > 0) {
    // X^T (D, N) @ dZ (N, 4u) and H^T (u, N) @ dZ
    gemm_packed({{D, x.typed_data(), D, dW}, {u, hp.typed_data(), u, dU}}, g4, N, dZ, g4, g4);
  }
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(lstmkit_lstm_bwd, LstmBwd,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()   // x (B, T, D)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // recurrent kernel (u, 4u)
                                  .Arg<ffi::Buffer<ffi::PRED>>()  // mask (B, T) or (0,)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // gates (B, T, 4u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // h before each step (B, T, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // c before each step (B, T, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // final c (B, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // d outputs (B, T, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // d final h (B, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // d final c (B, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d pre-activations (B, T, 4u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d kernel (D, 4u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d recurrent kernel (u, 4u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d bias (4u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d h0 (B, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d c0 (B, u)
                                  .Attr<int64_t>("zero_output"));

// ----- the GRU -------------------------------------------------------------------------------
#include "gru_cpu.h"
