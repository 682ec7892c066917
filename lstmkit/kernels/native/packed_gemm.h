// Register-blocked products over a packed right-hand side, for lstm_cpu.cc (included there).
//
// BLAS's sgemm packs both operands on every call; in a time loop the recurrent kernel is the same
// at every step, so it is packed once per call (panels of kPanel columns, K rows each) and each
// step runs a register-blocked kernel over it: C (rows, N) += A (rows, K) @ P. GCC's vector
// extension keeps the code portable (one register per vector). Work is split between the threads
// of pool.h's pool.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <type_traits>
#include <utility>
#include <vector>

// One vector is one register of this CPU: 16 floats with AVX-512, 8 with AVX, 4 otherwise. (A
// vector wider than the registers was a pair of them, and GCC spilled a tile's sums to the stack
// and built each broadcast from scalar moves: on an AVX2 CPU the forward ran 17x slower.)
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float vec __attribute__((vector_size(4 * kLanes)));
constexpr int kPanel = 4 * kLanes;  // columns per panel: 4 vectors
constexpr int kPackSteps = 4;  // fewer steps of at most 4 rows: matrix-vector products
// A register tile: kRows rows by kPass of a panel row's 4 vectors, its sums, the panel's kPass
// vectors and a broadcast in the registers. With 32 registers (AVX-512, ARM64): 6 rows by all 4
// (24 sums). With AVX's 16: 6 rows by 2 (12 sums), the panel row in two passes. (2 rows by 4 fit
// too, but their 8 sums were too few to hide the FMA's latency, and 2 broadcasts to 4 panel
// loads left the loads setting the pace: the forward at (64, 100, 128, 256) on an AVX2 CPU ran
// 0.8x as long as before in two passes.) The sums are taken in the same order either way.
#if defined(__AVX512F__) || defined(__aarch64__)
constexpr int kPass = 4;
#else
constexpr int kPass = 2;
#endif
constexpr int kRows = 6;

// v, kept in a register for a tile's rows: with AVX's 16 registers GCC otherwise read a panel
// row's vectors again for every row, as an operand of the FMA (a load per FMA). With 32
// registers it keeps them there anyway. By value: the same asm on a reference (to a member or
// an array element) kept the vector in memory, and with it the tile's sums (a load and a store
// with every FMA: the forward on an AVX2 CPU ran at a third of the FMA peak).
static inline vec in_register(vec v) {
#if defined(__x86_64__) && !defined(__AVX512F__)
  asm("" : "+x"(v));
#endif
  return v;
}

// A panel row's kPass vectors, in registers.
struct PanelRow {
  vec b0, b1, b2, b3;
  explicit PanelRow(const vec* row) {
    b0 = in_register(row[0]);
    b1 = in_register(row[1]);
    if constexpr (kPass == 4) {
      b2 = in_register(row[2]);
      b3 = in_register(row[3]);
    }
  }
  // acc[g] += a * b_g for the kPass vectors.
  void fma(vec* acc, float a) const {
    acc[0] += a * b0;
    acc[1] += a * b1;
    if constexpr (kPass == 4) {
      acc[2] += a * b2;
      acc[3] += a * b3;
    }
  }
};

// Reading the next rows of a packed operand into the cache while a product runs over the current
// ones, spread over the product's calls: one prefetch per packed row a call runs, `step` bytes
// apart. A P that does not fit in L2 (kFetchBytes) comes from memory at every step, and the
// first tile over each panel waited on its loads: on Zen 3, a (64, 100, 256, 1024) forward
// step ran at 43 GFLOP/s on one core, 54 with the next panel fetched ahead. (Over a P that L2 or
// L3 holds, the prefetches cost 3-5 %.)
constexpr double kFetchBytes = 3e6;
struct Prefetch {
  const char* at = nullptr;
  int64_t step = 0;
  void next() {
    __builtin_prefetch(at, 0, 2);
    at += step;
  }
};

