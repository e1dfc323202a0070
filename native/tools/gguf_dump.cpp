// SPDX-License-Identifier: MIT
// gguf_dump: prints what the core GGUF reader sees in a file (version, metadata, tensor infos).
// Usage: gguf_dump [--full] FILE.gguf
//   --full  print whole strings and arrays (default: abbreviated)
// Exit status: 0 on success, 1 when the reader refuses the file (code and message on stderr),
// 2 on bad usage.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "../core/gguf.h"

namespace {

constexpr size_t kShortString = 72;  // characters of a string shown when abbreviating
constexpr size_t kShortArray = 8;    // elements of an array shown when abbreviating

std::string quote(const std::string& s, bool full) {
  std::string out = "\"";
  const size_t n = full ? s.size() : std::min(s.size(), kShortString);
  for (size_t i = 0; i < n; i++) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (n < s.size()) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

std::string value_string(const lfm::GgufValue& v, bool full) {
  using lfm::GgufType;
  char buf[64];
  switch (v.type) {
    case GgufType::kString: return quote(v.s, full);
    case GgufType::kBool: return v.i ? "true" : "false";
    case GgufType::kF32: case GgufType::kF64:
      std::snprintf(buf, sizeof buf, "%.9g", v.f);
      return buf;
    case GgufType::kU64:
      return std::to_string(v.u);
    case GgufType::kArray: break;
    default:
      return std::to_string(v.i);
  }
  std::string out = "[";
  const size_t n = static_cast<size_t>(v.n_elems);
  const size_t shown = full ? n : std::min(n, kShortArray);
  for (size_t k = 0; k < shown; k++) {
    if (k) out += ", ";
    if (v.elem_type == GgufType::kString) {
      out += quote(v.strings[k], full);
    } else if (v.elem_type == GgufType::kF32 || v.elem_type == GgufType::kF64) {
      std::snprintf(buf, sizeof buf, "%.9g", v.floats[k]);
      out += buf;
    } else if (v.elem_type == GgufType::kArray) {
      out += "[...]";
    } else if (v.elem_type == GgufType::kBool) {
      out += v.ints[k] ? "true" : "false";
    } else if (v.elem_type == GgufType::kU64) {
      out += std::to_string(static_cast<uint64_t>(v.ints[k]));
    } else {
      out += std::to_string(v.ints[k]);
    }
  }
  if (shown < n) out += ", ... (" + std::to_string(n) + " total)";
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  bool full = false;
  const char* path = nullptr;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--full") == 0) {
      full = true;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      std::fprintf(stderr, "gguf_dump: unknown option %s\n", argv[i]);
      return 2;
    } else if (!path) {
      path = argv[i];
    } else {
      path = nullptr;
      break;
    }
  }
  if (!path) {
    std::fprintf(stderr, "usage: gguf_dump [--full] FILE.gguf\n");
    return 2;
  }

  std::unique_ptr<lfm::GgufFile> f;
  const lfm::Status st = lfm::GgufFile::open(path, &f);
  if (!st.is_ok()) {
    std::fprintf(stderr, "%s: %s\n", lfm::status_code_name(st.code()), st.message().c_str());
    return 1;
  }

  std::printf("file: %s\n", f->path().c_str());
  std::printf("size: %" PRIu64 " bytes\n", f->file_size());
  std::printf("version: %u\n", f->version());
  std::printf("alignment: %" PRIu64 "\n", f->alignment());
  std::printf("metadata: %zu keys\n", f->metadata().size());
  for (const auto& [key, v] : f->metadata()) {
    std::string type = lfm::gguf_type_name(v.type);
    if (v.type == lfm::GgufType::kArray) {
      type += std::string("<") + lfm::gguf_type_name(v.elem_type) + ">";
    }
    std::printf("  %-48s %-14s %s\n", key.c_str(), type.c_str(), value_string(v, full).c_str());
  }
  std::printf("tensors: %zu\n", f->tensors().size());
  for (size_t i = 0; i < f->tensors().size(); i++) {
    const lfm::GgufTensor& t = f->tensors()[i];
    const lfm::TypeTraits& tr = lfm::type_traits(t.type_id);
    std::printf("  %5zu %-48s %-8s %-24s offset %-12" PRIu64 " %" PRIu64 " bytes\n", i,
                t.name.c_str(), tr.name ? tr.name : "?", t.shape_string().c_str(), t.offset,
                t.n_bytes);
  }
  return 0;
}
