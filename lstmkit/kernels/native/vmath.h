// The activations' arithmetic, for lstm_cpu.cc (included there), on one float or on a vector
// (vec): the same operations in the same order (on AVX-512, exp's rounding and scaling are one
// instruction each, with the same results), so the streamed step, the fused step's registers
// and the backward's loops compute the same values.
#pragma once

#include <cstdint>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

typedef int32_t vint __attribute__((vector_size(4 * kLanes)));

static inline int32_t to_int(float x) { return static_cast<int32_t>(x); }
static inline vint to_int(vec x) { return __builtin_convertvector(x, vint); }
static inline float from_bits(int32_t b) { return __builtin_bit_cast(float, b); }
static inline vec from_bits(vint b) { return __builtin_bit_cast(vec, b); }

// exp (Cephes's polynomial; rounding by adding 1.5 * 2^23, since floor does not vectorize without
// -fno-trapping-math). NaN stays NaN; the range is clamped so that the result is finite (sigmoid
// and tanh saturate correctly at +-inf).
template <class V>
static inline V exp_clamped(V x) {
  const V hi = V{} + 88.0f, lo = V{} - 87.0f;
  x = x > hi ? hi : x;
  return x < lo ? lo : x;
}

// exp(x) / 2^fx for fx = round(x / ln 2): the polynomial on the reduced argument.
template <class V>
static inline V exp_reduced(V x, V fx) {
  V r = x - fx * 0.693359375f;
  r = r + fx * 2.12194440e-4f;
  V y = V{} + 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  return y * r * r + r + 1.0f;
}

template <class V>
static inline V approx_exp(V x) {
  x = exp_clamped(x);
  const V big = V{} + 12582912.0f;
  const V fx = (x * 1.44269504088896341f + big) - big;  // round(x / ln 2)
  return exp_reduced(x, fx) * from_bits((to_int(fx) + 127) << 23);  // y * 2^fx
}

#ifdef __AVX512F__
// The same exp on AVX-512's 16 lanes with its rounding and scaling instructions: one instruction
// each where the portable form takes two and four. The results are the same bits (fx is rounded to
// nearest even either way, and 2^fx is a normal float over the clamped range); the LSTM's forward
// ran 1 % faster (its five activations were 5 % of it at (64, 100, 128, 256)).
static inline vec approx_exp(vec x) {
  x = exp_clamped(x);
  const __m512 scaled = __builtin_bit_cast(__m512, x * 1.44269504088896341f);
  const __m512 fx = _mm512_roundscale_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const vec y = exp_reduced(x, __builtin_bit_cast(vec, fx));
  return __builtin_bit_cast(vec, _mm512_scalef_ps(__builtin_bit_cast(__m512, y), fx));
}
#endif

template <class V>
static inline V approx_sigmoid(V x) {
  return 1.0f / (1.0f + approx_exp(-x));
}

template <class V>
static inline V approx_tanh(V x) {
  return 1.0f - 2.0f / (approx_exp(2.0f * x) + 1.0f);
}
