// lstmkit's native CPU LSTM: the whole time loop in C++, fused gate loops.
//
// Compiled on first use by lstmkit/kernels/native/build.py and registered with jax.ffi. Products
// run on packed_gemm.h's kernels (the weights packed once per call); a streamed step (fewer than
// 4 steps of at most 4 rows) runs matrix-vector loops; whole-sequence products of 10 GFLOP and
// more call scipy's OpenBLAS sgemm (scipy.linalg.cython_blas: Fortran ABI, column-major, every
// argument by pointer; its address and the thread count handed in once by lstmkit_native_init). Measured on the
// 2-core machine: OpenBLAS's threads, which wait spinning between calls, slowed the train step
// up to 6x while XLA's threads and other processes ran, and a streamed step 3-10x.
//
// Layouts (row-major, time-major): x (T, B, D), kernel W (D, 4u), bias (4u), recurrent kernel
// U (u, 4u), states (B, u), mask (T, B) booleans or an empty array for "no mask". Gate order is
// Keras's: i, f, c (candidate), o. A row-major (r, c) matrix is a column-major (c, r) one, so the
// row-major product C = A @ B is the column-major C^T = B^T A^T: every call below passes the
// operands swapped.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

typedef void (*sgemm_t)(const char*, const char*, const int*, const int*, const int*,
                        const float*, const float*, const int*, const float*, const int*,
                        const float*, float*, const int*);

static sgemm_t g_sgemm = nullptr;

static int g_threads = 1;  // the cores this process may use (two at most are used)

extern "C" void lstmkit_native_init(void* sgemm, int threads) {
  g_sgemm = reinterpret_cast<sgemm_t>(sgemm);
  g_threads = threads < 1 ? 1 : threads;
}

// Row-major C (m, n) = alpha * op(A) @ op(B) + beta * C, with A (m, k) or (k, m) if ta, etc.
static void gemm_rm(bool ta, bool tb, int m, int n, int k, const float* a, int lda,
                    const float* b, int ldb, float beta, float* c, int ldc) {
  const float one = 1.0f;
  const char tra = tb ? 'T' : 'N', trb = ta ? 'T' : 'N';
  g_sgemm(&tra, &trb, &n, &m, &k, &one, b, &ldb, a, &lda, &beta, c, &ldc);
}

#include "packed_gemm.h"

// A whole-sequence product C (M, N) += op(A) (M, K) @ B (K, N), B row-major: the packed kernel,
// or OpenBLAS for the largest (there its blocking wins, and the wait of its threads after the
// call is small beside the product).
template <bool TA>
static void seq_gemm(int M, int N, int K, const float* A, int lda, const float* B, float* C) {
  if (2.0 * M * N * K >= 1e10) {
    gemm_rm(TA, false, M, N, K, A, lda, B, N, 1.0f, C, N);
  } else {
    gemm_packed<TA>(M, N, K, A, lda, B, N, 1, C, N);
  }
}

// exp in float, vectorizable (Cephes's polynomial; rounding by adding 1.5 * 2^23, since floor
// does not vectorize without -fno-trapping-math). NaN stays NaN; the range is clamped so that the
// result is finite (sigmoid and tanh saturate correctly at +-inf).
static inline float fexp(float x) {
  x = x > 88.0f ? 88.0f : x;
  x = x < -87.0f ? -87.0f : x;
  const float fx = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2)
  float r = x - fx * 0.693359375f;
  r = r + fx * 2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(fx) + 127) << 23;  // 2^fx
  return y * __builtin_bit_cast(float, bits);
}

static inline float fsigmoid(float x) { return 1.0f / (1.0f + fexp(-x)); }
static inline float ftanh(float x) { return 1.0f - 2.0f / (fexp(2.0f * x) + 1.0f); }

