// SPDX-License-Identifier: MIT
// GGUF reader: memory-maps the file and parses metadata and tensor infos; tensor data is never copied.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ggml_types.h"
#include "status.h"

namespace lfm {

// On-disk metadata value type ids.
enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Scalars fill exactly one of i/u/f/b/s by type; arrays fill the vector that
// matches their element type (integers and bools -> ints, floats -> floats, strings -> strings;
// nested arrays are parsed and skipped: only their element count is kept).
struct GgufValue {
  GgufType type = GgufType::kU8;
  GgufType elem_type = GgufType::kU8;  // arrays only
  uint64_t n_elems = 0;                // arrays only
  int64_t i = 0;                       // signed ints and bools (also set for unsigned)
  uint64_t u = 0;                      // unsigned ints (also set for non-negative signed)
  double f = 0;                        // f32/f64
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  bool is_integer() const;  // scalar integer or bool
  bool is_float() const;
};

struct GgufTensor {
  std::string name;
  uint32_t type_id = 0;          // raw on-disk id (may be unknown to us)
  GgmlType type = GgmlType::kF32;
  std::vector<int64_t> ne;       // ggml order: ne[0] is contiguous
  uint64_t offset = 0;           // relative to the data section
  const uint8_t* data = nullptr; // into the mapping
  uint64_t n_bytes = 0;
  int64_t n_elements = 0;

  std::string shape_string() const;  // "{2048, 6144}"
};

struct GgufOpenOptions {
  // Read the file into anonymous memory on 2 MiB pages (transparent huge pages) instead of
  // serving the tensors from the file mapping. Costs a copy at load (the resident size stays
  // the file size: the mapping is dropped) and makes streaming the weights much faster where
  // TLB misses are expensive (measured: MoE decode 2x faster under virtualisation).
  bool read_into_memory = false;
  // Read mode: called as the copy advances with (bytes read, file size), from the reading
  // threads (several at once: it must be thread-safe), once per 16 MiB chunk or less often.
  std::function<void(uint64_t done, uint64_t total)> on_read;
};

class GgufFile {
 public:
  struct Region {
    void* base = nullptr;     // what munmap (Windows: UnmapViewOfFile / VirtualFree) releases
    size_t length = 0;
    uint8_t* data = nullptr;  // the file's first byte (2 MiB-aligned on POSIX)
    bool file_view = false;   // Windows: a view of the file (else allocated memory)
  };

  // Errors: kFileNotFound; kIo; kFormat (bad magic or version, truncated header or data, bad
  // alignment, tensor data outside the file); kUnsupportedType for a tensor whose type id is
  // unknown (its size cannot be computed), naming the tensor and the id. Known types the engine
  // cannot compute with are accepted here; the model refuses them.
  static Status open(const std::string& path, std::unique_ptr<GgufFile>* out, const GgufOpenOptions& opts = {});
  bool in_memory() const { return in_memory_; }  // read into memory (else served by the mapping)
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return path_; }
  uint64_t alignment() const { return alignment_; }

  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const GgufValue* find(const std::string& key) const;
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* tensor(const std::string& name) const;

  // Typed getters. Missing key: kFormat when required, else *out untouched and OK.
  // Wrong type: kFormat naming the key, the expected and the found type.
  Status get_string(const std::string& key, std::string* out, bool required) const;
  Status get_uint(const std::string& key, uint64_t* out, bool required) const;  // any integer type, >= 0
  Status get_float(const std::string& key, double* out, bool required) const;   // f32/f64 (ints accepted)
  Status get_bool(const std::string& key, bool* out, bool required) const;
  // Integer array, or a scalar integer broadcast to `n` entries (llama.cpp get_key_or_arr).
  Status get_int_array(const std::string& key, size_t n, std::vector<int64_t>* out, bool required) const;

 private:
  GgufFile() = default;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t file_size_ = 0;
  uint64_t alignment_ = 32;
  Region region_;
  bool in_memory_ = false;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
  friend class GgufParser;
};

}  // namespace lfm
