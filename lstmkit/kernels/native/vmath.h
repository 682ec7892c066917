// The activations' arithmetic, for lstm_cpu.cc (included there), on one float or on 16 lanes
// (v16): the same operations in the same order, so the streamed step, the fused step's
// registers and the backward's loops compute the same values.
#pragma once

#include <cstdint>

typedef int32_t vi16 __attribute__((vector_size(64)));

static inline int32_t to_int(float x) { return static_cast<int32_t>(x); }
static inline vi16 to_int(v16 x) { return __builtin_convertvector(x, vi16); }
static inline float from_bits(int32_t b) { return __builtin_bit_cast(float, b); }
static inline v16 from_bits(vi16 b) { return __builtin_bit_cast(v16, b); }

// exp (Cephes's polynomial; rounding by adding 1.5 * 2^23, since floor does not vectorize without
// -fno-trapping-math). NaN stays NaN; the range is clamped so that the result is finite (sigmoid
// and tanh saturate correctly at +-inf).
template <class V>
static inline V approx_exp(V x) {
  const V hi = V{} + 88.0f, lo = V{} - 87.0f, big = V{} + 12582912.0f;
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  const V fx = (x * 1.44269504088896341f + big) - big;  // round(x / ln 2)
  V r = x - fx * 0.693359375f;
  r = r + fx * 2.12194440e-4f;
  V y = V{} + 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  return y * from_bits((to_int(fx) + 127) << 23);  // y * 2^fx
}

template <class V>
static inline V approx_sigmoid(V x) {
  return 1.0f / (1.0f + approx_exp(-x));
}

template <class V>
static inline V approx_tanh(V x) {
  return 1.0f - 2.0f / (approx_exp(2.0f * x) + 1.0f);
}