// ----- forward -------------------------------------------------------------------------------
// One step's gates for every row: z (B, 4u) pre-activations in, post-activations out (i, f, c~,
// o); the carried states h, c (B, u) updated where the row is unmasked; y (B, u) the output.
static void lstm_gates(int B, int u, float* z, float* h, float* c, float* y, const bool* m,
                       bool zero_output) {
  for (int b = 0; b < B; ++b) {
    float* __restrict zi = z + b * 4 * u;
    float* __restrict zf = zi + u;
    float* __restrict zc = zi + 2 * u;
    float* __restrict zo = zi + 3 * u;
    float* __restrict hb = h + b * u;
    float* __restrict cb = c + b * u;
    float* __restrict yb = y + b * u;
    if (m != nullptr && !m[b]) {  // Keras's masking: states carried, the previous output
      if (zero_output) {          // repeated (or zeros)
        std::memset(yb, 0, sizeof(float) * u);
      } else {
        std::memcpy(yb, hb, sizeof(float) * u);
      }
      // The backward skips this row, but the glass box shows the gates as the step computed
      // them (as the reference scan does), so they are activated all the same.
      for (int j = 0; j < u; ++j) {
        zi[j] = fsigmoid(zi[j]);
        zf[j] = fsigmoid(zf[j]);
        zc[j] = ftanh(zc[j]);
        zo[j] = fsigmoid(zo[j]);
      }
      continue;
    }
#pragma GCC ivdep  // the gate, state and output rows never overlap
    for (int j = 0; j < u; ++j) {
      const float i = fsigmoid(zi[j]), f = fsigmoid(zf[j]), g = ftanh(zc[j]);
      const float o = fsigmoid(zo[j]);
      zi[j] = i;
      zf[j] = f;
      zc[j] = g;
      zo[j] = o;
      const float cn = f * cb[j] + i * g;
      const float hn = o * ftanh(cn);
      cb[j] = cn;
      hb[j] = hn;
      yb[j] = hn;
    }
  }
}

