// SPDX-License-Identifier: MIT
// lfm_bench: speed of the engine without Node (for the GPU machine, where Node may be absent).
//
// Usage: lfm_bench [options] MODEL.gguf
//   --device cuda|cpu   where to run (default cuda)
//   --threads N         CPU threads (cpu device; default physical cores)
//   --pp N              single-stream prompt tokens (default 512)
//   --tg N              single-stream generated tokens (default 128)
//   --seqs LIST         concurrent sequences for the throughput runs, e.g. 1,16,256,1024 (cuda only;
//                       default none)
//   --tp-prompt N       prompt tokens per sequence in the throughput runs (default 1024)
//   --tp-gen N          generated tokens per sequence in the throughput runs (default 512)
//   --reps N            single-stream repetitions, the median is reported (default 3)
// Prompts are pseudo-random token ids; generation is greedy (sampled on the device for cuda).
// Prints one line per measurement: "pp512: 1234.5 t/s", "tg128: 234.5 t/s",
// "seqs=256: prompt 1024 x 256 in 3.21 s, generated 512 x 256 in 9.87 s: 13279 output t/s,
// 39876 total t/s". Exit status: 0, 1 on an engine error, 2 on bad usage.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../core/status.h"
#include "../cpu/dispatch.h"
#include "../cuda/cuda_model.h"
#include "../models/lfm2.h"
#include "tool_common.h"

namespace {

using lfm::tools::Clock;
using lfm::tools::fail;
using lfm::tools::parse_int;
double secs_since(Clock::time_point t0) { return lfm::tools::ms_since(t0) / 1000.0; }

int usage(const char* msg) {
  if (msg) std::fprintf(stderr, "lfm_bench: %s\n", msg);
  std::fprintf(stderr,
               "usage: lfm_bench [--device cuda|cpu] [--threads N] [--pp N] [--tg N] [--seqs 1,16,256,1024] "
               "[--tp-prompt N] [--tp-gen N] [--reps N] MODEL.gguf\n");
  return 2;
}


// xorshift token ids in [2, V) (avoids the BOS/PAD ids at the bottom).
struct Tokens {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  int32_t next(int64_t V) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<int32_t>(2 + s % static_cast<uint64_t>(V - 2));
  }
};

