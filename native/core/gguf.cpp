// SPDX-License-Identifier: MIT
// GGUF v2/v3 reader. The file is mapped read-only; metadata is parsed into GgufValue objects and
// tensor infos point into the mapping (no tensor data is copied).
//
// Layout (little-endian; v2 and v3 are identical on disk, v3 only allowed big-endian files):
//   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x      { string key | u32 value_type | value }
//   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to general.alignment (default 32) | tensor data (offsets relative to here)
//   string = u64 length + bytes (no terminator); array = u32 elem_type + u64 count + elements
//
// The input is treated as hostile: every read is bounds-checked against the file size, and every
// count is checked against the bytes left in the file before anything is allocated for it.
#include "gguf.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <limits>
#include <system_error>
#include <thread>
#include <vector>

#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace lfm {

namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxDims = 4;                  // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 16;           // arrays of arrays of ... (real files use 1)
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint64_t kMaxAlignment = 1ull << 30;
constexpr uint64_t kMaxPlausibleBytes = 1ull << 48;  // larger sizes are corruption, not truncation

// Smallest on-disk size of one kv pair (empty key + u32 type + u8 value) and one tensor info
// (empty name + u32 n_dims + u32 type + u64 offset): used to reject absurd counts up front.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;

// Bytes of one scalar of a fixed-size metadata type; 0 for string/array/unknown.
uint64_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    default: return 0;
  }
}

bool is_valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kF64); }

bool is_int_type(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kU16: case GgufType::kI16:
    case GgufType::kU32: case GgufType::kI32: case GgufType::kU64: case GgufType::kI64:
      return true;
    default:
      return false;
  }
}

bool is_float_type(GgufType t) { return t == GgufType::kF32 || t == GgufType::kF64; }

// Smallest on-disk size of one element of an array of type t (strings and arrays have headers).
uint64_t min_elem_size(GgufType t) {
  if (t == GgufType::kString) return 8;
  if (t == GgufType::kArray) return 4 + 8;
  return scalar_size(t);
}

uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max() : a + b;
}

std::string type_string(const GgufValue& v) {
  if (v.type != GgufType::kArray) return gguf_type_name(v.type);
  return std::string("array of ") + gguf_type_name(v.elem_type);
}

Status format_error(const std::string& msg) { return Status(StatusCode::kFormat, "[load] " + msg); }

}  // namespace

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::kU8: return "u8";
    case GgufType::kI8: return "i8";
    case GgufType::kU16: return "u16";
    case GgufType::kI16: return "i16";
    case GgufType::kU32: return "u32";
    case GgufType::kI32: return "i32";
    case GgufType::kF32: return "f32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kU64: return "u64";
    case GgufType::kI64: return "i64";
    case GgufType::kF64: return "f64";
  }
  return "unknown";
}

bool GgufValue::is_integer() const { return is_int_type(type) || type == GgufType::kBool; }
bool GgufValue::is_float() const { return is_float_type(type); }

