// SPDX-License-Identifier: MIT
// Sequence state operations of Lfm2Model: the conv-state copy, rewind, export and import (the
// exported layout is documented above Lfm2State in lfm2.h). The forward pass is in lfm2.cpp.

#include <cstring>
#include <limits>
#include <string>

#include "../cuda/cuda_model.h"
#include "lfm2.h"

namespace lfm {

namespace {

constexpr char kMagic[8] = {'L', 'F', 'M', '2', 'S', 'T', 'A', 'T'};
constexpr uint32_t kFormatVersion = 1;

struct StateHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t shape_hash;
  int64_t n_layers, n_embd, conv_l;
  int64_t length;
  uint64_t payload_bytes;
};
static_assert(sizeof(StateHeader) == 64, "the exported header is 64 bytes");

// FNV-1a 64 over what fixes the state's layout (lfm2.h).
uint64_t shape_hash(const Lfm2Config& c) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](int64_t v) {
    for (int i = 0; i < 8; i++) {
      h ^= (static_cast<uint64_t>(v) >> (8 * i)) & 0xffu;
      h *= 1099511628211ull;
    }
  };
  mix(c.n_layers);
  mix(c.n_embd);
  mix(c.conv_l);
  mix(c.head_dim);
  for (int64_t kv : c.n_kv_heads) mix(kv);
  return h;
}

// Floats of one token's K and V rows over every attention layer.
int64_t kv_floats_per_token(const Lfm2Config& c) {
  int64_t n = 0;
  for (int64_t il = 0; il < c.n_layers; il++) n += 2 * c.n_kv_heads[il] * c.head_dim;
  return n;
}

// Copies a CPU state in the exported order, into the buffers (to_state false) or out of them:
// the conv rows (conv != null), and K then V rows [0, length) of each attention layer (kv != null).
void copy_cpu_state(const Lfm2Config& c, Lfm2State* st, int64_t length, uint8_t* conv, uint8_t* kv, bool to_state) {
  auto move = [to_state](std::vector<float>& state, uint8_t*& buf, int64_t n_floats) {
    const size_t bytes = static_cast<size_t>(n_floats) * sizeof(float);
    if (to_state) {
      std::memcpy(state.data(), buf, bytes);
    } else {
      std::memcpy(buf, state.data(), bytes);
    }
    buf += bytes;
  };
  for (int64_t il = 0; il < c.n_layers; il++) {
    if (c.layer_kinds[il] == LayerKind::kConv) {
      if (conv) move(st->conv[il], conv, (c.conv_l - 1) * c.n_embd);  // [L-1, D]
    } else if (kv) {
      const int64_t n = length * c.n_kv_heads[il] * c.head_dim;     // [P, Hkv*Dh]
      move(st->k[il], kv, n);
      move(st->v[il], kv, n);
    }
  }
}

}  // namespace

int64_t Lfm2Model::conv_state_floats() const {
  int64_t n = 0;
  for (LayerKind k : cfg_.layer_kinds) n += k == LayerKind::kConv ? (cfg_.conv_l - 1) * cfg_.n_embd : 0;
  return n;
}

Status Lfm2Model::conv_state(const Lfm2State& st, float* out) const {
  if (st.gpu) return st.gpu->read_state(0, out, nullptr);
  // Copies out of the state only: it is not modified.
  copy_cpu_state(cfg_, const_cast<Lfm2State*>(&st), 0, reinterpret_cast<uint8_t*>(out), nullptr, false);
  return Status::ok();
}

Status Lfm2Model::rewind(Lfm2State* st, int64_t length, const float* conv, int64_t n_conv) const {
  if (length < 0 || length > st->n_past) {
    return Status(StatusCode::kInvalidArg, "[rewind] length " + std::to_string(length) + " is outside [0, " +
                                               std::to_string(st->n_past) + "] (the sequence has " +
                                               std::to_string(st->n_past) + " tokens)");
  }
  if (n_conv != conv_state_floats()) {
    return Status(StatusCode::kInvalidArg, "[rewind] the conv state has " + std::to_string(n_conv) +
                                               " floats, expected " + std::to_string(conv_state_floats()) +
                                               " (a convState() of a sequence of this model)");
  }
  if (st->gpu) {
    LFM_RETURN_IF_ERROR(st->gpu->write_state(0, conv, nullptr));
  } else {
    copy_cpu_state(cfg_, st, 0, reinterpret_cast<uint8_t*>(const_cast<float*>(conv)), nullptr, true);
  }
  st->n_past = length;
  return Status::ok();
}

size_t Lfm2Model::state_export_bytes(int64_t length) const {
  return sizeof(StateHeader) + static_cast<size_t>(conv_state_floats() + length * kv_floats_per_token(cfg_)) * sizeof(float);
}

