#include "io/formats/llama2c_loader.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include "core/error.hpp"
#include "network/dense_units.hpp"

namespace spikesim {

namespace {

constexpr std::int64_t kMaxDim = 1 << 20;
constexpr std::uint64_t kHeaderBytes = 7 * 4;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw Error(ExitCode::model, fmt::format("{}: {}", file.string(), what));
}

// 64-bit products of header fields, refusing overflow instead of wrapping.
std::uint64_t checked_mul(const std::filesystem::path& file, std::uint64_t a, std::uint64_t b,
                          const char* tensor) {
  std::uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) fail(file, fmt::format("size of '{}' overflows 64 bits", tensor));
  return r;
}

// One array of the file, in order.
struct Section {
  const char* name;
  std::uint64_t elements;
};

struct Header {
  int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab, seq_len;
  bool shared;
  int head_dim, kv_dim;
};

Header parse_header(const std::filesystem::path& file, const std::array<std::int32_t, 7>& raw) {
  static constexpr const char* names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                           "n_kv_heads", "vocab_size", "seq_len"};
  for (int k = 0; k < 7; ++k) {
    const std::int64_t v = k == 5 ? std::abs(static_cast<std::int64_t>(raw[k])) : raw[k];
    if (v <= 0 || v > kMaxDim)
      fail(file, fmt::format("header field '{}' = {}: expected {}in [1, {}]", names[k], raw[k],
                             k == 5 ? "a magnitude " : "", kMaxDim));
  }
  Header h{raw[0], raw[1], raw[2], raw[3], raw[4], std::abs(raw[5]), raw[6], raw[5] > 0, 0, 0};
  if (h.dim % h.n_heads != 0)
    fail(file, fmt::format("header field 'n_heads' = {} does not divide 'dim' = {}", h.n_heads, h.dim));
  if (h.n_heads % h.n_kv_heads != 0)
    fail(file, fmt::format("header field 'n_kv_heads' = {} does not divide 'n_heads' = {}", h.n_kv_heads,
                           h.n_heads));
  h.head_dim = h.dim / h.n_heads;
  if (h.head_dim % 2 != 0)
    fail(file, fmt::format("head_dim = dim / n_heads = {} is odd (RoPE rotates pairs)", h.head_dim));
  h.kv_dim = h.n_kv_heads * h.head_dim;
  return h;
}

std::vector<Section> sections(const std::filesystem::path& f, const Header& h) {
  const std::uint64_t L = h.n_layers, d = h.dim, hd = h.hidden_dim, kv = h.kv_dim, v = h.vocab;
  std::vector<Section> s = {
      {"token_embedding_table", checked_mul(f, v, d, "token_embedding_table")},
      {"rms_att_weight", L * d},
      {"wq", checked_mul(f, L * d, d, "wq")},
      {"wk", checked_mul(f, L * kv, d, "wk")},
      {"wv", checked_mul(f, L * kv, d, "wv")},
      {"wo", checked_mul(f, L * d, d, "wo")},
      {"rms_ffn_weight", L * d},
      {"w1", checked_mul(f, L * hd, d, "w1")},
      {"w2", checked_mul(f, L * d, hd, "w2")},
      {"w3", checked_mul(f, L * hd, d, "w3")},
      {"rms_final_weight", d},
      {"freq_cis_real", static_cast<std::uint64_t>(h.seq_len) * (h.head_dim / 2)},
      {"freq_cis_imag", static_cast<std::uint64_t>(h.seq_len) * (h.head_dim / 2)},
  };
  if (!h.shared) s.push_back({"wcls", checked_mul(f, v, d, "wcls")});
  return s;
}

class SectionReader {
 public:
  SectionReader(const std::filesystem::path& file, std::istream& in, const LoadOptions& options)
      : file_(file), in_(in), options_(options) {}

  std::vector<float> next(const Section& s, long cols) {
    std::vector<float> v(s.elements);
    in_.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(s.elements * 4));
    if (!in_) fail(file_, fmt::format("read error in tensor '{}'", s.name));
    if constexpr (std::endian::native == std::endian::big)
      for (auto& x : v) x = std::bit_cast<float>(__builtin_bswap32(std::bit_cast<std::uint32_t>(x)));
    check_finite(v, file_.string(), s.name, options_, cols);
    return v;
  }
  void skip(const Section& s) { in_.seekg(static_cast<std::streamoff>(s.elements * 4), std::ios::cur); }

 private:
  const std::filesystem::path& file_;
  std::istream& in_;
  const LoadOptions& options_;
};

MatrixRM slice(const std::vector<float>& all, int layer, long rows, long cols) {
  return Eigen::Map<const MatrixRM>(all.data() + static_cast<std::size_t>(layer) * rows * cols, rows, cols);
}

Eigen::VectorXf slice_vec(const std::vector<float>& all, int layer, long n) {
  return Eigen::Map<const Eigen::VectorXf>(all.data() + static_cast<std::size_t>(layer) * n, n);
}