std::string GgufTensor::shape_string() const {
  std::string s = "{";
  for (size_t i = 0; i < ne.size(); i++) {
    if (i) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "}";
}

// --- parser

class GgufParser {
 public:
  GgufParser(GgufFile* f, const uint8_t* base, uint64_t size) : f_(f), base_(base), size_(size) {}
  Status parse();

 private:
  uint64_t left() const { return size_ - pos_; }

  // Fails unless n more bytes exist. `what` names the item, ctx_ the enclosing key or tensor.
  Status need(uint64_t n, const char* what) const {
    if (n <= left()) return Status::ok();
    return format_error("file is truncated: " + f_->path_ + " has " + std::to_string(size_) +
                        " bytes, but the " + what + " of " + ctx_ + " at offset " +
                        std::to_string(pos_) + " needs " + std::to_string(n) + " more");
  }

  // A count read from the file, of items at least `min_size` bytes each, must fit in the rest
  // of the file; this runs before anything is allocated for the items. A count that could not
  // fit in any real file is called corrupt; a smaller one means the file was cut short.
  Status check_count(uint64_t count, uint64_t min_size, const char* what) const {
    if (min_size == 0 || count <= left() / min_size) return Status::ok();
    if (count > kMaxPlausibleBytes / min_size) {
      return format_error(f_->path_ + " is corrupt: the " + what + " of " + ctx_ + " is " +
                          std::to_string(count) + ", which cannot fit in a file of " +
                          std::to_string(size_) + " bytes");
    }
    return format_error("file is truncated: " + f_->path_ + " has " + std::to_string(size_) +
                        " bytes, but the " + what + " of " + ctx_ + " is " +
                        std::to_string(count) + ", needing at least " +
                        std::to_string(count * min_size) + " bytes after offset " +
                        std::to_string(pos_));
  }

  template <typename T>
  Status read(T* out, const char* what) {
    LFM_RETURN_IF_ERROR(need(sizeof(T), what));
    std::memcpy(out, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::ok();
  }

  Status read_string(std::string* out, const char* what) {
    uint64_t len = 0;
    LFM_RETURN_IF_ERROR(read(&len, what));
    LFM_RETURN_IF_ERROR(check_count(len, 1, "string length"));
    out->assign(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return Status::ok();
  }

  Status skip_string(const char* what) {
    uint64_t len = 0;
    LFM_RETURN_IF_ERROR(read(&len, what));
    LFM_RETURN_IF_ERROR(check_count(len, 1, "string length"));
    pos_ += len;
    return Status::ok();
  }

  Status read_scalar(GgufType type, GgufValue* v);
  Status read_array(GgufValue* v);
  Status skip_array(GgufType elem_type, uint64_t n, int depth);
  Status read_elem_type(GgufType* out);
  Status read_kv(uint64_t index);
  Status read_tensor_info(uint64_t index);

  GgufFile* f_;
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string ctx_ = "the header";  // what is being read, for error messages
};

Status GgufParser::read_scalar(GgufType type, GgufValue* v) {
  v->type = type;
  const char* what = "value";
  switch (type) {
    case GgufType::kU8: { uint8_t x = 0; LFM_RETURN_IF_ERROR(read(&x, what)); v->u = x; v->i = x; break; }
    case GgufType::kI8: { int8_t x = 0; LFM_RETURN_IF_ERROR(read(&x, what)); v->i = x; break; }
    case GgufType::kU16: { uint16_t x = 0; LFM_RETURN_IF_ERROR(read(&x, what)); v->u = x; v->i = x; break; }
    case GgufType::kI16: { int16_t x = 0; LFM_RETURN_IF_ERROR(read(&x, what)); v->i = x; break; }
    case GgufType::kU32: { uint32_t x = 0; LFM_RETURN_IF_ERROR(read(&x, what)); v->u = x; v->i = x; break; }
    case GgufType::kI32: { int32_t x = 0; LFM_RETURN_IF_ERROR(read(&x, what)); v->i = x; break; }
    // u64 above INT64_MAX wraps in `i`; `u` is exact.
    case GgufType::kU64: { uint64_t x = 0; LFM_RETURN_IF_ERROR(read(&x, what)); v->u = x; v->i = static_cast<int64_t>(x); break; }
    case GgufType::kI64: { int64_t x = 0; LFM_RETURN_IF_ERROR(read(&x, what)); v->i = x; break; }
    case GgufType::kF32: { float x = 0; LFM_RETURN_IF_ERROR(read(&x, what)); v->f = x; break; }
    case GgufType::kF64: { double x = 0; LFM_RETURN_IF_ERROR(read(&x, what)); v->f = x; break; }
    case GgufType::kBool: { uint8_t x = 0; LFM_RETURN_IF_ERROR(read(&x, what)); v->i = x != 0; v->u = x != 0; break; }
    case GgufType::kString: return read_string(&v->s, "string length");
    case GgufType::kArray: return read_array(v);
  }
  if (is_int_type(type) && v->i >= 0 && type != GgufType::kU64) v->u = static_cast<uint64_t>(v->i);
  return Status::ok();
}

Status GgufParser::read_elem_type(GgufType* out) {
  uint32_t t = 0;
  LFM_RETURN_IF_ERROR(read(&t, "array element type"));
  if (!is_valid_type(t)) {
    return format_error(f_->path_ + ": " + ctx_ + " has an array of unknown element type " +
                        std::to_string(t));
  }
  *out = static_cast<GgufType>(t);
  return Status::ok();
}

Status GgufParser::read_array(GgufValue* v) {
  GgufType et;
  LFM_RETURN_IF_ERROR(read_elem_type(&et));
  uint64_t n = 0;
  LFM_RETURN_IF_ERROR(read(&n, "array length"));
  LFM_RETURN_IF_ERROR(check_count(n, min_elem_size(et), "array length"));
  v->type = GgufType::kArray;
  v->elem_type = et;
  v->n_elems = n;
  const size_t count = static_cast<size_t>(n);
  if (et == GgufType::kString) {
    v->strings.resize(count);
    for (size_t k = 0; k < count; k++) LFM_RETURN_IF_ERROR(read_string(&v->strings[k], "string length"));
    return Status::ok();
  }
  if (et == GgufType::kArray) return skip_array(et, n, 1);

  // Fixed-size elements: the whole array was bounds-checked by check_count.
  const uint8_t* p = base_ + pos_;
  const uint64_t es = scalar_size(et);
  pos_ += n * es;
  if (is_float_type(et)) {
    v->floats.resize(count);
    for (size_t k = 0; k < count; k++) {
      if (et == GgufType::kF32) {
        float x;
        std::memcpy(&x, p + k * 4, 4);
        v->floats[k] = x;
      } else {
        std::memcpy(&v->floats[k], p + k * 8, 8);
      }
    }
    return Status::ok();
  }
  v->ints.resize(count);
  for (size_t k = 0; k < count; k++) {
    const uint8_t* e = p + k * es;
    int64_t x = 0;
    switch (et) {
      case GgufType::kU8: x = e[0]; break;
      case GgufType::kBool: x = e[0] != 0; break;
      case GgufType::kI8: { int8_t t; std::memcpy(&t, e, 1); x = t; break; }
      case GgufType::kU16: { uint16_t t; std::memcpy(&t, e, 2); x = t; break; }
      case GgufType::kI16: { int16_t t; std::memcpy(&t, e, 2); x = t; break; }
      case GgufType::kU32: { uint32_t t; std::memcpy(&t, e, 4); x = t; break; }
      case GgufType::kI32: { int32_t t; std::memcpy(&t, e, 4); x = t; break; }
      case GgufType::kU64: case GgufType::kI64: std::memcpy(&x, e, 8); break;
      default: break;
    }
    v->ints[k] = x;
  }
  return Status::ok();
}

// Walks n elements of an array without keeping them (used for arrays nested in arrays).
// Every element consumes at least min_elem_size bytes, so the walk is bounded by the file size.
Status GgufParser::skip_array(GgufType elem_type, uint64_t n, int depth) {
  if (depth > kMaxArrayDepth) {
    return format_error(f_->path_ + ": " + ctx_ + " nests arrays more than " +
                        std::to_string(kMaxArrayDepth) + " levels deep");
  }
  LFM_RETURN_IF_ERROR(check_count(n, min_elem_size(elem_type), "array length"));
  if (elem_type == GgufType::kString) {
    for (uint64_t k = 0; k < n; k++) LFM_RETURN_IF_ERROR(skip_string("string length"));
  } else if (elem_type == GgufType::kArray) {
    for (uint64_t k = 0; k < n; k++) {
      GgufType et;
      LFM_RETURN_IF_ERROR(read_elem_type(&et));
      uint64_t m = 0;
      LFM_RETURN_IF_ERROR(read(&m, "array length"));
      LFM_RETURN_IF_ERROR(skip_array(et, m, depth + 1));
    }
  } else {
    pos_ += n * scalar_size(elem_type);
  }
  return Status::ok();
}

Status GgufParser::read_kv(uint64_t index) {
  ctx_ = "metadata entry #" + std::to_string(index);
  std::string key;
  LFM_RETURN_IF_ERROR(read_string(&key, "key length"));
  ctx_ = "metadata key '" + key + "'";
  if (f_->kv_.count(key)) return format_error(f_->path_ + ": duplicate metadata key '" + key + "'");
  uint32_t t = 0;
  LFM_RETURN_IF_ERROR(read(&t, "value type"));
  if (!is_valid_type(t)) {
    return format_error(f_->path_ + ": metadata key '" + key + "' has unknown value type " +
                        std::to_string(t));
  }
  GgufValue v;
  LFM_RETURN_IF_ERROR(read_scalar(static_cast<GgufType>(t), &v));
  f_->kv_.emplace(std::move(key), std::move(v));
  return Status::ok();
}

Status GgufParser::read_tensor_info(uint64_t index) {
  ctx_ = "tensor info #" + std::to_string(index);
  GgufTensor t;
  LFM_RETURN_IF_ERROR(read_string(&t.name, "name length"));
  ctx_ = "tensor " + t.name;
  if (f_->tensor_index_.count(t.name)) {
    return format_error(f_->path_ + ": duplicate tensor name " + t.name);
  }
  uint32_t n_dims = 0;
  LFM_RETURN_IF_ERROR(read(&n_dims, "dimension count"));
  if (n_dims > static_cast<uint32_t>(kMaxDims)) {
    return format_error("tensor " + t.name + " has " + std::to_string(n_dims) +
                        " dimensions (at most " + std::to_string(kMaxDims) + ")");
  }
  t.ne.resize(n_dims);
  int64_t n_elements = 1;
  for (uint32_t d = 0; d < n_dims; d++) {
    uint64_t ne = 0;
    LFM_RETURN_IF_ERROR(read(&ne, "shape"));
    if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return format_error("tensor " + t.name + " has dimension " + std::to_string(d) + " = " +
                          std::to_string(ne) + ", out of range");
    }
    t.ne[d] = static_cast<int64_t>(ne);
  }
  for (uint32_t d = 0; d < n_dims; d++) {
    if (t.ne[d] != 0 && n_elements > std::numeric_limits<int64_t>::max() / t.ne[d]) {
      return format_error("tensor " + t.name + " has shape " + t.shape_string() +
                          " whose element count overflows");
    }
    n_elements *= t.ne[d];
  }
  t.n_elements = n_elements;
  LFM_RETURN_IF_ERROR(read(&t.type_id, "type"));
  LFM_RETURN_IF_ERROR(read(&t.offset, "data offset"));

  const TypeTraits& tr = type_traits(t.type_id);
  if (tr.name == nullptr) {
    return Status(StatusCode::kUnsupportedType, "[load] tensor " + t.name +
                                                    " has unknown ggml type id " +
                                                    std::to_string(t.type_id));
  }
  t.type = static_cast<GgmlType>(t.type_id);
  const int64_t ne0 = n_dims > 0 ? t.ne[0] : 1;
  if (ne0 % tr.block_size != 0) {
    return format_error("tensor " + t.name + " of type " + tr.name + " has shape " +
                        t.shape_string() + ": ne[0] is not a multiple of the block size " +
                        std::to_string(tr.block_size));
  }
  const uint64_t n_blocks = static_cast<uint64_t>(n_elements / tr.block_size);
  if (n_blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(tr.type_size)) {
    return format_error("tensor " + t.name + " has shape " + t.shape_string() +
                        " whose byte size overflows");
  }
  t.n_bytes = n_blocks * static_cast<uint64_t>(tr.type_size);
  if (t.offset % f_->alignment_ != 0) {
    return format_error("tensor " + t.name + " has data offset " + std::to_string(t.offset) +
                        ", which is not a multiple of the alignment " +
                        std::to_string(f_->alignment_));
  }
  f_->tensor_index_.emplace(t.name, f_->tensors_.size());
  f_->tensors_.push_back(std::move(t));
  return Status::ok();
}

Status GgufParser::parse() {
  const std::string& path = f_->path_;
  uint32_t magic = 0;
  if (size_ < 4) {
    return format_error(path + " is not a GGUF file (only " + std::to_string(size_) +
                        " bytes, too short for the magic)");
  }
  LFM_RETURN_IF_ERROR(read(&magic, "magic"));
  if (magic != kGgufMagic) {
    char buf[96];
    const uint8_t* m = base_;
    auto pr = [](uint8_t c) { return (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.'; };
    std::snprintf(buf, sizeof buf, "magic %02x %02x %02x %02x \"%c%c%c%c\", expected \"GGUF\"",
                  m[0], m[1], m[2], m[3], pr(m[0]), pr(m[1]), pr(m[2]), pr(m[3]));
    return format_error(path + " is not a GGUF file (" + buf + ")");
  }
  LFM_RETURN_IF_ERROR(read(&f_->version_, "version"));
  const uint32_t ver = f_->version_;
  if (ver == 0x02000000u || ver == 0x03000000u) {
    return format_error(path + ": big-endian GGUF files are not supported");
  }
  if (ver != 2 && ver != 3) {
    return format_error(path + ": GGUF version " + std::to_string(ver) +
                        " is not supported (supported: 2, 3)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  LFM_RETURN_IF_ERROR(read(&n_tensors, "tensor count"));
  LFM_RETURN_IF_ERROR(read(&n_kv, "metadata count"));
  LFM_RETURN_IF_ERROR(check_count(n_kv, kMinKvBytes, "metadata count"));
  LFM_RETURN_IF_ERROR(check_count(n_tensors, kMinTensorInfoBytes, "tensor count"));

  for (uint64_t k = 0; k < n_kv; k++) LFM_RETURN_IF_ERROR(read_kv(k));

  f_->alignment_ = kDefaultAlignment;
  if (const GgufValue* a = f_->find("general.alignment")) {
    if (!is_int_type(a->type) || (a->type == GgufType::kU64 ? a->u == 0 : a->i <= 0)) {
      const std::string found = is_int_type(a->type) ? std::to_string(a->i) : type_string(*a);
      return format_error(path + ": general.alignment must be a positive integer (found " +
                          found + ")");
    }
    const uint64_t al = a->u;
    if ((al & (al - 1)) != 0 || al > kMaxAlignment) {
      return format_error(path + ": general.alignment = " + std::to_string(al) +
                          " is not a power of two (at most 2^30)");
    }
    f_->alignment_ = al;
  }

  f_->tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; k++) LFM_RETURN_IF_ERROR(read_tensor_info(k));

  // The data section starts at the next multiple of the alignment after the tensor infos.
  const uint64_t al = f_->alignment_;
  const uint64_t data_start = (pos_ + al - 1) / al * al;  // pos_ <= size_, al <= 2^30: no overflow
  const uint64_t data_size = data_start <= size_ ? size_ - data_start : 0;
  for (GgufTensor& t : f_->tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      const TypeTraits& tr = type_traits(t.type_id);
      const uint64_t end = sat_add(sat_add(data_start, t.offset), t.n_bytes);
      return format_error("tensor " + t.name + " (" + tr.name + " " + t.shape_string() + ", " +
                          std::to_string(t.n_bytes) + " bytes at data offset " +
                          std::to_string(t.offset) + ") ends at byte " + std::to_string(end) +
                          ", past the end of the file: " + path + " is truncated (" +
                          std::to_string(size_) + " bytes)");
    }
    t.data = base_ + data_start + t.offset;
  }
  return Status::ok();
}

// --- GgufFile

#if !defined(_WIN32)

namespace {

constexpr size_t kHugePage = 2u << 20;

// An address range of at least `size` bytes starting on a 2 MiB boundary, reserved without
// access (PROT_NONE, no memory committed): region->data is the aligned start, and [data, data +
// size) lies inside the reservation.
Status reserve_aligned(size_t size, GgufFile::Region* region) {
  const size_t length = size + kHugePage;
  void* base = ::mmap(nullptr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    const int err = errno;
    return Status(err == ENOMEM ? StatusCode::kOutOfMemory : StatusCode::kIo, std::strerror(err));
  }
  region->base = base;
  region->length = length;
  region->data = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + kHugePage - 1) / kHugePage * kHugePage);
  return Status::ok();
}

void release(GgufFile::Region* region) {
  if (region->base) ::munmap(region->base, region->length);
  *region = GgufFile::Region();
}

Status map_file(int fd, size_t size, GgufFile::Region* region) {
  LFM_RETURN_IF_ERROR(reserve_aligned(size, region));
  void* m = ::mmap(region->data, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
  if (m == MAP_FAILED) {
    const int err = errno;
    release(region);
    return Status(err == ENOMEM ? StatusCode::kOutOfMemory : StatusCode::kIo, std::strerror(err));
  }
  return Status::ok();
}

// Fills the page tables of a file mapping now (one pass on the loading thread) instead of one
// page fault per 4 KiB page at first use, which would make the first tokens routed to each
// expert pay for its faults. Best effort: older kernels lack MADV_POPULATE_READ (Linux 5.14).
void populate(uint8_t* data, size_t size) {
#ifdef __linux__
  constexpr int kPopulateRead = 22;  // MADV_POPULATE_READ
  if (::madvise(data, size, kPopulateRead) != 0) ::madvise(data, size, MADV_WILLNEED);
#else
  (void)data;
  (void)size;
#endif
}

// The whole file into fresh anonymous memory, 2 MiB-aligned and marked for transparent huge
// pages (a weight matrix then spans a few TLB entries instead of one per 4 KiB page), read by
// up to 4 threads (one core's copy speed would make this the slow part of loading).
using ReadProgress = std::function<void(uint64_t, uint64_t)>;

Status read_file(int fd, size_t size, GgufFile::Region* region, const ReadProgress& progress) {
  // The whole huge pages the copy occupies, all inside the reservation: reserving only `size`
  // let the rounded-up span reach past it, so the mprotect calls below changed (or failed on)
  // whatever lay beyond (ENOMEM, or another mapping of the process turned read-only).
  const size_t span = (size + kHugePage - 1) / kHugePage * kHugePage;
  LFM_RETURN_IF_ERROR(reserve_aligned(span, region));
  if (::mprotect(region->data, span, PROT_READ | PROT_WRITE) != 0) {
    const int err = errno;
    release(region);
    return Status(err == ENOMEM ? StatusCode::kOutOfMemory : StatusCode::kIo, std::strerror(err));
  }
#ifdef MADV_HUGEPAGE
  ::madvise(region->data, span, MADV_HUGEPAGE);  // a hint: without THP the copy still works
#endif
  constexpr size_t kChunk = 16u << 20;
  const size_t n_chunks = (size + kChunk - 1) / kChunk;
  const unsigned hw = std::thread::hardware_concurrency();
  const size_t n_workers = std::min<size_t>(std::max(1u, std::min(hw, 4u)), n_chunks);
  std::atomic<size_t> next{0};
  std::atomic<int> error{0};
  std::atomic<bool> short_read{false};
  std::atomic<size_t> bytes_done{0};
  auto work = [&]() {
    for (size_t c = next.fetch_add(1); c < n_chunks && error.load() == 0 && !short_read.load(); c = next.fetch_add(1)) {
      const size_t off = c * kChunk, len = std::min(kChunk, size - off);
      size_t done = 0;
      while (done < len) {
        const ssize_t r = ::pread(fd, region->data + off + done, len - done, static_cast<off_t>(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { error.store(errno); return; }
        if (r == 0) { short_read.store(true); return; }
        done += static_cast<size_t>(r);
      }
      const size_t total_done = bytes_done.fetch_add(len) + len;
      if (progress) progress(total_done, size);
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n_workers; t++) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // fewer helpers: the chunks are shared dynamically, this thread reads the rest
    }
  }
  work();
  for (std::thread& th : threads) th.join();
  Status st = Status::ok();
  if (error.load() != 0) {
    st = Status(StatusCode::kIo, std::strerror(error.load()));
  } else if (short_read.load()) {
    st = Status(StatusCode::kIo, "the file became shorter while it was read");
  } else if (::mprotect(region->data, span, PROT_READ) != 0) {
    st = Status(StatusCode::kIo, std::strerror(errno));
  }
  if (!st.is_ok()) release(region);
  return st;
}

// An open file and its size, after the checks every platform makes (exists, regular, not empty).
struct OsFile {
  int fd = -1;
  uint64_t size = 0;
};

void os_close(OsFile* f) {
  if (f->fd >= 0) ::close(f->fd);
  f->fd = -1;
}

Status os_open(const std::string& path, OsFile* f) {
  // O_NONBLOCK keeps open() from hanging on a FIFO; it has no effect on regular files.
  f->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f->fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return Status(StatusCode::kFileNotFound, "[load] file not found: " + path);
    }
    return Status(StatusCode::kIo, "[load] cannot open " + path + ": " + std::strerror(err));
  }
  struct stat st;
  Status s = Status::ok();
  if (::fstat(f->fd, &st) != 0) {
    s = Status(StatusCode::kIo, "[load] cannot stat " + path + ": " + std::strerror(errno));
  } else if (S_ISDIR(st.st_mode)) {
    s = Status(StatusCode::kIo, "[load] " + path + " is a directory, not a GGUF file");
  } else if (!S_ISREG(st.st_mode)) {
    s = Status(StatusCode::kIo, "[load] " + path + " is not a regular file");
  }
  if (!s.is_ok()) {
    os_close(f);
    return s;
  }
  f->size = static_cast<uint64_t>(st.st_size);
  return Status::ok();
}

Status map_file(const OsFile& f, size_t size, GgufFile::Region* region) { return map_file(f.fd, size, region); }
Status read_file(const OsFile& f, size_t size, GgufFile::Region* region, const ReadProgress& progress) {
  return read_file(f.fd, size, region, progress);
}

}  // namespace

#else

namespace {

// Windows: the file is mapped with CreateFileMapping / MapViewOfFile (no huge-page alignment)
// and read mode copies it into VirtualAlloc memory.
struct OsFile {
  HANDLE h = INVALID_HANDLE_VALUE;
  uint64_t size = 0;
};

std::string win_error(DWORD code) {
  char buf[256] = {0};
  const DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code, 0, buf,
                                 sizeof buf, nullptr);
  std::string s(buf, n);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '.')) s.pop_back();
  return s.empty() ? "Windows error " + std::to_string(code) : s;
}