static ffi::Error LstmFwd(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w,
                          ffi::Buffer<ffi::F32> bias, ffi::Buffer<ffi::F32> U,
                          ffi::Buffer<ffi::F32> h0, ffi::Buffer<ffi::F32> c0,
                          ffi::Buffer<ffi::PRED> mask, ffi::ResultBuffer<ffi::F32> ys,
                          ffi::ResultBuffer<ffi::F32> hT, ffi::ResultBuffer<ffi::F32> cT,
                          ffi::ResultBuffer<ffi::F32> gates, ffi::ResultBuffer<ffi::F32> hs,
                          ffi::ResultBuffer<ffi::F32> cs, int64_t zero_output) {
  if (g_sgemm == nullptr) return ffi::Error::Internal("lstmkit native: BLAS not initialised");
  auto dims = x.dimensions();
  const int T = dims[0], B = dims[1], D = dims[2], u = U.dimensions()[0], g4 = 4 * u;
  const bool save = hs->element_count() > 0;
  const bool* mk = mask.element_count() > 0 ? mask.typed_data() : nullptr;
  float* z = gates->typed_data();  // (T, B, 4u): pre-activations, then post-activations
  float* h = hT->typed_data();
  float* c = cT->typed_data();
  std::memcpy(h, h0.typed_data(), sizeof(float) * B * u);
  std::memcpy(c, c0.typed_data(), sizeof(float) * B * u);
  if (T == 0) return ffi::Error::Success();
  // The whole sequence's input projection in one product: z = x @ W + bias.
  const float* bv = bias.typed_data();
  for (int64_t r = 0; r < int64_t(T) * B; ++r) std::memcpy(z + r * g4, bv, sizeof(float) * g4);
  if (int64_t(T) * B <= 4) {  // a few rows (streaming): matrix-vector products, no packing of W
    for (int r = 0; r < T * B; ++r) vec_mat_acc(D, g4, w.typed_data(), x.typed_data() + r * D, z + r * g4);
  } else {
    seq_gemm<false>(T * B, g4, D, x.typed_data(), D, w.typed_data(), z);
  }
  // Packing costs one pass over U: worth it over several steps, not for a streamed step.
  const bool packed = T >= kPackSteps || B > 4;
  Packed Up;
  if (packed) pack(Up, u, g4, U.typed_data(), g4, 1);  // U (u, 4u)
  // Rows [b0, b1) of every step; rows are independent, so two threads can share the batch.
  auto run_rows = [&](int b0, int b1, bool may_split) {
    const int rows = b1 - b0;
    float* hr = h + int64_t(b0) * u;
    float* cr = c + int64_t(b0) * u;
    for (int t = 0; t < T; ++t) {
      float* zt = z + (int64_t(t) * B + b0) * g4;
      if (packed) {
        packed_acc(rows, hr, u, Up, zt, g4, may_split);  // (rows, 4u) += (rows, u) @ (u, 4u)
      } else {
        for (int r = 0; r < rows; ++r) vec_mat_acc(u, g4, U.typed_data(), hr + r * u, zt + r * g4);
      }
      const int64_t at = (int64_t(t) * B + b0) * u;
      lstm_gates(rows, u, zt, hr, cr, ys->typed_data() + at,
                 mk ? mk + int64_t(t) * B + b0 : nullptr, zero_output != 0);
      if (save) {
        std::memcpy(hs->typed_data() + at, hr, sizeof(float) * rows * u);
        std::memcpy(cs->typed_data() + at, cr, sizeof(float) * rows * u);
      }
    }
  };
  if (packed && split_batch(T, B, u)) {
    std::thread other(run_rows, B / 2, B, false);
    run_rows(0, B / 2, false);
    other.join();
  } else {
    run_rows(0, B, true);
  }
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(lstmkit_lstm_fwd, LstmFwd,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()   // x (T, B, D)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // kernel (D, 4u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // bias (4u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // recurrent kernel (u, 4u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // h0 (B, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // c0 (B, u)
                                  .Arg<ffi::Buffer<ffi::PRED>>()  // mask (T, B) or (0,)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // outputs (T, B, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // final h (B, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // final c (B, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // gates (T, B, 4u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // carried h (T, B, u) or (0,)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // carried c (T, B, u) or (0,)
                                  .Attr<int64_t>("zero_output"));

// ----- backward ------------------------------------------------------------------------------
// One step back for every row: dz (B, 4u) the pre-activation gradients; dh, dc (B, u) the
// carried states' gradients, in: after step t, out: before it (dh still lacks dz @ U^T).
static void lstm_gates_bwd(int B, int u, const float* g, const float* c_new, const float* c_old,
                           const float* dy, float* dh, float* dc, float* dz, const bool* m,
                           bool zero_output) {
  for (int b = 0; b < B; ++b) {
    const float* __restrict gi = g + b * 4 * u;
    const float* __restrict gf = gi + u;
    const float* __restrict gc = gi + 2 * u;
    const float* __restrict go = gi + 3 * u;
    const float* __restrict cn = c_new + b * u;
    const float* __restrict co = c_old + b * u;
    const float* __restrict dyb = dy + b * u;
    float* __restrict dhb = dh + b * u;
    float* __restrict dcb = dc + b * u;
    float* __restrict dzi = dz + b * 4 * u;
    if (m != nullptr && !m[b]) {  // a masked step: the states passed through, no gate gradient
      std::memset(dzi, 0, sizeof(float) * 4 * u);
      if (!zero_output) {
        for (int j = 0; j < u; ++j) dhb[j] += dyb[j];
      }
      continue;
    }
#pragma GCC ivdep  // the rows read and written never overlap
    for (int j = 0; j < u; ++j) {
      const float i = gi[j], f = gf[j], cc = gc[j], o = go[j];
      const float tc = ftanh(cn[j]);
      const float dhn = dhb[j] + dyb[j];
      const float dct = dcb[j] + dhn * o * (1.0f - tc * tc);
      dzi[j] = dct * cc * i * (1.0f - i);
      dzi[u + j] = dct * co[j] * f * (1.0f - f);
      dzi[2 * u + j] = dct * i * (1.0f - cc * cc);
      dzi[3 * u + j] = dhn * tc * o * (1.0f - o);
      dcb[j] = dct * f;
      dhb[j] = 0.0f;
    }
  }
}

static ffi::Error LstmBwd(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> U,
                          ffi::Buffer<ffi::F32> h0, ffi::Buffer<ffi::F32> c0,
                          ffi::Buffer<ffi::PRED> mask, ffi::Buffer<ffi::F32> gates,
                          ffi::Buffer<ffi::F32> hs, ffi::Buffer<ffi::F32> cs,
                          ffi::Buffer<ffi::F32> dys, ffi::Buffer<ffi::F32> dhT,
                          ffi::Buffer<ffi::F32> dcT, ffi::ResultBuffer<ffi::F32> dz,
                          ffi::ResultBuffer<ffi::F32> dw, ffi::ResultBuffer<ffi::F32> du,
                          ffi::ResultBuffer<ffi::F32> db, ffi::ResultBuffer<ffi::F32> dh0,
                          ffi::ResultBuffer<ffi::F32> dc0, int64_t zero_output) {
  if (g_sgemm == nullptr) return ffi::Error::Internal("lstmkit native: BLAS not initialised");
  auto dims = x.dimensions();
  const int T = dims[0], B = dims[1], D = dims[2], u = U.dimensions()[0], g4 = 4 * u;
  const int64_t S = int64_t(B) * u;  // one step of states
  const bool* mk = mask.element_count() > 0 ? mask.typed_data() : nullptr;
  float* dh = dh0->typed_data();
  float* dc = dc0->typed_data();
  std::memcpy(dh, dhT.typed_data(), sizeof(float) * S);
  std::memcpy(dc, dcT.typed_data(), sizeof(float) * S);
  float* dZ = dz->typed_data();
  const bool packed = T >= kPackSteps || B > 4;
  Packed Ut;
  if (packed) pack(Ut, g4, u, U.typed_data(), 1, g4);  // U^T (4u, u)
  auto run_rows = [&](int b0, int b1, bool may_split) {
    const int rows = b1 - b0;
    float* dhr = dh + int64_t(b0) * u;
    float* dcr = dc + int64_t(b0) * u;
    for (int t = T - 1; t >= 0; --t) {
      const int64_t at = t * S + int64_t(b0) * u;
      const float* c_old = t > 0 ? cs.typed_data() + at - S : c0.typed_data() + int64_t(b0) * u;
      float* dzt = dZ + (int64_t(t) * B + b0) * g4;
      lstm_gates_bwd(rows, u, gates.typed_data() + (int64_t(t) * B + b0) * g4,
                     cs.typed_data() + at, c_old, dys.typed_data() + at, dhr, dcr, dzt,
                     mk ? mk + int64_t(t) * B + b0 : nullptr, zero_output != 0);
      if (packed) {  // dh (rows, u) += dz (rows, 4u) @ U^T (4u, u)
        packed_acc(rows, dzt, g4, Ut, dhr, u, may_split);
      } else {
        for (int r = 0; r < rows; ++r) mat_vec_acc(u, g4, U.typed_data(), dzt + r * g4, dhr + r * u);
      }
    }
  };
  if (packed && split_batch(T, B, u)) {
    std::thread other(run_rows, B / 2, B, false);
    run_rows(0, B / 2, false);
    other.join();
  } else {
    run_rows(0, B, true);
  }
  // Weight gradients, whole-sequence products: dW = X^T dZ, dU = H_prev^T dZ, db = sum dZ.
  const int N = T * B;
  float* dW = dw->typed_data();
  float* dU = du->typed_data();
  std::memset(dW, 0, sizeof(float) * D * g4);
  std::memset(dU, 0, sizeof(float) * u * g4);
  if (N > 0) {
    seq_gemm<true>(D, g4, N, x.typed_data(), D, dZ, dW);  // X^T (D, N) @ dZ
    seq_gemm<true>(u, g4, B, h0.typed_data(), u, dZ, dU);  // step 0: h0
    if (T > 1) {  // H_prev of steps 1.. is the carried h of steps 0..T-2
      seq_gemm<true>(u, g4, N - B, hs.typed_data(), u, dZ + int64_t(B) * g4, dU);
    }
  }
  float* dbv = db->typed_data();
  std::memset(dbv, 0, sizeof(float) * g4);
  for (int64_t r = 0; r < N; ++r) {
    const float* row = dZ + r * g4;
    for (int j = 0; j < g4; ++j) dbv[j] += row[j];
  }
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(lstmkit_lstm_bwd, LstmBwd,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()   // x (T, B, D)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // recurrent kernel (u, 4u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // h0 (B, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // c0 (B, u)
                                  .Arg<ffi::Buffer<ffi::PRED>>()  // mask (T, B) or (0,)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // gates (T, B, 4u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // carried h (T, B, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // carried c (T, B, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // d outputs (T, B, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // d final h (B, u)
                                  .Arg<ffi::Buffer<ffi::F32>>()   // d final c (B, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d pre-activations (T, B, 4u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d kernel (D, 4u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d recurrent kernel (u, 4u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d bias (4u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d h0 (B, u)
                                  .Ret<ffi::Buffer<ffi::F32>>()   // d c0 (B, u)
                                  .Attr<int64_t>("zero_output"));
