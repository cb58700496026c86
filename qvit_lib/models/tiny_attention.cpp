// Attention over tiny heads: softmax(Q Kᵀ · scale) V for many (n × d) heads at once, forward and
// backward, with n and d known at compile time (n = 32 tokens, d = 1 … 16 qubits or columns).
//
// PyTorch's fused CPU kernel tiles for wide heads; with 4-wide heads of 32 tokens it spends most
// of its time on bookkeeping. Here each head lives in registers and L1:
//   forward  — vectorised over the queries i (no horizontal sums): scores, running maximum,
//              exp, Σ e·v; it keeps log Σ exp per query (lse) instead of the n × n weights;
//   backward — vectorised over the keys j, recomputing p_ij = exp(s_ij − lse_i) as flash
//              attention does: dV = Pᵀ dO, dS = P ∘ (dO Vᵀ − δ), dK = dSᵀ Q·scale, dQ = dS K·scale,
//              with δ_i = Σ_d dO_id O_id.
// Tensors are (B, H, N, D) with the last axis contiguous and any other strides: the models'
// Q, K and V are views into one packed projection, and the outputs are written token-major
// (B, N, H, D), the layout the next layer reads, so no copy is made on either side.
// Built by qvit_lib/models/tiny_attention.py with the machine's compiler (-O3 -march=native);
// exp is glibc's vector exp (libmvec). Heads are independent, so the result does not depend on
// the number of threads.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <cmath>
#include <limits>

// Let the compiler call glibc's vector exp in the loops marked `omp simd` (no -ffast-math needed).
extern "C" float expf(float) noexcept __attribute__((simd("notinbranch")));
extern "C" double exp(double) noexcept __attribute__((simd("notinbranch")));

// A (B, H, N, D) tensor with a contiguous last axis: head g = (b, h) starts at b·sb + h·sh,
// and token i of a head sits sn further on for each i.
template <typename T>
struct Heads {
  T* data;
  int64_t sb, sh, sn, H;
  T* head(int64_t g) const { return data + (g / H) * sb + (g % H) * sh; }
};

template <typename T>
static Heads<T> heads_of(const at::Tensor& t) {
  return {t.data_ptr<T>(), t.stride(0), t.stride(1), t.stride(2), t.size(1)};
}

template <typename T, int N, int D>
static void forward_one(const T* q, int64_t qn, const T* k, int64_t kn, const T* v, int64_t vn, T scale, T* out,
                        int64_t on, T* lse) {
  alignas(64) T qT[D][N], S[N][N], m[N], total[N], oT[D][N];
  for (int i = 0; i < N; ++i)
    for (int d = 0; d < D; ++d) qT[d][i] = q[i * qn + d] * scale;
  for (int i = 0; i < N; ++i) { m[i] = -std::numeric_limits<T>::infinity(); total[i] = 0; }
  for (int j = 0; j < N; ++j) {
    #pragma omp simd
    for (int i = 0; i < N; ++i) {
      T s = 0;
      for (int d = 0; d < D; ++d) s += qT[d][i] * k[j * kn + d];
      S[j][i] = s;
      m[i] = s > m[i] ? s : m[i];
    }
  }
  for (int d = 0; d < D; ++d)
    for (int i = 0; i < N; ++i) oT[d][i] = 0;
  for (int j = 0; j < N; ++j) {
    #pragma omp simd
    for (int i = 0; i < N; ++i) {
      const T e = std::exp(S[j][i] - m[i]);
      total[i] += e;
      for (int d = 0; d < D; ++d) oT[d][i] += e * v[j * vn + d];
    }
  }
  for (int i = 0; i < N; ++i) {
    const T inv = T(1) / total[i];
    for (int d = 0; d < D; ++d) out[i * on + d] = oT[d][i] * inv;
    lse[i] = m[i] + std::log(total[i]);
  }
}

template <typename T, int N, int D>
static void backward_one(const T* q, int64_t qn, const T* k, int64_t kn, const T* v, int64_t vn, const T* out,
                         int64_t on, const T* lse, const T* grad, int64_t gn, T scale, T* dq, T* dk, T* dv,
                         int64_t dn) {
  alignas(64) T kT[D][N], vT[D][N], dkT[D][N], dvT[D][N], ds[N];
  for (int j = 0; j < N; ++j)
    for (int d = 0; d < D; ++d) {
      kT[d][j] = k[j * kn + d];
      vT[d][j] = v[j * vn + d];
      dkT[d][j] = 0;
      dvT[d][j] = 0;
    }
  for (int i = 0; i < N; ++i) {
    T qs[D], g[D], delta = 0;
    for (int d = 0; d < D; ++d) {
      qs[d] = q[i * qn + d] * scale;
      g[d] = grad[i * gn + d];
      delta += g[d] * out[i * on + d];
    }
    const T l = lse[i];
    #pragma omp simd
    for (int j = 0; j < N; ++j) {
      T s = 0, dp = 0;
      for (int d = 0; d < D; ++d) { s += qs[d] * kT[d][j]; dp += g[d] * vT[d][j]; }
      const T p = std::exp(s - l);
      const T dsj = p * (dp - delta);
      for (int d = 0; d < D; ++d) { dvT[d][j] += p * g[d]; dkT[d][j] += dsj * qs[d]; }
      ds[j] = dsj;
    }
    for (int d = 0; d < D; ++d) {
      T acc = 0;
      #pragma omp simd reduction(+ : acc)
      for (int j = 0; j < N; ++j) acc += ds[j] * kT[d][j];
      dq[i * dn + d] = acc * scale;
    }
  }
  for (int j = 0; j < N; ++j)
    for (int d = 0; d < D; ++d) { dk[j * dn + d] = dkT[d][j]; dv[j * dn + d] = dvT[d][j]; }
}