// The prefetches of one chunk's product calls: each call in turn gets its share of the `bytes`
// at `from`, one prefetch per packed row it runs (`rows` of them), or none when `on` is false.
struct ChunkFetch {
  const char* from;
  int64_t bytes;
  int calls, rows;
  bool on;
  int c = 0;  // the calls so far
  Prefetch share() {
    const int64_t slice = (bytes + calls - 1) / calls, i = c++;
    return on ? Prefetch{from + slice * i, (slice + rows - 1) / rows} : Prefetch{};
  }
};

// f(std::true_type{}) when pf has rows to fetch, else f(std::false_type{}): a product is compiled
// both ways and chosen per call.
template <class F>
static void by_fetch(const Prefetch& pf, const F& f) {
  if (pf.step != 0) {
    f(std::true_type{});
  } else {
    f(std::false_type{});
  }
}

struct Packed {
  int K = 0, N = 0, panels = 0;
  std::vector<vec> data;  // panels * K * 4 vectors, zero-padded past N
  const float* panel(int p) const { return reinterpret_cast<const float*>(data.data()) + int64_t(p) * K * kPanel; }
  double bytes() const { return double(sizeof(vec)) * data.size(); }
};

// Pack B (K, N) given by element (k, n) -> src[k * sk + n * sn].
static void pack(Packed& P, int K, int N, const float* src, int64_t sk, int64_t sn) {
  P.K = K;
  P.N = N;
  P.panels = (N + kPanel - 1) / kPanel;
  P.data.resize(size_t(P.panels) * K * 4);  // no zeroing: every float is written below
  float* dst = reinterpret_cast<float*>(P.data.data());
  for (int p = 0; p < P.panels; ++p) {
    const int n0 = p * kPanel, width = std::min(kPanel, N - n0);
    for (int k = 0; k < K; ++k) {
      float* row = dst + (int64_t(p) * K + k) * kPanel;
      const float* from = src + int64_t(k) * sk + n0 * sn;
      if (sn == 1 && width == kPanel) {  // a size known here: vector moves, not a libc call
        std::memcpy(row, from, sizeof(float) * kPanel);
      } else if (sn == 1) {
        std::memcpy(row, from, sizeof(float) * width);
      } else {
        for (int c = 0; c < width; ++c) row[c] = from[c * sn];
      }
      std::memset(row + width, 0, sizeof(float) * (kPanel - width));
    }
  }
}

// The cache lines of floats [j0, j1) at p into the cache (kWrite: they are to be written).
template <bool kWrite = false>
static inline void fetch_floats(const float* p, int j0, int j1) {
  for (int j = j0; j < j1; j += 64 / sizeof(float)) __builtin_prefetch(p + j, kWrite, 3);
}

// A's element (r, k) is A[r * lda + k], or A[k * lda + r] when TA (A given transposed). The
// panel row's vectors in passes of kPass. The tile's rows of C are fetched into the cache
// before the product, which takes long enough to hide the wait: their rows lie ldc floats apart
// (4u for the weight gradients, tens of MB of them in all at 1024 units) and the sums were
// added to C from memory: 10 % of gemm_packed's time on Zen 3 at (256 + 1024, 4096, 6400), one
// core 61-66 -> 67-72 GFLOP/s in alternating runs.
template <int R, bool TA, bool kFetch = false>
static void tile(int K, const float* A, int lda, const float* panel, float* C, int ldc, int width,
                 Prefetch pf = {}) {
  for (int v0 = 0; v0 < 4 && v0 * kLanes < width; v0 += kPass) {
    for (int r = 0; r < R; ++r) {
      fetch_floats<true>(C + int64_t(r) * ldc + v0 * kLanes, 0, kPass * kLanes);
    }
    vec acc[R][kPass] = {};
    const vec* pv = reinterpret_cast<const vec*>(panel) + v0;
    for (int k = 0; k < K; ++k, pv += 4) {
      const PanelRow b(pv);
      if constexpr (kFetch) pf.next();
      for (int r = 0; r < R; ++r) {
        const float a = TA ? A[int64_t(k) * lda + r] : A[int64_t(r) * lda + k];
        b.fma(acc[r], a);
      }
    }
    const int j1 = std::min(width, (v0 + kPass) * kLanes);
    for (int r = 0; r < R; ++r) {
      float t[kPass * kLanes];
      std::memcpy(t, acc[r], sizeof(t));
      float* c = C + int64_t(r) * ldc + v0 * kLanes;
      for (int j = 0; j < j1 - v0 * kLanes; ++j) c[j] += t[j];
    }
  }
}

