// SPDX-License-Identifier: MIT
// The sampler of sampler.h: options check, penalty window, and the pick from one logits row.

#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

namespace lfm {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Tokens whose logit is more than kPoolSpan temperatures below the largest have a probability
// exp(-40) < 2^-53 relative to the top one (which is exactly 1): added to a sum that is >= 1
// they leave it unchanged, whatever the order, so the sort can skip them (see Sampler::draw).
constexpr double kPoolSpan = 40.0;

// Pools larger than this are sorted by radix (sort_pool()): 64-bit keys in 6 digits of 11 bits.
constexpr size_t kRadixSortMin = 1024;
constexpr int kDigitBits = 11, kDigits = 6;
constexpr uint64_t kBuckets = 1u << kDigitBits;

// Sort key of a logit: larger logits give smaller keys; -0 and +0 the same key (they tie).
uint64_t descending_key(double x) {
  x += 0.0;  // -0 -> +0
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  const uint64_t ascending = (b >> 63) ? ~b : (b | (1ull << 63));  // IEEE order as unsigned order
  return ~ascending;
}

uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Status bad_option(const char* name, const std::string& expected, double got) {
  return Status(StatusCode::kInvalidArg, std::string("[createSampler] ") + name + " must be " + expected + ", got " + num(got));
}

}  // namespace

// --- random stream (lib/util/random.ts)

Rng::Rng(uint32_t seed) {
  uint32_t s = seed;
  auto splitmix32 = [&s]() {
    s += 0x9e3779b9u;
    uint32_t z = s;
    z = (z ^ (z >> 16)) * 0x85ebca6bu;
    z = (z ^ (z >> 13)) * 0xc2b2ae35u;
    return z ^ (z >> 16);
  };
  a_ = splitmix32();
  b_ = splitmix32();
  c_ = splitmix32();
  d_ = splitmix32();
}

uint32_t Rng::next_u32() {
  const uint32_t r = rotl(b_ * 5u, 7) * 9u;
  const uint32_t t = b_ << 9;
  c_ ^= a_;
  d_ ^= b_;
  b_ ^= c_;
  a_ ^= d_;
  c_ ^= t;
  d_ = rotl(d_, 11);
  return r;
}

// --- options

Status Sampler::create(SamplerOptions o, std::unique_ptr<Sampler>* out) {
  if (o.vocab_size <= 0 || o.vocab_size > std::numeric_limits<int32_t>::max()) {
    return bad_option("vocabSize", "an integer in [1, 2147483647]", static_cast<double>(o.vocab_size));
  }
  if (!std::isfinite(o.temperature)) return bad_option("temperature", "a finite number", o.temperature);
  if (o.top_k < 0) return bad_option("topK", "an integer >= 0", static_cast<double>(o.top_k));
  if (!(o.top_p >= 0 && o.top_p <= 1)) return bad_option("topP", "a number in [0, 1]", o.top_p);
  if (!(o.min_p >= 0 && o.min_p <= 1)) return bad_option("minP", "a number in [0, 1]", o.min_p);
  if (!(o.repeat_penalty > 0) || !std::isfinite(o.repeat_penalty)) {
    return bad_option("repeatPenalty", "a finite number > 0", o.repeat_penalty);
  }
  if (!std::isfinite(o.presence_penalty)) return bad_option("presencePenalty", "a finite number", o.presence_penalty);
  if (!std::isfinite(o.frequency_penalty)) return bad_option("frequencyPenalty", "a finite number", o.frequency_penalty);
  if (o.penalty_last_n < 0 || o.penalty_last_n > std::numeric_limits<int32_t>::max()) {
    return bad_option("penaltyLastN", "an integer in [0, 2147483647]", static_cast<double>(o.penalty_last_n));
  }
  if (o.bias_ids.size() != o.bias_values.size()) {
    return Status(StatusCode::kInvalidArg, "[createSampler] logitBias has " + std::to_string(o.bias_ids.size()) +
                                               " ids but " + std::to_string(o.bias_values.size()) + " values");
  }
  for (size_t i = 0; i < o.bias_ids.size(); i++) {
    const int32_t id = o.bias_ids[i];
    if (id < 0 || id >= o.vocab_size) {
      return Status(StatusCode::kInvalidArg, "[createSampler] logitBias id " + std::to_string(id) + " at index " +
                                                 std::to_string(i) + " is out of range (vocabulary has " +
                                                 std::to_string(o.vocab_size) + " tokens)");
    }
    const float b = o.bias_values[i];
    if (std::isnan(b) || b == std::numeric_limits<float>::infinity()) {
      return Status(StatusCode::kInvalidArg, "[createSampler] logitBias value " + num(b) + " for token " +
                                                 std::to_string(id) + " must be a finite number or -Infinity");
    }
  }
  out->reset(new Sampler(std::move(o)));
  return Status::ok();
}