Status Lfm2Model::export_state(const Lfm2State& st, uint8_t* out, size_t n) const {
  const int64_t P = st.n_past;
  if (n != state_export_bytes(P)) {
    return Status(StatusCode::kInvalidArg, "[exportState] a state of " + std::to_string(P) + " tokens takes " +
                                               std::to_string(state_export_bytes(P)) + " bytes, not " + std::to_string(n));
  }
  StateHeader h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kFormatVersion;
  h.header_bytes = sizeof(StateHeader);
  h.shape_hash = shape_hash(cfg_);
  h.n_layers = cfg_.n_layers;
  h.n_embd = cfg_.n_embd;
  h.conv_l = cfg_.conv_l;
  h.length = P;
  h.payload_bytes = n - sizeof(StateHeader);
  std::memcpy(out, &h, sizeof h);
  uint8_t* conv = out + sizeof h;
  uint8_t* kv = conv + conv_state_floats() * sizeof(float);
  if (st.gpu) return st.gpu->read_state(P, reinterpret_cast<float*>(conv), reinterpret_cast<float*>(kv));
  copy_cpu_state(cfg_, const_cast<Lfm2State*>(&st), P, conv, kv, false);  // reads the state only
  return Status::ok();
}

Status Lfm2Model::import_state(Lfm2State* st, const uint8_t* data, size_t n) const {
  auto invalid = [](const std::string& m) { return Status(StatusCode::kInvalidArg, "[importState] " + m); };
  StateHeader h{};
  if (n < sizeof h) {
    return invalid("the buffer has " + std::to_string(n) + " bytes, fewer than a state header (" +
                   std::to_string(sizeof h) + "): not an exported state, or truncated");
  }
  std::memcpy(&h, data, sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) return invalid("not an exported sequence state (no LFM2STAT header)");
  if (h.version != kFormatVersion || h.header_bytes != sizeof h) {
    return invalid("state format version " + std::to_string(h.version) + " with a " + std::to_string(h.header_bytes) +
                   "-byte header; this build reads version " + std::to_string(kFormatVersion));
  }
  if (h.n_layers != cfg_.n_layers || h.n_embd != cfg_.n_embd || h.conv_l != cfg_.conv_l || h.shape_hash != shape_hash(cfg_)) {
    const auto shape = [](int64_t layers, int64_t embd, int64_t l) {
      return std::to_string(layers) + " layers, embedding " + std::to_string(embd) + ", conv width " + std::to_string(l);
    };
    return Status(StatusCode::kShapeMismatch,
                  "[importState] the state is of a model of another shape (" + shape(h.n_layers, h.n_embd, h.conv_l) +
                      (h.shape_hash != shape_hash(cfg_) ? ", layer kinds / heads fingerprint differs" : "") +
                      "); this model has " + shape(cfg_.n_layers, cfg_.n_embd, cfg_.conv_l));
  }
  const int64_t per_token = kv_floats_per_token(cfg_), conv_floats = conv_state_floats();
  const int64_t max_length = per_token > 0 ? (std::numeric_limits<int64_t>::max() / 8 - conv_floats) / per_token
                                           : std::numeric_limits<int64_t>::max();
  if (h.length < 0 || h.length > max_length) return invalid("the header's length " + std::to_string(h.length) + " is impossible");
  const size_t want = state_export_bytes(h.length);
  if (h.payload_bytes != want - sizeof h) {
    return invalid("the header's payload of " + std::to_string(h.payload_bytes) + " bytes does not match its length of " +
                   std::to_string(h.length) + " tokens (" + std::to_string(want - sizeof h) + " bytes)");
  }
  if (n != want) {
    return invalid("a state of " + std::to_string(h.length) + " tokens has " + std::to_string(want) + " bytes, this one " +
                   std::to_string(n) + (n < want ? " (truncated)" : " (trailing bytes)"));
  }
  if (h.length > st->n_ctx) {
    return Status(StatusCode::kContextOverflow, "[importState] the state holds " + std::to_string(h.length) +
                                                    " tokens, more than the sequence's context size " +
                                                    std::to_string(st->n_ctx));
  }
  const uint8_t* conv = data + sizeof h;
  const uint8_t* kv = conv + conv_floats * sizeof(float);
  if (st->gpu) {
    LFM_RETURN_IF_ERROR(st->gpu->write_state(h.length, reinterpret_cast<const float*>(conv), reinterpret_cast<const float*>(kv)));
  } else {
    // Copies into the state only: the buffers are not modified.
    copy_cpu_state(cfg_, st, h.length, const_cast<uint8_t*>(conv), const_cast<uint8_t*>(kv), true);
  }
  st->n_past = h.length;
  return Status::ok();
}

}  // namespace lfm
