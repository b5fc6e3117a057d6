#pragma once
// A thin RAII layer over the HDF5 C API (1.10), used by the run recorder
// (io/runfile/recorder.hpp) and its reader (io/runfile/run_file.hpp). Nothing else in
// spikesim talks to HDF5, so this is the only place that knows its rules:
//
//  - Every hid_t is owned by a move-only Handle that closes it with the
//    matching H5*close; predefined types (H5T_NATIVE_*) are never wrapped.
//  - HDF5 prints its error stack to stderr by default. We install a handler
//    (per thread: the Debian library is a thread-safe build, where the
//    handler is thread-local) that stays quiet unless SPIKESIM_HDF5_DEBUG=1,
//    and turn failures into spikesim::Error naming the file and the object,
//    with HDF5's innermost reason appended. A file opened for writing fails
//    with ExitCode::output, a file opened for reading with ExitCode::data
//    (not ours, truncated, or corrupt).
//  - Numbers are stored little-endian with the SONATA type names
//    (H5T_IEEE_F64LE, H5T_STD_U64LE, ...), strings as variable-length UTF-8
//    (what h5py writes and libsonata/HighFive read as std::string).
//  - Non-empty datasets are chunked and, at compression level > 0, filtered
//    with shuffle + deflate (gzip). Empty fixed-size datasets are contiguous:
//    HDF5 refuses chunks larger than a fixed zero extent.
//
// Calls are not synchronised beyond HDF5's own global lock: one writer per
// file, as the simulator's record phase is.
#include <hdf5.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace spikesim::h5 {

// Owns one HDF5 identifier and closes it with `Close`.
template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { close(); }
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      close();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  [[nodiscard]] hid_t get() const { return id_; }
  [[nodiscard]] bool valid() const { return id_ >= 0; }
  // Closes now. Returns false when HDF5 reports a failure (for a file: the
  // final flush), which destructors cannot report.
  bool close() noexcept {
    if (id_ < 0) return true;
    const herr_t status = Close(id_);
    id_ = H5I_INVALID_HID;
    return status >= 0;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using FileHandle = Handle<&H5Fclose>;
using GroupHandle = Handle<&H5Gclose>;
using DatasetHandle = Handle<&H5Dclose>;
using DataspaceHandle = Handle<&H5Sclose>;
using DatatypeHandle = Handle<&H5Tclose>;
using PropListHandle = Handle<&H5Pclose>;
using AttributeHandle = Handle<&H5Aclose>;

// Installs the quiet error handler for the calling thread (idempotent, cheap).
void install_error_handler();

// Memory and file types of the numbers we store.
template <class T>
struct TypeOf;
template <>
struct TypeOf<float> {
  static hid_t memory() { return H5T_NATIVE_FLOAT; }
  static hid_t file() { return H5T_IEEE_F32LE; }
};
template <>
struct TypeOf<double> {
  static hid_t memory() { return H5T_NATIVE_DOUBLE; }
  static hid_t file() { return H5T_IEEE_F64LE; }
};
template <>
struct TypeOf<std::int8_t> {
  static hid_t memory() { return H5T_NATIVE_INT8; }
  static hid_t file() { return H5T_STD_I8LE; }
};
template <>
struct TypeOf<std::uint8_t> {
  static hid_t memory() { return H5T_NATIVE_UINT8; }
  static hid_t file() { return H5T_STD_U8LE; }
};
template <>
struct TypeOf<std::int32_t> {
  static hid_t memory() { return H5T_NATIVE_INT32; }
  static hid_t file() { return H5T_STD_I32LE; }
};
template <>
struct TypeOf<std::uint32_t> {
  static hid_t memory() { return H5T_NATIVE_UINT32; }
  static hid_t file() { return H5T_STD_U32LE; }
};
template <>
struct TypeOf<std::int64_t> {
  static hid_t memory() { return H5T_NATIVE_INT64; }
  static hid_t file() { return H5T_STD_I64LE; }
};
template <>
struct TypeOf<std::uint64_t> {
  static hid_t memory() { return H5T_NATIVE_UINT64; }
  static hid_t file() { return H5T_STD_U64LE; }
};

template <class T>
concept Number = requires {
  TypeOf<T>::memory();
};

// An open HDF5 file together with its name, so that every failure can say
// which file and which object it was about. Writers keep a pointer to it:
// keep a File in place (not moved) while they are open.
class File {
 public:
  // Creates (truncating) a file for writing. Failures: ExitCode::output.
  static File create(const std::filesystem::path& path);
  // Opens an existing file read-only. Missing, not HDF5 or unreadable:
  // ExitCode::data.
  static File open_read_only(const std::filesystem::path& path);

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;

  [[nodiscard]] hid_t id() const { return handle_.get(); }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] bool writable() const { return writable_; }
  [[nodiscard]] bool is_open() const { return handle_.valid(); }

  // Throws Error(output or data) "HDF5 error in '<file>' at '<object>': <what> (<HDF5 reason>)".
  [[noreturn]] void fail(std::string_view object, std::string_view what) const;

  // Flushes and closes; throws when HDF5 cannot complete the file.
  void close();

 private:
  File(FileHandle handle, std::filesystem::path path, bool writable)
      : handle_(std::move(handle)), path_(std::move(path)), writable_(writable) {}

  FileHandle handle_;
  std::filesystem::path path_;
  bool writable_ = false;
};