// --- penalty window

Status Sampler::accept(const int32_t* tokens, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (tokens[i] < 0 || tokens[i] >= opts_.vocab_size) {
      return Status(StatusCode::kTokenRange, "[sampler.accept] token id " + std::to_string(tokens[i]) + " at index " +
                                                 std::to_string(i) + " is out of range (vocabulary has " +
                                                 std::to_string(opts_.vocab_size) + " tokens)");
    }
  }
  const int64_t keep = opts_.penalty_last_n;
  for (int64_t i = std::max<int64_t>(0, n - keep); i < n; i++) window_.push_back(tokens[i]);
  while (static_cast<int64_t>(window_.size()) > keep) window_.pop_front();
  return Status::ok();
}

// Each distinct token of the window once, with its count: the window sorted, taken by runs.
void Sampler::apply_penalties() {
  if (window_.empty()) return;
  counts_.assign(window_.begin(), window_.end());
  std::sort(counts_.begin(), counts_.end());
  const double rp = opts_.repeat_penalty, fp = opts_.frequency_penalty, pp = opts_.presence_penalty;
  for (size_t i = 0; i < counts_.size();) {
    size_t j = i;
    while (j < counts_.size() && counts_[j] == counts_[i]) j++;
    double& x = work_[counts_[i]];
    x = x <= 0 ? x * rp : x / rp;
    x -= static_cast<double>(j - i) * fp + pp;
    i = j;
  }
}

// --- sampling

Status Sampler::sample(const float* logits, int32_t* token) {
  const int64_t V = opts_.vocab_size;
  work_.assign(logits, logits + V);                          // [V] f32 -> f64, exact
  for (size_t i = 0; i < opts_.bias_ids.size(); i++) work_[opts_.bias_ids[i]] += opts_.bias_values[i];
  apply_penalties();

  // Argmax over the tokens not banned (lowest id on ties); also the softmax's reference.
  int64_t best = -1;
  for (int64_t i = 0; i < V; i++) {
    if (work_[i] > kNegInf && (best < 0 || work_[i] > work_[best])) best = i;
  }
  if (best < 0) return Status(StatusCode::kInvalidArg, "[sample] every token is banned by logitBias");
  if (opts_.temperature <= 0) {
    *token = static_cast<int32_t>(best);
    return Status::ok();
  }

  // The pool: the candidates that can change the pick, so that only they are sorted.
  // - With top-p off and min_p >= 2^-53, min-p keeps exactly the tokens of probability
  //   exp((x - max) / T) >= min_p (a prefix of the sorted candidates): only those.
  // - Otherwise the tokens within kPoolSpan temperatures of the largest logit (see draw()).
  const double max = work_[best], T = opts_.temperature, inv_t = 1.0 / T;
  const bool min_p_pool = opts_.top_p >= 1 && opts_.min_p >= 0x1p-53;
  // Cheap bound on z = (x - max) / T first (with slack for its rounding), exact test after.
  const double z_floor = min_p_pool ? std::log(opts_.min_p) - 1e-6 : -kPoolSpan;
  int64_t n_allowed = 0;
  pool_.clear();
  for (int64_t i = 0; i < V; i++) {
    const double x = work_[i];
    if (!(x > kNegInf)) continue;
    n_allowed++;
    if ((x - max) * inv_t < z_floor) continue;
    if (min_p_pool && !(std::exp((x - max) / T) >= opts_.min_p)) continue;
    pool_.push_back({x, static_cast<int32_t>(i)});
  }
  const int64_t k = opts_.top_k > 0 ? std::min(opts_.top_k, n_allowed) : n_allowed;
  const double u = rng_.next_double();
  const bool truncated = !min_p_pool && static_cast<int64_t>(pool_.size()) < k;
  if (draw(k, truncated, max, u, token)) return Status::ok();
  // Rare: the result depends on the tokens outside the pool. All candidates, same draw.
  pool_.clear();
  for (int64_t i = 0; i < V; i++) {
    if (work_[i] > kNegInf) pool_.push_back({work_[i], static_cast<int32_t>(i)});
  }
  draw(k, false, max, u, token);
  return Status::ok();
}