void os_close(OsFile* f) {
  if (f->h != INVALID_HANDLE_VALUE) CloseHandle(f->h);
  f->h = INVALID_HANDLE_VALUE;
}

Status os_open(const std::string& path, OsFile* f) {
  const int n = MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, nullptr, 0);
  std::wstring wpath(n > 0 ? static_cast<size_t>(n) : 1u, L'\0');
  if (n > 0) MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, &wpath[0], n);
  const DWORD attr = GetFileAttributesW(wpath.c_str());
  if (attr != INVALID_FILE_ATTRIBUTES && (attr & FILE_ATTRIBUTE_DIRECTORY)) {
    return Status(StatusCode::kIo, "[load] " + path + " is a directory, not a GGUF file");
  }
  f->h = CreateFileW(wpath.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (f->h == INVALID_HANDLE_VALUE) {
    const DWORD err = GetLastError();
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) {
      return Status(StatusCode::kFileNotFound, "[load] file not found: " + path);
    }
    return Status(StatusCode::kIo, "[load] cannot open " + path + ": " + win_error(err));
  }
  LARGE_INTEGER sz;
  if (GetFileType(f->h) != FILE_TYPE_DISK || !GetFileSizeEx(f->h, &sz)) {
    os_close(f);
    return Status(StatusCode::kIo, "[load] " + path + " is not a regular file");
  }
  f->size = static_cast<uint64_t>(sz.QuadPart);
  return Status::ok();
}

