// SPDX-License-Identifier: MIT
// lfm_run: evaluates token ids with the core engine, no Node involved (for gdb, valgrind, perf).
//
// Usage: lfm_run [options] MODEL.gguf TOKEN [TOKEN ...]
//   --threads N     worker threads (default: physical cores)
//   --isa NAME      scalar | avx2 | avx512 (default: best for this CPU, or $LFM2_CPU_ISA)
//   --ctx N         context size of the sequence (default: the number of tokens)
//   --step          evaluate one token per forward pass (decode path) instead of one batch
//   --top K         logits shown per position (default 5)
// Tokens are integers, separated by spaces and/or commas ("1 2 3" or "1,2,3").
// Prints the top-K logits after every position, then load and evaluation times.
// Exit status: 0 on success, 1 when the engine returns an error (code and message on stderr),
// 2 on bad usage.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../core/status.h"
#include "../cpu/dispatch.h"
#include "../models/lfm2.h"
#include "tool_common.h"

namespace {

using lfm::tools::Clock;
using lfm::tools::fail;
using lfm::tools::ms_since;
using lfm::tools::parse_int;

int usage(const char* msg) {
  if (msg) std::fprintf(stderr, "lfm_run: %s\n", msg);
  std::fprintf(stderr,
               "usage: lfm_run [--threads N] [--isa scalar|avx2|avx512] [--ctx N] [--step] "
               "[--top K] MODEL.gguf TOKEN [TOKEN ...]\n");
  return 2;
}


// Appends the comma-separated token ids in `arg` to `tokens`.
bool parse_tokens(const char* arg, std::vector<int32_t>* tokens) {
  std::string s(arg);
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    const std::string part = s.substr(start, comma - start);
    if (!part.empty()) {
      int64_t v = 0;
      if (!parse_int(part.c_str(), INT32_MIN, INT32_MAX, &v)) return false;
      tokens->push_back(static_cast<int32_t>(v));
    }
    start = comma + 1;
  }
  return true;
}

void print_top(int64_t pos, int32_t token, const float* logits, int64_t n_vocab, int top_k,
               std::vector<int32_t>* idx) {
  idx->resize(static_cast<size_t>(n_vocab));
  for (int64_t i = 0; i < n_vocab; i++) (*idx)[i] = static_cast<int32_t>(i);
  const int k = static_cast<int>(std::min<int64_t>(top_k, n_vocab));
  std::partial_sort(idx->begin(), idx->begin() + k, idx->end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  std::printf("pos %4" PRId64 "  token %6d  ->", pos, token);
  for (int j = 0; j < k; j++) std::printf("  %6d (%.4f)", (*idx)[j], logits[(*idx)[j]]);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n_threads = 0, n_ctx = 0, top_k = 5;
  const char* isa_name = nullptr;
  bool step = false;
  const char* model_path = nullptr;
  std::vector<int32_t> tokens;

  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (std::strcmp(a, "--threads") == 0) {
      if (!parse_int(value(), 1, 1024, &n_threads)) return usage("--threads needs an integer in [1, 1024]");
    } else if (std::strcmp(a, "--isa") == 0) {
      isa_name = value();
      if (!isa_name) return usage("--isa needs scalar, avx2 or avx512");
    } else if (std::strcmp(a, "--ctx") == 0) {
      if (!parse_int(value(), 1, INT32_MAX, &n_ctx)) return usage("--ctx needs a positive integer");
    } else if (std::strcmp(a, "--top") == 0) {
      if (!parse_int(value(), 1, 1000, &top_k)) return usage("--top needs an integer in [1, 1000]");
    } else if (std::strcmp(a, "--step") == 0) {
      step = true;
    } else if (std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0) {
      return usage(nullptr);
    } else if (a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
      return usage((std::string("unknown option ") + a).c_str());
    } else if (!model_path) {
      model_path = a;
    } else if (!parse_tokens(a, &tokens)) {
      return usage((std::string("not a token id list: ") + a).c_str());
    }
  }
  if (!model_path) return usage("no model given");
  if (tokens.empty()) return usage("no tokens given");

  lfm::Lfm2LoadOptions opts;
  opts.n_threads = static_cast<int>(n_threads);
  lfm::Status st = isa_name ? lfm::cpu::parse_isa(isa_name, &opts.isa) : lfm::cpu::default_isa(&opts.isa);
  if (!st.is_ok()) return fail(st);

  const auto t_load = Clock::now();
  std::unique_ptr<lfm::Lfm2Model> model;
  st = lfm::Lfm2Model::load(model_path, opts, &model);
  if (!st.is_ok()) return fail(st);
  const double load_ms = ms_since(t_load);

  const lfm::Lfm2Config& c = model->config();
  int64_t n_attn = 0;
  for (lfm::LayerKind k : c.layer_kinds) n_attn += k == lfm::LayerKind::kAttention;
  std::printf("model: %s (%s), %" PRId64 " layers (%" PRId64 " attention), n_embd %" PRId64
              ", n_vocab %" PRId64 "%s\n",
              c.name.empty() ? "(unnamed)" : c.name.c_str(), c.arch.c_str(), c.n_layers, n_attn,
              c.n_embd, c.n_vocab, c.n_experts > 0 ? ", MoE" : "");
  if (c.n_experts > 0) {
    std::printf("experts: %" PRId64 " (%" PRId64 " per token), %" PRId64 " dense lead layers\n",
                c.n_experts, c.n_experts_used, c.n_dense_lead);
  }
  std::printf("threads: %d, isa: %s, file: %.1f MiB\n", model->n_threads(), model->isa_name(),
              static_cast<double>(model->gguf().file_size()) / (1024.0 * 1024.0));

  const int64_t n_tok = static_cast<int64_t>(tokens.size());
  if (n_ctx == 0) n_ctx = std::min<int64_t>(n_tok, c.context_length);
  std::unique_ptr<lfm::Lfm2State> state;
  st = model->create_state(n_ctx, &state);
  if (!st.is_ok()) return fail(st);

  std::vector<float> logits(static_cast<size_t>(n_tok * c.n_vocab));
  const auto t_eval = Clock::now();
  if (step) {
    for (int64_t i = 0; i < n_tok; i++) {
      st = model->forward(state.get(), &tokens[i], 1, false, logits.data() + i * c.n_vocab);
      if (!st.is_ok()) return fail(st);
    }
  } else {
    st = model->forward(state.get(), tokens.data(), n_tok, true, logits.data());
    if (!st.is_ok()) return fail(st);
  }
  const double eval_ms = ms_since(t_eval);

  std::vector<int32_t> idx;
  for (int64_t i = 0; i < n_tok; i++) {
    print_top(i, tokens[i], logits.data() + i * c.n_vocab, c.n_vocab, static_cast<int>(top_k), &idx);
  }
  std::printf("load: %.1f ms\n", load_ms);
  std::printf("eval: %" PRId64 " tokens in %.1f ms (%s), %.2f ms/token, %.1f tokens/s\n", n_tok,
              eval_ms, step ? "one token per pass" : "one batch", eval_ms / static_cast<double>(n_tok),
              1000.0 * static_cast<double>(n_tok) / eval_ms);
  std::printf("state: %.1f KiB\n", static_cast<double>(state->bytes()) / 1024.0);
  return 0;
}