MatrixRM permute_rows(const MatrixRM& w, int n_heads, int head_dim, bool to_interleaved) {
  MatrixRM out(w.rows(), w.cols());
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h)
    for (int p = 0; p < 2; ++p)
      for (int i = 0; i < half; ++i) {
        const long rh = static_cast<long>(h) * head_dim + p * half + i;  // rotate-half row
        const long ri = static_cast<long>(h) * head_dim + 2 * i + p;     // interleaved row
        if (to_interleaved)
          out.row(ri) = w.row(rh);
        else
          out.row(rh) = w.row(ri);
      }
  return out;
}

}  // namespace

MatrixRM rotate_half_to_interleaved(const MatrixRM& w, int n_heads, int head_dim) {
  return permute_rows(w, n_heads, head_dim, true);
}
MatrixRM interleaved_to_rotate_half(const MatrixRM& w, int n_heads, int head_dim) {
  return permute_rows(w, n_heads, head_dim, false);
}

namespace {

// `in` holds the checkpoint's `file_size` bytes; `file` names it in messages.
LlamaModel load_llama2c_stream(const std::filesystem::path& file, std::istream& in, std::uint64_t file_size,
                               const LoadOptions& options) {
  if (file_size < kHeaderBytes)
    fail(file, fmt::format("file is {} bytes, shorter than the 28-byte header", file_size));
  std::array<std::int32_t, 7> raw{};
  std::array<unsigned char, kHeaderBytes> bytes{};
  in.read(reinterpret_cast<char*>(bytes.data()), kHeaderBytes);
  for (int k = 0; k < 7; ++k) {
    std::uint32_t u = 0;
    for (int b = 0; b < 4; ++b) u |= static_cast<std::uint32_t>(bytes[4 * k + b]) << (8 * b);
    raw[k] = static_cast<std::int32_t>(u);
  }
  const Header h = parse_header(file, raw);
  const auto secs = sections(file, h);

  // The file must hold exactly what the header promises; name the tensor a
  // short file ends in.
  std::uint64_t offset = kHeaderBytes;
  for (const auto& s : secs) {
    std::uint64_t end = 0;
    if (__builtin_add_overflow(offset, checked_mul(file, s.elements, 4, s.name), &end))
      fail(file, fmt::format("size of the checkpoint overflows 64 bits at tensor '{}'", s.name));
    if (end > file_size)
      fail(file, fmt::format(
                     "file is {} bytes but tensor '{}' needs bytes [{}, {}) (header: dim {}, hidden_dim {}, "
                     "n_layers {}, n_heads {}, n_kv_heads {}, vocab_size {}, seq_len {})",
                     file_size, s.name, offset, end, raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6]));
    offset = end;
  }
  if (offset != file_size)
    fail(file, fmt::format("file is {} bytes, {} more than the header promises ({} bytes, last tensor '{}'); "
                           "wrong vocab_size sign or not a llama2.c v0 checkpoint?",
                           file_size, file_size - offset, offset, secs.back().name));

  LlamaModel m;
  LlamaConfig& c = m.config;
  c.dim = h.dim;
  c.hidden_dim = h.hidden_dim;
  c.n_layers = h.n_layers;
  c.n_heads = h.n_heads;
  c.n_kv_heads = h.n_kv_heads;
  c.head_dim = h.head_dim;
  c.vocab_size = h.vocab;
  c.max_seq_len = h.seq_len;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.rope = RopeStyle::interleaved;
  c.bos_id = 1;
  c.eos_id = 2;
  c.tied_embeddings = h.shared;
  m.format = "llama2c";
  m.source = file.string();

  SectionReader r(file, in, options);
  const long d = h.dim, kv = h.kv_dim, hid = h.hidden_dim;
  auto embedding = r.next(secs[0], d);
  m.embedding = WeightTensor::from_f32(static_cast<std::size_t>(h.vocab), static_cast<std::size_t>(d), embedding,
                                       WeightType::f32, WeightOrder::by_output);
  auto linear = [](const MatrixRM& w) { return WeightTensor::from_f32(w, WeightType::f32, WeightOrder::by_input); };
  const auto rms_att = r.next(secs[1], d), wq = r.next(secs[2], d), wk = r.next(secs[3], d),
             wv = r.next(secs[4], d), wo = r.next(secs[5], d), rms_ffn = r.next(secs[6], d),
             w1 = r.next(secs[7], d), w2 = r.next(secs[8], hid), w3 = r.next(secs[9], d);
  for (int l = 0; l < h.n_layers; ++l) {
    LlamaLayer layer;
    layer.attn_norm = slice_vec(rms_att, l, d);
    layer.wq = linear(slice(wq, l, d, d));
    layer.wk = linear(slice(wk, l, kv, d));
    layer.wv = linear(slice(wv, l, kv, d));
    layer.wo = linear(slice(wo, l, d, d));
    layer.ffn_norm = slice_vec(rms_ffn, l, d);
    layer.w_gate = linear(slice(w1, l, hid, d));
    layer.w_down = linear(slice(w2, l, d, hid));
    layer.w_up = linear(slice(w3, l, hid, d));
    m.layers.push_back(std::move(layer));
  }
  const auto final_norm = r.next(secs[10], d);
  m.final_norm = Eigen::Map<const Eigen::VectorXf>(final_norm.data(), d);
  r.skip(secs[11]);
  r.skip(secs[12]);
  if (h.shared) {
    m.lm_head = m.embedding;
  } else {
    const auto wcls = r.next(secs[13], d);
    m.lm_head = WeightTensor::from_f32(static_cast<std::size_t>(h.vocab), static_cast<std::size_t>(d), wcls,
                                       WeightType::f32, WeightOrder::by_output);
  }
  validate_model(m);
  return m;
}

}  // namespace