void release(GgufFile::Region* region) {
  if (region->base) {
    if (region->file_view) {
      UnmapViewOfFile(region->base);
    } else {
      VirtualFree(region->base, 0, MEM_RELEASE);
    }
  }
  *region = GgufFile::Region();
}

Status map_file(const OsFile& f, size_t size, GgufFile::Region* region) {
  HANDLE mapping = CreateFileMappingW(f.h, nullptr, PAGE_READONLY, 0, 0, nullptr);
  if (!mapping) return Status(StatusCode::kIo, win_error(GetLastError()));
  void* view = MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, size);
  const DWORD err = GetLastError();
  CloseHandle(mapping);  // the view keeps the mapping alive
  if (!view) return Status(err == ERROR_NOT_ENOUGH_MEMORY ? StatusCode::kOutOfMemory : StatusCode::kIo, win_error(err));
  region->base = view;
  region->length = size;
  region->data = static_cast<uint8_t*>(view);
  region->file_view = true;
  return Status::ok();
}

void populate(uint8_t*, size_t) {}

using ReadProgress = std::function<void(uint64_t, uint64_t)>;

Status read_file(const OsFile& f, size_t size, GgufFile::Region* region, const ReadProgress& progress) {
  void* mem = VirtualAlloc(nullptr, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  if (!mem) return Status(StatusCode::kOutOfMemory, win_error(GetLastError()));
  region->base = mem;
  region->length = size;
  region->data = static_cast<uint8_t*>(mem);
  region->file_view = false;
  size_t done = 0;
  while (done < size) {
    const DWORD want = static_cast<DWORD>(std::min<size_t>(size - done, 16u << 20));
    OVERLAPPED at{};
    at.Offset = static_cast<DWORD>(done & 0xffffffffu);
    at.OffsetHigh = static_cast<DWORD>(static_cast<uint64_t>(done) >> 32);
    DWORD got = 0;
    if (!ReadFile(f.h, region->data + done, want, &got, &at)) {
      const Status st(StatusCode::kIo, win_error(GetLastError()));
      release(region);
      return st;
    }
    if (got == 0) {
      release(region);
      return Status(StatusCode::kIo, "the file became shorter while it was read");
    }
    done += got;
    if (progress) progress(done, size);
  }
  DWORD old = 0;
  VirtualProtect(region->data, size, PAGE_READONLY, &old);
  return Status::ok();
}

}  // namespace