// Rows [r0, r1) in register tiles of at most kRows rows, as even as can be (16 rows: 6, 5, 5,
// not 6, 6, 4 or 6, 6, 2: a tile of few rows wastes most of its loads): f(first row, rows).
template <class F>
static void for_tiles(int r0, int r1, const F& f) {
  const int rows = r1 - r0, tiles = (rows + kRows - 1) / kRows;
  for (int t = 0, r = r0; t < tiles; ++t) {
    const int n = rows / tiles + (t < rows % tiles ? 1 : 0);
    f(r, n);
    r += n;
  }
}

// f(std::integral_constant<int, R>{}) for R = rows (1 to kRows): the code a register tile of R
// rows runs is compiled for each R (its loops over rows unrolled, its copies of fixed size).
template <class F>
static void with_rows(int rows, const F& f) {
  switch (rows) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 5: f(std::integral_constant<int, 5>{}); break;
    default: f(std::integral_constant<int, kRows>{}); break;
  }
}

// How many packed rows (K) a register tile runs through before the next tile of rows takes the
// same ones, in the time steps' products (step_block, gru_block) and panels_acc. In chunks of
// 128 rows (32 KB of a panel) a chunk stays in L1 while every tile passes over it, and the
// tiles' sums wait in memory between chunks: on the machine this was tuned on, the whole panel
// at once (each tile reading it from L2) was 30 % slower at batch 64, 384 x 1024. AMD's Zen 4
// runs a 512-bit FMA a cycle (two 256-bit halves), half that machine's rate: L2 delivers a
// panel row's four vectors in less time than a tile's 4R FMAs take, and the whole panel was
// faster. Paired A/B on Zen 4, same bits: the LSTM forward 0.96x, 0.97x, 0.87x at (32, 80,
// 128, 128), (64, 100, 128, 256), (64, 100, 256, 1024), the GRU's 0.98x, 0.96x, 0.85x; the
// train step 0.95-0.98x (with panels_acc's whole panel too: dh's sums change in the last bits).
// Zen 5 (family 1Ah) runs two 512-bit FMAs a cycle, yet its 1 MB L2 keeps up as well: the
// whole panel there, LSTM forward 0.98x, 0.94x, 0.87x, train step 0.98x, 0.97x, 0.95x. Zen 3
// (AVX2, 512 KB of L2 a core) too: LSTM forward 0.98x, 0.88x, 0.93x, train step 0.99x, 0.97x,
// 0.89x. But not a whole panel of U^T in the backward at 1024 units (K = 4096 rows: 512 KB
// with AVX2, all of Zen 3's L2): chunks of 512 rows, panels_acc at batch 64 on one Zen 3 core
// (five alternating runs, medians) 48 against 57 ms; the forward step at K = 1280, 155 against
// 162 ms. At most 512 rows, then, on AMD's CPUs (a whole panel at the shapes below 512 rows;
// on Zen 4 and Zen 5, 512 rows against whole panels at the larger K was not measured).
static int g_k_chunk = 128;

// The chunk for this CPU: 512 rows on AMD's (Zen 3, Zen 4, Zen 5), 128 elsewhere.
static int default_k_chunk() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_is("amd")) return 512;
#endif
  return 128;
}

// The rows that follow [k0, k1) of panel p in a loop over panels [p, p1) by chunks of `chunk`
// rows, panels of K rows of `row_bytes` each from `first` on: the next chunk, or the next
// panel's first (the last panel's own, at the end). Their address and bytes.
static std::pair<const char*, int64_t> next_rows(const void* first, int K, int64_t row_bytes,
                                                 int p, int p1, int k1, int chunk) {
  const bool same = k1 < K;
  const int rows = same ? std::min(chunk, K - k1) : std::min(chunk, K);
  const int64_t at = (int64_t(same ? p : std::min(p + 1, p1 - 1)) * K + (same ? k1 : 0)) *
                     row_bytes;
  return {static_cast<const char*>(first) + at, rows * row_bytes};
}
static std::pair<const char*, int64_t> next_rows(const Packed& P, int p, int p1, int k1,
                                                 int chunk) {
  return next_rows(P.panel(0), P.K, kPanel * 4, p, p1, k1, chunk);
}