int32_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++) {
    if (x[i] > x[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

// Batched throughput on the GPU: n sequences, each a prompt of `prompt` tokens (evaluated in
// passes of up to the model's batch size) then `gen` greedy steps, all sequences in every pass.
lfm::Status throughput(lfm::cuda::CudaModel& gpu, int64_t V, int64_t n, int64_t prompt, int64_t gen) {
  using lfm::cuda::CudaSegment;
  using lfm::cuda::CudaSeq;
  std::vector<std::unique_ptr<CudaSeq>> seqs(static_cast<size_t>(n));
  for (auto& s : seqs) LFM_RETURN_IF_ERROR(gpu.create_seq(prompt + gen, &s));
  Tokens rng;
  std::vector<int32_t> prompts(static_cast<size_t>(n * prompt));
  for (int32_t& t : prompts) t = rng.next(V);
  std::vector<int32_t> next(static_cast<size_t>(n));  // each sequence's pending token
  std::vector<int64_t> done(static_cast<size_t>(n), 0);  // prompt tokens evaluated
  const int64_t cap = gpu.max_batch_tokens();
  std::vector<CudaSegment> segs;
  std::vector<int32_t> out_rows, out_seq;
  std::vector<lfm_cuda_sampler> samplers;
  std::vector<int32_t> sampled;
  const lfm_cuda_sampler greedy{0.0f, 0, 1.0f, 0.0f, 0.0f};

  // Prefill: fill each pass with prompt pieces, sequence after sequence.
  const Clock::time_point t0 = Clock::now();
  int64_t s0 = 0;
  while (s0 < n) {
    segs.clear();
    out_rows.clear();
    out_seq.clear();
    int64_t rows = 0;
    for (int64_t s = s0; s < n && rows < cap; s++) {
      const int64_t take = std::min(prompt - done[s], cap - rows);
      segs.push_back({seqs[s].get(), done[s], prompts.data() + s * prompt + done[s], take});
      rows += take;
      done[s] += take;
      if (done[s] == prompt) {
        out_rows.push_back(static_cast<int32_t>(rows - 1));
        out_seq.push_back(static_cast<int32_t>(s));
      }
    }
    while (s0 < n && done[s0] == prompt) s0++;
    samplers.assign(out_rows.size(), greedy);
    sampled.resize(out_rows.size());
    LFM_RETURN_IF_ERROR(gpu.forward_sample(segs.data(), static_cast<int>(segs.size()), out_rows.data(),
                                           static_cast<int>(out_rows.size()), samplers.data(), sampled.data()));
    for (size_t i = 0; i < out_seq.size(); i++) next[out_seq[i]] = sampled[i];
  }
  const double t_prompt = secs_since(t0);

  // Decode: every step evaluates all sequences' pending tokens, in passes of at most `cap`.
  const Clock::time_point t1 = Clock::now();
  for (int64_t step = 0; step < gen; step++) {
    for (int64_t a = 0; a < n; a += cap) {
      const int64_t b = std::min(n, a + cap);
      segs.clear();
      out_rows.clear();
      for (int64_t s = a; s < b; s++) {
        segs.push_back({seqs[s].get(), prompt + step, &next[s], 1});
        out_rows.push_back(static_cast<int32_t>(s - a));
      }
      samplers.assign(out_rows.size(), greedy);
      sampled.resize(out_rows.size());
      LFM_RETURN_IF_ERROR(gpu.forward_sample(segs.data(), static_cast<int>(segs.size()), out_rows.data(),
                                             static_cast<int>(out_rows.size()), samplers.data(), sampled.data()));
      for (int64_t s = a; s < b; s++) next[s] = sampled[s - a];
    }
  }
  const double t_gen = secs_since(t1);
  const double total_tokens = static_cast<double>(n) * static_cast<double>(prompt + gen);
  std::printf("seqs=%lld: prompt %lld x %lld in %.2f s, generated %lld x %lld in %.2f s: %.0f output t/s, %.0f total t/s\n",
              static_cast<long long>(n), static_cast<long long>(prompt), static_cast<long long>(n), t_prompt,
              static_cast<long long>(gen), static_cast<long long>(n), t_gen, static_cast<double>(n * gen) / t_gen,
              total_tokens / (t_prompt + t_gen));
  std::fflush(stdout);
  return lfm::Status::ok();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  lfm::Lfm2LoadOptions opts;
  opts.device = lfm::Lfm2LoadOptions::Device::kCuda;
  int64_t pp = 512, tg = 128, tp_prompt = 1024, tp_gen = 512, reps = 3;
  std::vector<int64_t> seq_counts;
  const char* path = nullptr;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    int64_t n = 0;
    if (a == "--device" && v) {
      if (std::strcmp(v, "cuda") == 0) opts.device = lfm::Lfm2LoadOptions::Device::kCuda;
      else if (std::strcmp(v, "cpu") == 0) opts.device = lfm::Lfm2LoadOptions::Device::kCpu;
      else return usage("--device must be cuda or cpu");
      i++;
    } else if (a == "--threads" && parse_int(v, 1, 1024, &n)) {
      opts.n_threads = static_cast<int>(n);
      i++;
    } else if (a == "--pp" && parse_int(v, 1, 1 << 20, &pp)) {
      i++;
    } else if (a == "--tg" && parse_int(v, 0, 1 << 20, &tg)) {
      i++;
    } else if (a == "--tp-prompt" && parse_int(v, 1, 1 << 20, &tp_prompt)) {
      i++;
    } else if (a == "--tp-gen" && parse_int(v, 1, 1 << 20, &tp_gen)) {
      i++;
    } else if (a == "--reps" && parse_int(v, 1, 100, &reps)) {
      i++;
    } else if (a == "--seqs" && v) {
      std::string list = v;
      size_t p = 0;
      while (p <= list.size()) {
        const size_t q = std::min(list.find(',', p), list.size());
        if (!parse_int(list.substr(p, q - p).c_str(), 1, 1 << 20, &n)) return usage("bad --seqs list");
        seq_counts.push_back(n);
        p = q + 1;
      }
      i++;
    } else if (!a.empty() && a[0] != '-' && !path) {
      path = argv[i];
    } else {
      return usage(("bad option " + a).c_str());
    }
  }
  if (!path) return usage("no model file");
  lfm::Status st = lfm::cpu::default_isa(&opts.isa);
  if (!st.is_ok()) return fail(st);
  std::unique_ptr<lfm::Lfm2Model> model;
  const Clock::time_point tl = Clock::now();
  st = lfm::Lfm2Model::load(path, opts, &model);
  if (!st.is_ok()) return fail(st);
  const lfm::Lfm2Config& c = model->config();
  std::printf("model: %s (%s), %lld layers, device %s, load %.1f s\n", c.name.c_str(), c.arch.c_str(),
              static_cast<long long>(c.n_layers), model->device_name().c_str(), secs_since(tl));

  // Single stream: prefill pp tokens, then tg greedy decode steps (logits to the host, as the
  // API's evaluate does).
  Tokens rng;
  std::vector<int32_t> prompt(static_cast<size_t>(pp));
  for (int32_t& t : prompt) t = rng.next(c.n_vocab);
  std::vector<float> logits(static_cast<size_t>(c.n_vocab));
  std::vector<double> pp_rate, tg_rate;
  for (int64_t r = 0; r < reps; r++) {
    std::unique_ptr<lfm::Lfm2State> seq;
    st = model->create_state(pp + tg + 1, &seq);
    if (!st.is_ok()) return fail(st);
    const Clock::time_point t0 = Clock::now();
    st = model->forward(seq.get(), prompt.data(), pp, false, logits.data());
    if (!st.is_ok()) return fail(st);
    pp_rate.push_back(static_cast<double>(pp) / secs_since(t0));
    if (tg > 0) {
      int32_t tok = argmax(logits.data(), c.n_vocab);
      const Clock::time_point t1 = Clock::now();
      for (int64_t i = 0; i < tg; i++) {
        st = model->forward(seq.get(), &tok, 1, false, logits.data());
        if (!st.is_ok()) return fail(st);
        tok = argmax(logits.data(), c.n_vocab);
      }
      tg_rate.push_back(static_cast<double>(tg) / secs_since(t1));
    }
  }
  std::printf("pp%lld: %.1f t/s\n", static_cast<long long>(pp), median(pp_rate));
  if (tg > 0) std::printf("tg%lld: %.1f t/s\n", static_cast<long long>(tg), median(tg_rate));
  std::fflush(stdout);

  if (!seq_counts.empty()) {
    lfm::cuda::CudaModel* gpu = model->gpu();
    if (!gpu) return usage("--seqs needs --device cuda");
    for (int64_t n : seq_counts) {
      st = throughput(*gpu, c.n_vocab, n, tp_prompt, tp_gen);
      if (!st.is_ok()) return fail(st);
    }
  }
  return 0;
}