// Compression settings of the datasets a writer creates.
struct Compression {
  int level = 4;                         // gzip level 0..9; 0 = chunked, no filter
  std::size_t chunk_elements = 1 << 16;  // elements per chunk (rows x columns for 2-D)
};

// Innermost message of the current HDF5 error stack ("" when empty), then
// clears the stack. Used by File::fail and by callers with their own wording.
std::string take_error_reason();

// --- Objects -----------------------------------------------------------------

// True when every component of `path` exists ("/" always exists).
bool exists(const File& file, const std::string& path);
// Opens the group at `path`, creating it and any missing parents.
GroupHandle require_group(const File& file, const std::string& path);
GroupHandle open_group(const File& file, const std::string& path);
// Names of the links directly under the group `path`, in name order.
std::vector<std::string> list_children(const File& file, const std::string& path);
// True when `path` names a group (false for datasets and missing paths).
bool is_group(const File& file, const std::string& path);

// --- Attributes (replaced when they exist) -------------------------------------

template <Number T>
void write_attribute(const File& file, const std::string& object, const std::string& name, T value);
template <Number T>
void write_attribute_array(const File& file, const std::string& object, const std::string& name,
                           std::span<const T> values);
void write_attribute(const File& file, const std::string& object, const std::string& name,
                     std::string_view value);
inline void write_attribute(const File& file, const std::string& object, const std::string& name,
                            const char* value) {
  write_attribute(file, object, name, std::string_view(value));
}
inline void write_attribute(const File& file, const std::string& object, const std::string& name,
                            const std::string& value) {
  write_attribute(file, object, name, std::string_view(value));
}
// An HDF5 enum attribute on an uint8 base: labels[i] has value i.
void write_enum_attribute(const File& file, const std::string& object, const std::string& name,
                          std::span<const std::string_view> labels, std::uint8_t value);

bool has_attribute(const File& file, const std::string& object, const std::string& name);
template <Number T>
T read_attribute(const File& file, const std::string& object, const std::string& name);
template <Number T>
std::vector<T> read_attribute_array(const File& file, const std::string& object, const std::string& name);
std::string read_string_attribute(const File& file, const std::string& object, const std::string& name);
// The label of an enum attribute, or the text of a string attribute (older
// SONATA writers such as bmtk store `sorting` as a string).
std::string read_label_attribute(const File& file, const std::string& object, const std::string& name);

// --- Whole datasets (replaced when they exist) ---------------------------------

template <Number T>
void write_dataset(const File& file, const std::string& path, std::span<const T> values,
                   const Compression& compression);
// Row-major [rows x cols].
template <Number T>
void write_dataset_2d(const File& file, const std::string& path, const T* values, std::size_t rows,
                      std::size_t cols, const Compression& compression);
// A scalar variable-length UTF-8 string.
void write_string_dataset(const File& file, const std::string& path, std::string_view text);

std::vector<std::uint64_t> dataset_shape(const File& file, const std::string& path);
// Every element, row-major, converted to T; the stored type must be of the
// same class (integer or float) as T.
template <Number T>
std::vector<T> read_dataset(const File& file, const std::string& path);
// Elements [offset, offset + count) of a 1-D dataset.
template <Number T>
std::vector<T> read_dataset_slab(const File& file, const std::string& path, std::uint64_t offset,
                                 std::uint64_t count);
std::string read_string_dataset(const File& file, const std::string& path);

// --- Appendable datasets --------------------------------------------------------