// Sorts the whole pool by logit, descending, lower id first on ties. Large pools (top-k off:
// most of the vocabulary) by an LSD radix sort, 11 bits of descending_key() a pass, skipping
// the digits every key shares: stable, so ties keep the pool's id order. std::sort took ~6 ms
// for 65536 candidates (mispredicted branches), this ~1 ms.
void Sampler::sort_pool() {
  const size_t n = pool_.size();
  if (n < kRadixSortMin) {
    std::sort(pool_.begin(), pool_.end(), [](const Candidate& a, const Candidate& b) {
      return a.x > b.x || (a.x == b.x && a.id < b.id);
    });
    return;
  }
  std::vector<uint32_t>& hist = radix_hist_;  // [kDigits][kBuckets]
  hist.assign(kDigits * kBuckets, 0);
  for (const Candidate& c : pool_) {
    const uint64_t key = descending_key(c.x);
    for (int d = 0; d < kDigits; d++) hist[d * kBuckets + ((key >> (kDigitBits * d)) & (kBuckets - 1))]++;
  }
  radix_tmp_.resize(n);
  for (int d = 0; d < kDigits; d++) {
    const int shift = kDigitBits * d;
    uint32_t* h = hist.data() + d * kBuckets;
    if (h[(descending_key(pool_[0].x) >> shift) & (kBuckets - 1)] == n) continue;
    uint32_t at = 0;
    for (uint64_t b = 0; b < kBuckets; b++) {
      const uint32_t c = h[b];
      h[b] = at;
      at += c;
    }
    for (const Candidate& c : pool_) radix_tmp_[h[(descending_key(c.x) >> shift) & (kBuckets - 1)]++] = c;
    pool_.swap(radix_tmp_);
  }
}

// The candidate list is the top k tokens by logit; the pool holds a prefix of it (every token
// of the pool outranks every token outside it). With `truncated` the list goes on past the
// pool, with probabilities < 2^-53 while every running sum of probabilities is >= 1 (the first
// term is exp(0) = 1): adding one rounds back to the same sum, so `sum` and `total` are those
// of the whole list. Only the stages that could walk past the pool's end (top-p not reached,
// min-p keeping everything, the draw falling through) need the rest: then this returns false.
bool Sampler::draw(int64_t k, bool truncated, double max, double u, int32_t* token) {
  auto before = [](const Candidate& a, const Candidate& b) { return a.x > b.x || (a.x == b.x && a.id < b.id); };
  const int64_t n_cand = std::min<int64_t>(k, static_cast<int64_t>(pool_.size()));
  if (n_cand < static_cast<int64_t>(pool_.size())) {
    std::partial_sort(pool_.begin(), pool_.begin() + n_cand, pool_.end(), before);  // O(P log k)
    pool_.resize(static_cast<size_t>(n_cand));
  } else {
    sort_pool();
  }

  // Softmax at the temperature relative to the largest logit (unnormalised).
  const double T = opts_.temperature;
  probs_.resize(static_cast<size_t>(n_cand));
  double sum = 0;
  for (int64_t i = 0; i < n_cand; i++) {
    probs_[i] = std::exp((pool_[i].x - max) / T);
    sum += probs_[i];
  }
  int64_t n = n_cand;
  bool cut = false;  // top-p ended the list before the pool's end
  // top-p: the smallest prefix reaching top_p of the mass.
  if (opts_.top_p < 1) {
    double acc = 0;
    for (int64_t i = 0; i < n && !cut; i++) {
      acc += probs_[i] / sum;
      if (acc >= opts_.top_p) {
        n = i + 1;
        cut = true;
      }
    }
    if (!cut && truncated) return false;
  }
  bool open_end = truncated && !cut;  // the whole list goes on past n
  // min-p: relative to the most likely candidate (probs_[0] = 1). Past the pool every
  // probability is < 2^-53, so only a floor that low could keep more.
  if (opts_.min_p > 0) {
    const double floor = opts_.min_p * probs_[0];
    int64_t m = 1;
    while (m < n && probs_[m] >= floor) m++;
    if (m < n || floor >= 0x1p-53) {
      open_end = false;
    } else if (open_end) {
      return false;
    }
    n = m;
  }
  double total = 0;
  for (int64_t i = 0; i < n; i++) total += probs_[i];
  double r = u * total;
  for (int64_t i = 0; i < n; i++) {
    r -= probs_[i];
    if (r < 0) {
      *token = pool_[i].id;
      return true;
    }
  }
  if (open_end) return false;
  *token = pool_[n - 1].id;
  return true;
}

}  // namespace lfm