#endif  // _WIN32

Status GgufFile::open(const std::string& path, std::unique_ptr<GgufFile>* out, const GgufOpenOptions& opts) {
  out->reset();
  OsFile fd;
  LFM_RETURN_IF_ERROR(os_open(path, &fd));
  const uint64_t size = fd.size;
  if (size == 0) {
    os_close(&fd);
    return Status(StatusCode::kFormat, "[load] " + path + " is empty (0 bytes), not a GGUF file");
  }
  if (size > static_cast<uint64_t>(std::numeric_limits<size_t>::max())) {
    os_close(&fd);
    return Status(StatusCode::kIo, "[load] " + path + " is too large to map in this process");
  }
  // The file is mapped at a 2 MiB-aligned address (file offset 0 there), so that page-cache
  // pages held as 2 MiB folios can be mapped as huge pages.
  GgufFile::Region file_map;
  Status st_map = map_file(fd, static_cast<size_t>(size), &file_map);
  if (!st_map.is_ok()) {
    os_close(&fd);
    return Status(st_map.code(), "[load] cannot map " + path + ": " + st_map.message());
  }
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->file_size_ = size;
  f->region_ = file_map;  // owned by f from here on: the destructor unmaps it
  {
    GgufParser parser(f.get(), file_map.data, size);
    Status st_parse = parser.parse();
    if (!st_parse.is_ok()) {
      os_close(&fd);
      return st_parse;
    }
  }
  if (!opts.read_into_memory) {
    os_close(&fd);  // the mapping keeps the file referenced
    populate(file_map.data, static_cast<size_t>(size));
    *out = std::move(f);
    return Status::ok();
  }

  // Read mode: the whole file into anonymous memory on 2 MiB pages, then parse again there (the
  // tensor pointers and metadata then refer to the copy) and drop the file mapping (f).
  GgufFile::Region mem;
  Status st_read = read_file(fd, static_cast<size_t>(size), &mem, opts.on_read);
  os_close(&fd);
  if (!st_read.is_ok()) return Status(st_read.code(), "[load] cannot read " + path + ": " + st_read.message());
  std::unique_ptr<GgufFile> g(new GgufFile());
  g->path_ = path;
  g->file_size_ = size;
  g->region_ = mem;
  g->in_memory_ = true;
  GgufParser parser(g.get(), mem.data, size);
  LFM_RETURN_IF_ERROR(parser.parse());
  *out = std::move(g);
  return Status::ok();
}