LlamaModel load_llama2c_model(const std::filesystem::path& file, const LoadOptions& options) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open (expected a llama2.c .bin checkpoint)");
  std::error_code ec;
  const std::uint64_t file_size = std::filesystem::file_size(file, ec);
  if (ec) fail(file, fmt::format("cannot read the file size: {}", ec.message()));
  return load_llama2c_stream(file, in, file_size, options);
}

LlamaModel load_llama2c_model_from_bytes(std::span<const std::byte> bytes, const std::string& source_name,
                                         const LoadOptions& options) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                        std::ios::binary);
  return load_llama2c_stream(source_name, in, bytes.size(), options);
}

void write_llama2c_model(const LlamaModel& model, const std::filesystem::path& file) {
  validate_model(model);
  const LlamaConfig& c = model.config;
  if (c.n_heads * c.head_dim != c.dim)
    throw Error(ExitCode::model,
                fmt::format("{}: llama2.c needs n_heads * head_dim == dim, found {} * {} != {}", model.source,
                            c.n_heads, c.head_dim, c.dim));
  // The format has no place for these: writing would drop them silently.
  if (c.qkv_bias || c.o_bias || !c.sliding_window.empty() || c.rope_scaling.type != RopeScalingType::none ||
      c.rope_theta != 10000.0f)
    throw Error(ExitCode::model,
                fmt::format("{}: llama2.c holds no attention biases, sliding windows, RoPE scaling or rope_theta "
                            "other than 10000 (the model has some)",
                            model.source));
  const MatrixRM embedding = model.embedding.to_f32();
  const bool shared = c.tied_embeddings && model.lm_head.to_f32() == embedding;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ExitCode::output, fmt::format("{}: cannot open for writing", file.string()));

  auto put_i32 = [&](std::int32_t v) {
    const auto u = static_cast<std::uint32_t>(v);
    const char b[4] = {static_cast<char>(u & 0xff), static_cast<char>((u >> 8) & 0xff),
                       static_cast<char>((u >> 16) & 0xff), static_cast<char>((u >> 24) & 0xff)};
    out.write(b, 4);
  };
  auto put_f32 = [&](const float* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      put_i32(static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(p[i])));
  };
  auto put = [&](const auto& m) {
    put_f32(m.data(), static_cast<std::size_t>(m.size()));
  };  // row-major storage
  auto put_tensor = [&](const WeightTensor& w) { put(w.to_f32()); };

  for (int v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                shared ? c.vocab_size : -c.vocab_size, c.max_seq_len})
    put_i32(v);
  put(embedding);
  const bool permute = c.rope == RopeStyle::rotate_half;
  for (const auto& l : model.layers) put(l.attn_norm);
  for (const auto& l : model.layers)
    put(permute ? rotate_half_to_interleaved(l.wq.to_f32(), c.n_heads, c.head_dim) : l.wq.to_f32());
  for (const auto& l : model.layers)
    put(permute ? rotate_half_to_interleaved(l.wk.to_f32(), c.n_kv_heads, c.head_dim) : l.wk.to_f32());
  for (const auto& l : model.layers) put_tensor(l.wv);
  for (const auto& l : model.layers) put_tensor(l.wo);
  for (const auto& l : model.layers) put(l.ffn_norm);
  for (const auto& l : model.layers) put_tensor(l.w_gate);
  for (const auto& l : model.layers) put_tensor(l.w_down);
  for (const auto& l : model.layers) put_tensor(l.w_up);
  put(model.final_norm);
  // freq_cis as llama2.c's export writes them (cos, then sin, of pos * inv_freq).
  const int half = c.head_dim / 2;
  std::vector<float> cos_table, sin_table;
  for (int pos = 0; pos < c.max_seq_len; ++pos)
    for (int i = 0; i < half; ++i) {
      const float angle = static_cast<float>(pos) * rope_inv_freq(i, c.head_dim, c.rope_theta);
      cos_table.push_back(std::cos(angle));
      sin_table.push_back(std::sin(angle));
    }
  put_f32(cos_table.data(), cos_table.size());
  put_f32(sin_table.data(), sin_table.size());
  if (!shared) put_tensor(model.lm_head);
  out.flush();
  if (!out) throw Error(ExitCode::output, fmt::format("{}: write failed", file.string()));
}

}  // namespace spikesim