// The untyped part of an appendable dataset: a chunked dataset whose first
// dimension is unlimited and grows with H5Dset_extent on every write.
//
// The dataset is created at its first write (or at close, when empty), and
// its chunk is then min(rows_per_chunk, rows of that write). HDF5 stores and
// compresses every chunk whole, so a dataset that never fills one chunk (a
// quiet population's spikes) would otherwise cost a full padded chunk on
// disk and in deflate time. AppendableDataset writes whole chunks until
// close, so its datasets keep the configured chunk unless they are shorter.
class ChunkedWriter {
 public:
  // `width` == 0: a 1-D dataset; otherwise [rows x width].
  ChunkedWriter(const File& file, const std::string& path, hid_t file_type, hid_t memory_type,
                std::size_t width, const Compression& compression);

  // Writes `rows` rows (rows x max(width, 1) elements) at the end.
  void write_rows(const void* data, std::uint64_t rows);
  [[nodiscard]] std::uint64_t rows_written() const { return rows_written_; }
  [[nodiscard]] std::size_t rows_per_chunk() const { return rows_per_chunk_; }
  [[nodiscard]] std::size_t row_elements() const { return width_ == 0 ? 1 : width_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  // A string attribute of the dataset, written when the dataset is created
  // (at once if it already is).
  void set_attribute(const std::string& name, std::string value);
  void close();

 private:
  void create(std::uint64_t chunk_rows);

  const File* file_;
  std::string path_;
  hid_t file_type_;
  hid_t memory_type_;
  std::size_t width_;
  Compression compression_;
  std::size_t rows_per_chunk_ = 1;
  std::uint64_t rows_written_ = 0;
  bool closed_ = false;
  std::vector<std::pair<std::string, std::string>> pending_attributes_;
  DatasetHandle dataset_;
};

// A typed appendable dataset that buffers one chunk in memory and writes
// whole chunks, so each chunk is compressed once and HDF5 sees few, large
// writes. flush() writes the partial chunk (the reader then sees every row);
// a flush before the first full chunk also fixes the chunk size at the rows
// buffered so far (ChunkedWriter), so spikesim flushes only at close().
template <Number T>
class AppendableDataset {
 public:
  static AppendableDataset vector(const File& file, const std::string& path, const Compression& compression) {
    return AppendableDataset(file, path, 0, compression);
  }
  // [rows x cols], cols >= 1 (a zero-width row could not be counted).
  static AppendableDataset matrix(const File& file, const std::string& path, std::size_t cols,
                                  const Compression& compression) {
    if (cols == 0)
      throw Error(ExitCode::internal, "appendable dataset '" + path + "' in '" + file.path().string() +
                                          "': a matrix needs at least one column");
    return AppendableDataset(file, path, cols, compression);
  }

  // One element of a 1-D dataset.
  void push(T value) {
    buffer_.push_back(value);
    if (buffer_.size() == chunk_elements_) write_buffer();
  }
  // Whole rows (values.size() must be a multiple of the row length).
  void append(std::span<const T> values) {
    const std::size_t row = writer_.row_elements();
    while (!values.empty()) {
      if (buffer_.empty() && values.size() >= chunk_elements_) {
        // Whole chunks straight from the caller's memory.
        const std::size_t n = values.size() / chunk_elements_ * chunk_elements_;
        writer_.write_rows(values.data(), n / row);
        values = values.subspan(n);
        continue;
      }
      const std::size_t n = std::min(values.size(), chunk_elements_ - buffer_.size());
      buffer_.insert(buffer_.end(), values.begin(), values.begin() + static_cast<std::ptrdiff_t>(n));
      values = values.subspan(n);
      if (buffer_.size() == chunk_elements_) write_buffer();
    }
  }
  void flush() {
    if (!buffer_.empty()) write_buffer();
  }
  [[nodiscard]] std::uint64_t rows() const {
    return writer_.rows_written() + buffer_.size() / writer_.row_elements();
  }
  void set_attribute(const std::string& name, std::string value) {
    writer_.set_attribute(name, std::move(value));
  }
  // Flushes and closes the dataset.
  void close() {
    flush();
    writer_.close();
  }

 private:
  AppendableDataset(const File& file, const std::string& path, std::size_t cols,
                    const Compression& compression)
      : writer_(file, path, TypeOf<T>::file(), TypeOf<T>::memory(), cols, compression),
        chunk_elements_(writer_.rows_per_chunk() * writer_.row_elements()) {}

  void write_buffer() {
    writer_.write_rows(buffer_.data(), buffer_.size() / writer_.row_elements());
    buffer_.clear();
  }

  ChunkedWriter writer_;
  std::size_t chunk_elements_;
  std::vector<T> buffer_;
};

}  // namespace spikesim::h5