GgufFile::~GgufFile() { release(&region_); }

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

// --- typed getters

namespace {

Status missing(const std::string& key) {
  return format_error("required metadata key '" + key + "' is missing");
}

Status wrong_type(const std::string& key, const char* expected, const GgufValue& v) {
  return format_error("metadata key '" + key + "' has type " + type_string(v) + ", expected " +
                      expected);
}

}  // namespace

Status GgufFile::get_string(const std::string& key, std::string* out, bool required) const {
  const GgufValue* v = find(key);
  if (!v) return required ? missing(key) : Status::ok();
  if (v->type != GgufType::kString) return wrong_type(key, "string", *v);
  *out = v->s;
  return Status::ok();
}

Status GgufFile::get_uint(const std::string& key, uint64_t* out, bool required) const {
  const GgufValue* v = find(key);
  if (!v) return required ? missing(key) : Status::ok();
  if (!is_int_type(v->type)) return wrong_type(key, "an unsigned integer", *v);
  if (v->type != GgufType::kU64 && v->i < 0) {
    return format_error("metadata key '" + key + "' is " + std::to_string(v->i) +
                        ", expected a non-negative integer");
  }
  *out = v->u;
  return Status::ok();
}

Status GgufFile::get_float(const std::string& key, double* out, bool required) const {
  const GgufValue* v = find(key);
  if (!v) return required ? missing(key) : Status::ok();
  if (is_float_type(v->type)) {
    *out = v->f;
  } else if (is_int_type(v->type)) {
    *out = v->type == GgufType::kU64 ? static_cast<double>(v->u) : static_cast<double>(v->i);
  } else {
    return wrong_type(key, "a number", *v);
  }
  return Status::ok();
}

Status GgufFile::get_bool(const std::string& key, bool* out, bool required) const {
  const GgufValue* v = find(key);
  if (!v) return required ? missing(key) : Status::ok();
  if (v->type != GgufType::kBool) return wrong_type(key, "bool", *v);
  *out = v->i != 0;
  return Status::ok();
}

// n == 0 accepts an array of any length (and a scalar gives one entry).
Status GgufFile::get_int_array(const std::string& key, size_t n, std::vector<int64_t>* out,
                               bool required) const {
  const GgufValue* v = find(key);
  if (!v) return required ? missing(key) : Status::ok();
  if (is_int_type(v->type)) {
    out->assign(n == 0 ? 1 : n, v->i);
    return Status::ok();
  }
  if (v->type != GgufType::kArray || !is_int_type(v->elem_type)) {
    return wrong_type(key, "an integer or an integer array", *v);
  }
  if (n != 0 && v->ints.size() != n) {
    return format_error("metadata key '" + key + "' has " + std::to_string(v->ints.size()) +
                        " entries, expected " + std::to_string(n));
  }
  *out = v->ints;
  return Status::ok();
}

}  // namespace lfm