template <typename T, int N, int D>
static void forward_all(Heads<T> q, Heads<T> k, Heads<T> v, T scale, Heads<T> out, T* lse, int64_t G) {
  at::parallel_for(0, G, 16, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g)
      forward_one<T, N, D>(q.head(g), q.sn, k.head(g), k.sn, v.head(g), v.sn, scale, out.head(g), out.sn, lse + g * N);
  });
}

template <typename T, int N, int D>
static void backward_all(Heads<T> q, Heads<T> k, Heads<T> v, Heads<T> out, const T* lse, Heads<T> grad, T scale,
                         Heads<T> dq, Heads<T> dk, Heads<T> dv, int64_t G) {
  at::parallel_for(0, G, 16, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g)
      backward_one<T, N, D>(q.head(g), q.sn, k.head(g), k.sn, v.head(g), v.sn, out.head(g), out.sn, lse + g * N,
                            grad.head(g), grad.sn, scale, dq.head(g), dk.head(g), dv.head(g), dq.sn);
  });
}

// The (tokens, width) pairs compiled; other shapes use PyTorch's kernel.
#define QVIT_SHAPES(X) \
  X(32, 1) X(32, 2) X(32, 4) X(32, 8) X(32, 16) X(33, 1) X(33, 2) X(33, 4) X(33, 8) X(33, 16)

bool tiny_supports(int64_t n, int64_t d) {
#define QVIT_CASE(NN, DD) \
  if (n == NN && d == DD) return true;
  QVIT_SHAPES(QVIT_CASE)
#undef QVIT_CASE
  return false;
}

// The kernel compiled for n tokens of width d (outside AT_DISPATCH: no #define in a macro argument).
template <typename T>
static void forward_shape(int64_t n, int64_t d, Heads<T> q, Heads<T> k, Heads<T> v, T scale, Heads<T> out, T* lse,
                          int64_t G) {
#define QVIT_CASE(NN, DD) \
  if (n == NN && d == DD) return forward_all<T, NN, DD>(q, k, v, scale, out, lse, G);
  QVIT_SHAPES(QVIT_CASE)
#undef QVIT_CASE
  TORCH_CHECK(false, "tiny attention: no kernel for ", n, " tokens of width ", d);
}

template <typename T>
static void backward_shape(int64_t n, int64_t d, Heads<T> q, Heads<T> k, Heads<T> v, Heads<T> out, const T* lse,
                           Heads<T> grad, T scale, Heads<T> dq, Heads<T> dk, Heads<T> dv, int64_t G) {
#define QVIT_CASE(NN, DD) \
  if (n == NN && d == DD) return backward_all<T, NN, DD>(q, k, v, out, lse, grad, scale, dq, dk, dv, G);
  QVIT_SHAPES(QVIT_CASE)
#undef QVIT_CASE
  TORCH_CHECK(false, "tiny attention: no kernel for ", n, " tokens of width ", d);
}

// A new (B, H, N, D) tensor stored token-major, as (B, N, H, D).
static at::Tensor token_major(const at::Tensor& like) {
  return at::empty({like.size(0), like.size(2), like.size(1), like.size(3)}, like.options()).transpose(1, 2);
}

static void check_heads(const at::Tensor& t, const at::Tensor& q, const char* name) {
  TORCH_CHECK(t.dim() == 4 && t.sizes() == q.sizes() && t.stride(3) == 1 && t.scalar_type() == q.scalar_type(),
              "tiny attention: ", name, " must be (B, H, N, D) like q, with a contiguous last axis");
}

std::vector<at::Tensor> tiny_forward(at::Tensor q, at::Tensor k, at::Tensor v, double scale) {
  check_heads(q, q, "q");
  check_heads(k, q, "k");
  check_heads(v, q, "v");
  const int64_t n = q.size(2), d = q.size(3), G = q.size(0) * q.size(1);
  auto out = token_major(q);
  auto lse = at::empty({q.size(0), q.size(1), n}, q.options());
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "tiny_forward", [&] {
    using T = scalar_t;
    forward_shape<T>(n, d, heads_of<T>(q), heads_of<T>(k), heads_of<T>(v), static_cast<T>(scale), heads_of<T>(out),
                     lse.data_ptr<T>(), G);
  });
  return {out, lse};
}

std::vector<at::Tensor> tiny_backward(at::Tensor q, at::Tensor k, at::Tensor v, at::Tensor out, at::Tensor lse,
                                      at::Tensor grad, double scale) {
  for (auto [t, name] : {std::pair{&k, "k"}, {&v, "v"}, {&out, "out"}, {&grad, "grad"}}) check_heads(*t, q, name);
  TORCH_CHECK(lse.is_contiguous(), "tiny attention: lse must be contiguous");
  const int64_t n = q.size(2), d = q.size(3), G = q.size(0) * q.size(1);
  auto dq = token_major(q), dk = token_major(q), dv = token_major(q);
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "tiny_backward", [&] {
    using T = scalar_t;
    backward_shape<T>(n, d, heads_of<T>(q), heads_of<T>(k), heads_of<T>(v), heads_of<T>(out), lse.data_ptr<T>(),
                      heads_of<T>(grad), static_cast<T>(scale), heads_of<T>(dq), heads_of<T>(dk), heads_of<T>(dv), G);
  });
  return {dq, dk, dv};
}