// Panels [p0, p1) of C += A @ P. K in chunks of g_k_chunk rows.
template <bool TA>
static void panels_acc(int rows, const float* A, int lda, const Packed* P, float* C, int ldc,
                       int p0, int p1) {
  const int chunk = g_k_chunk, calls = (rows + kRows - 1) / kRows;
  const bool big = P->bytes() > kFetchBytes;
  for (int p = p0; p < p1; ++p) {
    const int n0 = p * kPanel, width = std::min(kPanel, P->N - n0);
    for (int k0 = 0; k0 < P->K; k0 += chunk) {
      const int kc = std::min(chunk, P->K - k0);
      const float* panel = P->panel(p) + int64_t(k0) * kPanel;
      const auto [next, bytes] = next_rows(*P, p, p1, k0 + kc, chunk);
      ChunkFetch fetch{next, bytes, calls, kc * (4 / kPass), big};
      for_tiles(0, rows, [&](int r, int n) {
        const float* a = TA ? A + int64_t(k0) * lda + r : A + int64_t(r) * lda + k0;
        const Prefetch pf = fetch.share();
        with_rows(n, [&](auto R) {
          by_fetch(pf, [&](auto f) {
            tile<R, TA, f>(kc, a, lda, panel, C + int64_t(r) * ldc + n0, ldc, width, pf);
          });
        });
      });
    }
  }
}

// Below this many FLOPs a product or a step runs on one thread: handing work to the pool's other
// thread and waiting for it costs a few microseconds.
constexpr double kSplitFlops = 4e5;

// The threads for `flops` of work: all of the pool's, or one.
static int threads_for(double flops) { return flops >= kSplitFlops ? g_pool.size() : 1; }

// The batch's rows in kGroups groups (B * g / kGroups onwards): a thread that splits the batch
// takes whole groups, and the backward sums the bias gradient by group (lstm_cpu.cc), so that its
// bits do not depend on the number of threads.
constexpr int kGroups = 8;
static int group_start(int B, int g) { return int(int64_t(B) * g / kGroups); }
static int group_of(int B, int b) { return int((int64_t(b + 1) * kGroups - 1) / B); }

// The first row of part i when B rows are split in n parts (whole groups).
static int rows_at(int B, int n, int i) { return group_start(B, kGroups * i / n); }

// Whether a time loop over the packed P runs as n threads, each over its rows of the batch for
// the whole loop (rows are independent, so no step waits for another thread). With fewer rows
// than a register tile each, or a P that L2 does not hold (each thread would read all of it
// at every step), each step's panels are split instead.
constexpr double kSplitBatchBytes = 3e6;
static bool split_batch(int n, int B, double packed_bytes) {
  return n >= 2 && B >= kRows * n && packed_bytes <= kSplitBatchBytes;
}
static bool split_batch(int n, int B, const Packed& P) { return split_batch(n, B, P.bytes()); }

// The left operands of products that share the right one: C (M, N) += A^T (M, K) @ B, A given
// as (K, M), rows lda apart.
struct Left {
  int M;
  const float* A;
  int lda;
  float* C;
};

