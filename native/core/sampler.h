// SPDX-License-Identifier: MIT
// Token sampling over one logits row: logit bias -> repetition penalties -> greedy argmax, or
// top-k -> softmax at the temperature -> top-p -> min-p -> seeded draw. Plain C++ (no N-API);
// test/helpers/sampling-ref.ts is the float64 TypeScript reference it must reproduce exactly.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "status.h"

namespace lfm {

// xoshiro128** seeded through splitmix32, r / 2^32 in [0, 1): the stream of lib/util/random.ts
// createRng(seed), bit for bit, so that a TypeScript reference reproduces every native draw.
class Rng {
 public:
  explicit Rng(uint32_t seed);
  uint32_t next_u32();
  double next_double() { return static_cast<double>(next_u32()) / 4294967296.0; }

 private:
  uint32_t a_, b_, c_, d_;
};

struct SamplerOptions {
  int64_t vocab_size = 0;         // V > 0
  double temperature = 0;         // <= 0: greedy
  int64_t top_k = 0;              // 0 = all
  double top_p = 1;               // [0, 1]; 1 = off
  double min_p = 0;               // [0, 1]; 0 = off
  double repeat_penalty = 1;      // > 0; 1 = off
  double presence_penalty = 0;    // 0 = off
  double frequency_penalty = 0;   // 0 = off
  int64_t penalty_last_n = 0;     // window of recent tokens the penalties look at; 0 = off
  std::vector<int32_t> bias_ids;  // logit bias: ids in [0, V) (duplicates add up)
  std::vector<float> bias_values; // finite, or -inf to ban the token
  uint32_t seed = 0;
};

// One sampler per generation: options, the penalty window and the random stream.
//
// sample(), on a float64 copy of the row (so a float64 reference reproduces it exactly):
//   1. logit bias added;
//   2. penalties, llama.cpp style, for each distinct token t of the window with count c:
//      x = x <= 0 ? x * repeat_penalty : x / repeat_penalty; x -= c * frequency + presence;
//   3. tokens at -inf (banned) are never picked; temperature <= 0: argmax (lowest id on ties);
//      else the top-k candidates sorted by logit (descending, lower id first on ties), their
//      softmax at the temperature relative to the largest, top-p (smallest prefix with
//      cumulative probability >= top_p), min-p (probability >= min_p x the top one), then
//      r = u * total with u the next draw of the stream, subtracted until it is < 0.
// A draw is taken only by non-greedy samples that succeed.
class Sampler {
 public:
  // Validates the options (kInvalidArg naming the option) and creates the sampler.
  static Status create(SamplerOptions opts, std::unique_ptr<Sampler>* out);

  // Picks a token from logits[V] (not modified). kInvalidArg when every token is banned.
  Status sample(const float* logits, int32_t* token);
  // Appends tokens (oldest first) to the penalty window, which keeps the last penalty_last_n.
  // kTokenRange for an id outside [0, V), and then nothing is recorded.
  Status accept(const int32_t* tokens, int64_t n);
  // Empties the penalty window (the random stream goes on).
  void clear_history() { window_.clear(); }
  int64_t vocab_size() const { return opts_.vocab_size; }

 private:
  struct Candidate {
    double x;    // logit after bias and penalties
    int32_t id;
  };

  explicit Sampler(SamplerOptions opts) : opts_(std::move(opts)), rng_(opts_.seed) {}
  void apply_penalties();
  // Draws among the top-k candidates of `pool_` (any order). `truncated`: the pool lacks some of
  // the k candidates (they hold too little probability to change any sum); returns false when
  // the result would depend on them, and the caller retries with every token.
  bool draw(int64_t k, bool truncated, double max, double u, int32_t* token);
  // Sorts pool_ by logit, descending, lower id first on ties (pool_ is in id order).
  void sort_pool();

  SamplerOptions opts_;
  Rng rng_;
  std::deque<int32_t> window_;        // recent tokens, oldest first (at most penalty_last_n)
  std::vector<double> work_;          // [V] the row after bias and penalties
  std::vector<Candidate> pool_;       // the candidates that can matter (sample())
  std::vector<Candidate> radix_tmp_;  // sort_pool() scratch
  std::vector<uint32_t> radix_hist_;  // [8][256] sort_pool() digit counts
  std::vector<double> probs_;         // the candidates' unnormalised probabilities
  std::vector<int32_t> counts_;       // the window sorted (penalties)
};

}  // namespace lfm