// Whole-sequence products, C (M, N) += A^T (M, K) @ B (K, N) for every Left, B row-major (rows
// ldb apart, C's ldc). K runs in chunks of kChunk rows. For each chunk, each thread copies the
// chunk of every A tile by tile (a tile's R floats of each row side by side), then, for each of
// its panels of B, packs the panel's chunk and runs every left operand's row tiles over it: B is
// packed once for all of them. The chunk follows g_k_chunk: 128 rows (32 KB of a panel, in L1
// while every row tile passes over it), or 512 where the step's products take larger chunks
// (every tile then reads the panel's chunk from L2, and C is updated a quarter as often: on Zen
// 3, 85 -> 115 GFLOP/s on two threads at (256 + 1024, 4096, 6400); one core: 128 rows 49,
// 256 rows 57, 512 rows 61, 1024 rows 57).
// Neither operand is used in place: their rows lie a power of two apart (D, u or 4u floats), so
// a tile's rows fell into a few L1 sets and were read again from L2 (packing A: 135 -> 155-170
// GFLOP/s on one core at (128 + 128, 512, 2560)). The sums are taken in the same order as over
// the operands in place.
static void gemm_packed(std::initializer_list<Left> lefts, int N, int K, const float* B,
                        int64_t ldb, int ldc) {
  const int kChunk = std::min(g_k_chunk, 512);
  const int panels = (N + kPanel - 1) / kPanel;
  double flops = 0;
  int64_t rows = 0;  // of all the left operands
  for (const Left& l : lefts) {
    flops += 2.0 * l.M * N * K;
    rows += l.M;
  }
  const int n = std::min(threads_for(flops), panels);
  g_pool.run(n, [&](int i) {
    Packed P;
    std::vector<float> a_chunk(size_t(rows) * kChunk);
    for (int k0 = 0; k0 < K; k0 += kChunk) {
      const int kc = std::min(kChunk, K - k0);
      float* dst = a_chunk.data();
      for (const Left& l : lefts) {
        for_tiles(0, l.M, [&](int r, int tile_rows) {  // tile element (r, k) at dst[k * R + r]
          const float* a = l.A + int64_t(k0) * l.lda + r;
          // A row's R floats in one or two vector moves (a loop over a run-time count was a
          // scalar copy).
          with_rows(tile_rows, [&](auto R) {
            for (int k = 0; k < kc; ++k) {
              std::memcpy(dst + k * R, a + int64_t(k) * l.lda, sizeof(float) * R);
            }
          });
          dst += int64_t(kc) * tile_rows;
        });
      }
      for (int p = panels * i / n; p < panels * (i + 1) / n; ++p) {
        const int n0 = p * kPanel, width = std::min(kPanel, N - n0);
        pack(P, kc, width, B + int64_t(k0) * ldb + n0, ldb, 1);
        const float* a = a_chunk.data();
        for (const Left& l : lefts) {
          for_tiles(0, l.M, [&](int r, int tile_rows) {
            with_rows(tile_rows, [&](auto R) {
              tile<R, true>(kc, a, R, P.panel(0), l.C + int64_t(r) * ldc + n0, ldc, width);
            });
            a += int64_t(kc) * tile_rows;
          });
        }
      }
    }
  });
}

// Matrix-vector products for a streamed step (a few rows, no packing): y (n) += x (k) @ M (k, n)
// with M's rows ldm apart, and y (k) += M (k, n) @ x (n), M row-major.
static void vec_mat_acc(int k, int n, int64_t ldm, const float* M, const float* x, float* y) {
  int i = 0;
  for (; i + 4 <= k; i += 4) {  // four rows a pass: y is read and written a quarter as often
    const float a0 = x[i], a1 = x[i + 1], a2 = x[i + 2], a3 = x[i + 3];
    const float* m0 = M + int64_t(i) * ldm;
    const float* m1 = m0 + ldm;
    const float* m2 = m1 + ldm;
    const float* m3 = m2 + ldm;
#pragma GCC ivdep
    for (int j = 0; j < n; ++j) y[j] += (a0 * m0[j] + a1 * m1[j]) + (a2 * m2[j] + a3 * m3[j]);
  }
  for (; i < k; ++i) {
    const float a = x[i];
    const float* m = M + int64_t(i) * ldm;
#pragma GCC ivdep
    for (int j = 0; j < n; ++j) y[j] += a * m[j];
  }
}

static void mat_vec_acc(int k, int n, const float* M, const float* x, float* y) {
  for (int i = 0; i < k; ++i) {
    const float* m = M + int64_t(i) * n;
    vec acc = {};
    int j = 0;
    for (; j + kLanes <= n; j += kLanes) {
      vec mv, xv;
      std::memcpy(&mv, m + j, sizeof mv);
      std::memcpy(&xv, x + j, sizeof xv);
      acc += mv * xv;
    }
    float sum = 0.0f;
    for (int l = 0; l < kLanes; ++l) sum += acc[l];
    for (; j < n; ++j) sum += m[j] * x[j];
    y[i] += sum;
  }
}
