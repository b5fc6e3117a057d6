#include "io/runfile/hdf5.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <type_traits>

namespace spikesim::h5 {
namespace {

bool debug_printing() {
  static const bool enabled = [] {
    const char* env = std::getenv("SPIKESIM_HDF5_DEBUG");
    return env != nullptr && *env != '\0' && std::string_view(env) != "0";
  }();
  return enabled;
}

// Replaces HDF5's default handler, which prints the whole stack to stderr on
// every failure, including the ones we expect and handle (probing a file).
herr_t on_hdf5_error(hid_t stack, void* /*client_data*/) {
  if (debug_printing()) H5Eprint2(stack, stderr);
  return 0;
}

herr_t collect_error(unsigned /*n*/, const H5E_error2_t* error, void* client_data) {
  auto* messages = static_cast<std::vector<std::string>*>(client_data);
  messages->emplace_back(error->desc != nullptr ? error->desc : "");
  return 0;
}

// Object paths are absolute inside the file; accept "spikesim/config" too.
std::string absolute(const std::string& path) {
  std::string p = path.empty() || path.front() != '/' ? "/" + path : path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

PropListHandle link_creation_with_parents() {
  PropListHandle lcpl(H5Pcreate(H5P_LINK_CREATE));
  if (lcpl.valid()) H5Pset_create_intermediate_group(lcpl.get(), 1);
  return lcpl;
}

DatatypeHandle utf8_string_type() {
  DatatypeHandle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  return type;
}

template <class T>
H5T_class_t expected_class() {
  return std::is_floating_point_v<T> ? H5T_FLOAT : H5T_INTEGER;
}

const char* class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER:
      return "integer";
    case H5T_FLOAT:
      return "float";
    case H5T_STRING:
      return "string";
    case H5T_ENUM:
      return "enum";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ARRAY:
      return "array";
    case H5T_VLEN:
      return "variable-length";
    default:
      return "other";
  }
}

void remove_if_exists(const File& file, const std::string& path) {
  if (exists(file, path) && H5Ldelete(file.id(), path.c_str(), H5P_DEFAULT) < 0)
    file.fail(path, "cannot replace the existing object");
}

// Chunked (+ shuffle + deflate) creation properties for `rank` dims.
PropListHandle chunked_creation(const File& file, const std::string& path, int rank, const hsize_t* chunk,
                                const Compression& compression) {
  PropListHandle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  if (!dcpl.valid() || H5Pset_chunk(dcpl.get(), rank, chunk) < 0)
    file.fail(path, "cannot set up chunked storage");
  if (compression.level > 0) {
    // Shuffle groups the bytes of equal significance (step numbers, neuron
    // ids) before deflate; it costs little and compresses them much better.
    if (H5Pset_shuffle(dcpl.get()) < 0 ||
        H5Pset_deflate(dcpl.get(), static_cast<unsigned>(compression.level)) < 0)
      file.fail(path, fmt::format("cannot set gzip compression level {}", compression.level));
  }
  return dcpl;
}

void write_numbers(const File& file, const std::string& path, hid_t file_type, hid_t memory_type,
                   const void* data, const std::vector<hsize_t>& dims, const Compression& compression) {
  remove_if_exists(file, path);
  DataspaceHandle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  hsize_t total = 1;
  for (hsize_t d : dims) total *= d;
  PropListHandle dcpl;
  if (total > 0) {
    const hsize_t per_chunk = std::max<hsize_t>(compression.chunk_elements, 1);
    std::vector<hsize_t> chunk = dims;
    if (dims.size() == 1) {
      chunk[0] = std::min(dims[0], per_chunk);
    } else {
      hsize_t row = 1;
      for (std::size_t k = 1; k < dims.size(); ++k) row *= dims[k];
      chunk[0] = std::clamp<hsize_t>(per_chunk / row, 1, dims[0]);
    }
    dcpl = chunked_creation(file, path, static_cast<int>(chunk.size()), chunk.data(), compression);
  }
  PropListHandle lcpl = link_creation_with_parents();
  DatasetHandle dataset(H5Dcreate2(file.id(), path.c_str(), file_type, space.get(), lcpl.get(),
                                   dcpl.valid() ? dcpl.get() : H5P_DEFAULT, H5P_DEFAULT));
  if (!dataset.valid()) file.fail(path, "cannot create dataset");
  if (total > 0 && H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    file.fail(path, "cannot write dataset");
  if (!dataset.close()) file.fail(path, "cannot close dataset");
}

DatasetHandle open_dataset(const File& file, const std::string& path) {
  DatasetHandle dataset(H5Dopen2(file.id(), path.c_str(), H5P_DEFAULT));
  if (!dataset.valid()) file.fail(path, "cannot open dataset (missing, or not a dataset)");
  return dataset;
}

void check_class(const File& file, const std::string& where, hid_t type, H5T_class_t expected) {
  const H5T_class_t found = H5Tget_class(type);
  if (found != expected)
    file.fail(where, fmt::format("expected {} values, found {}", class_name(expected), class_name(found)));
}

AttributeHandle open_attribute(const File& file, const std::string& object, const std::string& name) {
  AttributeHandle attribute(
      H5Aopen_by_name(file.id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attribute.valid()) file.fail(object, fmt::format("missing attribute '{}'", name));
  return attribute;
}

hssize_t attribute_points(const File& file, const std::string& object, const std::string& name,
                          hid_t attribute) {
  DataspaceHandle space(H5Aget_space(attribute));
  const hssize_t n = space.valid() ? H5Sget_simple_extent_npoints(space.get()) : -1;
  if (n < 0) file.fail(object, fmt::format("cannot read the shape of attribute '{}'", name));
  return n;
}

void write_attribute_raw(const File& file, const std::string& object_path, const std::string& name,
                         hid_t file_type, hid_t memory_type, hid_t space, const void* data) {
  install_error_handler();
  const std::string object = absolute(object_path);
  // HDF5 refuses to create an attribute that exists: replace it.
  const htri_t present = H5Aexists_by_name(file.id(), object.c_str(), name.c_str(), H5P_DEFAULT);
  if (present < 0)
    file.fail(object, fmt::format("cannot look up attribute '{}' (does the object exist?)", name));
  if (present > 0 && H5Adelete_by_name(file.id(), object.c_str(), name.c_str(), H5P_DEFAULT) < 0)
    file.fail(object, fmt::format("cannot replace attribute '{}'", name));
  AttributeHandle attribute(H5Acreate_by_name(file.id(), object.c_str(), name.c_str(), file_type, space,
                                              H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!attribute.valid()) file.fail(object, fmt::format("cannot create attribute '{}'", name));
  if (H5Awrite(attribute.get(), memory_type, data) < 0)
    file.fail(object, fmt::format("cannot write attribute '{}'", name));
}

// Reads a scalar string (variable or fixed length) from an attribute or a
// dataset; `read` is H5Aread or H5Dread bound to the object.
template <class Read>
std::string read_string(const File& file, const std::string& where, hid_t type, Read read) {
  check_class(file, where, type, H5T_STRING);
  // Reading with a copy of the stored type avoids character-set conversion.
  DatatypeHandle memory(H5Tcopy(type));
  if (H5Tis_variable_str(type) > 0) {
    char* text = nullptr;
    if (read(memory.get(), &text) < 0) file.fail(where, "cannot read string");
    std::string result = text != nullptr ? text : "";
    H5free_memory(text);
    return result;
  }
  std::string buffer(H5Tget_size(type), '\0');
  if (read(memory.get(), buffer.data()) < 0) file.fail(where, "cannot read string");
  buffer.resize(buffer.find('\0') == std::string::npos ? buffer.size() : buffer.find('\0'));
  return buffer;
}

}  // namespace

void install_error_handler() {
  // Thread-local because the thread-safe HDF5 build keeps one error stack
  // (and one handler) per thread.
  thread_local bool installed = false;
  if (installed) return;
  H5Eset_auto2(H5E_DEFAULT, on_hdf5_error, nullptr);
  installed = true;
}

std::string take_error_reason() {
  std::vector<std::string> messages;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &messages);
  H5Eclear2(H5E_DEFAULT);
  if (messages.empty()) return "";
  // The walk starts at the most specific entry; for system errors it reads
  // "... errno = 13, error message = 'Permission denied', ...": keep the quote.
  const std::string& inner = messages.front();
  const std::string marker = "error message = '";
  if (auto at = inner.find(marker); at != std::string::npos) {
    const auto begin = at + marker.size();
    if (auto end = inner.find('\'', begin); end != std::string::npos) return inner.substr(begin, end - begin);
  }
  return inner;
}

// --- File -----------------------------------------------------------------------

File File::create(const std::filesystem::path& path) {
  install_error_handler();
  PropListHandle fapl(H5Pcreate(H5P_FILE_ACCESS));
  // Strong close: closing the file closes any object still open in it, so the
  // file is complete on disk when close() returns.
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  FileHandle handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (!handle.valid())
    throw Error(ExitCode::output,
                fmt::format("cannot create HDF5 file '{}': {}", path.string(), take_error_reason()));
  return File(std::move(handle), path, true);
}

File File::open_read_only(const std::filesystem::path& path) {
  install_error_handler();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    // A run that did not finish leaves only "<path>.partial": say so.
    std::filesystem::path partial = path;
    partial += ".partial";
    if (std::filesystem::exists(partial, ec))
      throw Error(ExitCode::data, fmt::format("cannot read '{}': no such file; the run that was writing it did not "
                                              "finish and left '{}' (incomplete, readable)",
                                              path.string(), partial.string()));
    throw Error(ExitCode::data, fmt::format("cannot read '{}': no such file", path.string()));
  }
  if (std::filesystem::is_directory(path, ec))
    throw Error(ExitCode::data,
                fmt::format("cannot read '{}': it is a folder, expected an HDF5 file", path.string()));
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 == 0)
    throw Error(ExitCode::data,
                fmt::format("cannot read '{}': not an HDF5 file (no HDF5 signature)", path.string()));
  // Default close degree: a file the process already has open (a test, a
  // report reading while `info` runs) must open again with the same degree.
  FileHandle handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!handle.valid()) {
    const std::string reason = take_error_reason();
    // HDF5 locks a file its writer has open: a run still going.
    if (reason.find("temporarily unavailable") != std::string::npos)
      throw Error(ExitCode::data, fmt::format("cannot read '{}': a running spikesim is writing it (HDF5 locks it "
                                              "until the run ends or is interrupted)",
                                              path.string()));
    throw Error(ExitCode::data, fmt::format("cannot read '{}': HDF5 cannot open it ({}); the file may be "
                                            "truncated or corrupt",
                                            path.string(), reason));
  }
  return File(std::move(handle), path, false);
}

void File::fail(std::string_view object, std::string_view what) const {
  const std::string reason = take_error_reason();
  throw Error(writable_ ? ExitCode::output : ExitCode::data,
              fmt::format("HDF5 error in '{}' at '{}': {}{}", path_.string(), object, what,
                          reason.empty() ? "" : " (" + reason + ")"));
}

void File::close() {
  install_error_handler();
  if (!handle_.close()) fail("/", "cannot close the file: its data may not have reached the disk");
}

// --- Objects ----------------------------------------------------------------------

bool exists(const File& file, const std::string& path) {
  install_error_handler();
  const std::string p = absolute(path);
  if (p == "/") return true;
  // H5Lexists fails (rather than answering false) when a parent is missing
  // or is a dataset, so check each prefix in turn.
  std::size_t slash = 0;
  while (true) {
    slash = p.find('/', slash + 1);
    const std::string prefix = p.substr(0, slash);
    const htri_t found = H5Lexists(file.id(), prefix.c_str(), H5P_DEFAULT);
    if (found < 0) file.fail(prefix, "cannot look up the link");
    if (found == 0) return false;
    if (slash == std::string::npos) return true;
    Handle<&H5Oclose> parent(H5Oopen(file.id(), prefix.c_str(), H5P_DEFAULT));
    if (!parent.valid()) file.fail(prefix, "cannot open the object");
    if (H5Iget_type(parent.get()) != H5I_GROUP) return false;
  }
}

GroupHandle open_group(const File& file, const std::string& path) {
  install_error_handler();
  const std::string p = absolute(path);
  GroupHandle group(H5Gopen2(file.id(), p.c_str(), H5P_DEFAULT));
  if (!group.valid()) file.fail(p, "cannot open group (missing, or not a group)");
  return group;
}

GroupHandle require_group(const File& file, const std::string& path) {
  install_error_handler();
  const std::string p = absolute(path);
  if (exists(file, p)) return open_group(file, p);
  PropListHandle lcpl = link_creation_with_parents();
  GroupHandle group(H5Gcreate2(file.id(), p.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!group.valid()) file.fail(p, "cannot create group");
  return group;
}

bool is_group(const File& file, const std::string& path) {
  install_error_handler();
  const std::string p = absolute(path);
  if (!exists(file, p)) return false;
  Handle<&H5Oclose> object(H5Oopen(file.id(), p.c_str(), H5P_DEFAULT));
  return object.valid() && H5Iget_type(object.get()) == H5I_GROUP;
}

std::vector<std::string> list_children(const File& file, const std::string& path) {
  install_error_handler();
  const std::string p = absolute(path);
  GroupHandle group = open_group(file, p);
  H5G_info_t info;
  if (H5Gget_info(group.get(), &info) < 0) file.fail(p, "cannot list group");
  std::vector<std::string> names;
  names.reserve(info.nlinks);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length =
        H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (length < 0) file.fail(p, "cannot read the name of a link");
    std::string name(static_cast<std::size_t>(length) + 1, '\0');
    H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(length));
    names.push_back(std::move(name));
  }
  return names;
}

// --- Attributes --------------------------------------------------------------------

template <Number T>
void write_attribute(const File& file, const std::string& object, const std::string& name, T value) {
  DataspaceHandle space(H5Screate(H5S_SCALAR));
  write_attribute_raw(file, object, name, TypeOf<T>::file(), TypeOf<T>::memory(), space.get(), &value);
}

template <Number T>
void write_attribute_array(const File& file, const std::string& object, const std::string& name,
                           std::span<const T> values) {
  const hsize_t n = values.size();
  DataspaceHandle space(H5Screate_simple(1, &n, nullptr));
  write_attribute_raw(file, object, name, TypeOf<T>::file(), TypeOf<T>::memory(), space.get(), values.data());
}

void write_attribute(const File& file, const std::string& object, const std::string& name,
                     std::string_view value) {
  const std::string text(value);
  const char* pointer = text.c_str();
  DatatypeHandle type = utf8_string_type();
  DataspaceHandle space(H5Screate(H5S_SCALAR));
  write_attribute_raw(file, object, name, type.get(), type.get(), space.get(), &pointer);
}

void write_enum_attribute(const File& file, const std::string& object, const std::string& name,
                          std::span<const std::string_view> labels, std::uint8_t value) {
  install_error_handler();
  DatatypeHandle type(H5Tenum_create(H5T_NATIVE_UINT8));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto v = static_cast<std::uint8_t>(i);
    const std::string label(labels[i]);
    if (H5Tenum_insert(type.get(), label.c_str(), &v) < 0)
      file.fail(object, fmt::format("cannot build the enum type of attribute '{}'", name));
  }
  DataspaceHandle space(H5Screate(H5S_SCALAR));
  write_attribute_raw(file, object, name, type.get(), type.get(), space.get(), &value);
}

bool has_attribute(const File& file, const std::string& object_path, const std::string& name) {
  install_error_handler();
  const std::string object = absolute(object_path);
  if (!exists(file, object)) return false;
  const htri_t present = H5Aexists_by_name(file.id(), object.c_str(), name.c_str(), H5P_DEFAULT);
  if (present < 0) file.fail(object, fmt::format("cannot look up attribute '{}'", name));
  return present > 0;
}

template <Number T>
T read_attribute(const File& file, const std::string& object_path, const std::string& name) {
  install_error_handler();
  const std::string object = absolute(object_path);
  AttributeHandle attribute = open_attribute(file, object, name);
  const std::string where = object + "@" + name;
  DatatypeHandle type(H5Aget_type(attribute.get()));
  check_class(file, where, type.get(), expected_class<T>());
  if (const hssize_t n = attribute_points(file, object, name, attribute.get()); n != 1)
    file.fail(where, fmt::format("expected a single value, found {}", n));
  T value{};
  if (H5Aread(attribute.get(), TypeOf<T>::memory(), &value) < 0) file.fail(where, "cannot read attribute");
  return value;
}

template <Number T>
std::vector<T> read_attribute_array(const File& file, const std::string& object_path,
                                    const std::string& name) {
  install_error_handler();
  const std::string object = absolute(object_path);
  AttributeHandle attribute = open_attribute(file, object, name);
  const std::string where = object + "@" + name;
  DatatypeHandle type(H5Aget_type(attribute.get()));
  check_class(file, where, type.get(), expected_class<T>());
  std::vector<T> values(static_cast<std::size_t>(attribute_points(file, object, name, attribute.get())));
  if (!values.empty() && H5Aread(attribute.get(), TypeOf<T>::memory(), values.data()) < 0)
    file.fail(where, "cannot read attribute");
  return values;
}

std::string read_string_attribute(const File& file, const std::string& object_path, const std::string& name) {
  install_error_handler();
  const std::string object = absolute(object_path);
  AttributeHandle attribute = open_attribute(file, object, name);
  const std::string where = object + "@" + name;
  if (const hssize_t n = attribute_points(file, object, name, attribute.get()); n != 1)
    file.fail(where, fmt::format("expected a single string, found {} values", n));
  DatatypeHandle type(H5Aget_type(attribute.get()));
  return read_string(file, where, type.get(),
                     [&](hid_t memory, void* out) { return H5Aread(attribute.get(), memory, out); });
}

std::string read_label_attribute(const File& file, const std::string& object_path, const std::string& name) {
  install_error_handler();
  const std::string object = absolute(object_path);
  AttributeHandle attribute = open_attribute(file, object, name);
  const std::string where = object + "@" + name;
  DatatypeHandle type(H5Aget_type(attribute.get()));
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class == H5T_STRING) return read_string_attribute(file, object, name);
  if (type_class != H5T_ENUM)
    file.fail(where, fmt::format("expected an enum or a string, found {}", class_name(type_class)));
  if (const hssize_t n = attribute_points(file, object, name, attribute.get()); n != 1)
    file.fail(where, fmt::format("expected a single value, found {}", n));
  std::vector<unsigned char> value(H5Tget_size(type.get()));
  if (H5Aread(attribute.get(), type.get(), value.data()) < 0) file.fail(where, "cannot read attribute");
  char label[256] = {};
  if (H5Tenum_nameof(type.get(), value.data(), label, sizeof label) < 0)
    file.fail(where, "enum value has no label");
  return label;
}

// --- Whole datasets ---------------------------------------------------------------

template <Number T>
void write_dataset(const File& file, const std::string& path, std::span<const T> values,
                   const Compression& compression) {
  install_error_handler();
  write_numbers(file, absolute(path), TypeOf<T>::file(), TypeOf<T>::memory(), values.data(),
                {static_cast<hsize_t>(values.size())}, compression);
}

template <Number T>
void write_dataset_2d(const File& file, const std::string& path, const T* values, std::size_t rows,
                      std::size_t cols, const Compression& compression) {
  install_error_handler();
  write_numbers(file, absolute(path), TypeOf<T>::file(), TypeOf<T>::memory(), values,
                {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)}, compression);
}

void write_string_dataset(const File& file, const std::string& path_in, std::string_view text) {
  install_error_handler();
  const std::string path = absolute(path_in);
  remove_if_exists(file, path);
  DatatypeHandle type = utf8_string_type();
  DataspaceHandle space(H5Screate(H5S_SCALAR));
  PropListHandle lcpl = link_creation_with_parents();
  DatasetHandle dataset(
      H5Dcreate2(file.id(), path.c_str(), type.get(), space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!dataset.valid()) file.fail(path, "cannot create string dataset");
  const std::string copy(text);
  const char* pointer = copy.c_str();
  if (H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &pointer) < 0)
    file.fail(path, "cannot write string dataset");
  if (!dataset.close()) file.fail(path, "cannot close dataset");
}

std::vector<std::uint64_t> dataset_shape(const File& file, const std::string& path_in) {
  install_error_handler();
  const std::string path = absolute(path_in);
  DatasetHandle dataset = open_dataset(file, path);
  DataspaceHandle space(H5Dget_space(dataset.get()));
  const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (rank < 0) file.fail(path, "cannot read the dataset shape");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return {dims.begin(), dims.end()};
}

template <Number T>
std::vector<T> read_dataset(const File& file, const std::string& path_in) {
  install_error_handler();
  const std::string path = absolute(path_in);
  DatasetHandle dataset = open_dataset(file, path);
  DatatypeHandle type(H5Dget_type(dataset.get()));
  check_class(file, path, type.get(), expected_class<T>());
  DataspaceHandle space(H5Dget_space(dataset.get()));
  const hssize_t n = space.valid() ? H5Sget_simple_extent_npoints(space.get()) : -1;
  if (n < 0) file.fail(path, "cannot read the dataset shape");
  std::vector<T> values(static_cast<std::size_t>(n));
  if (n > 0 && H5Dread(dataset.get(), TypeOf<T>::memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    file.fail(path, "cannot read dataset");
  return values;
}

template <Number T>
std::vector<T> read_dataset_slab(const File& file, const std::string& path_in, std::uint64_t offset,
                                 std::uint64_t count) {
  install_error_handler();
  const std::string path = absolute(path_in);
  DatasetHandle dataset = open_dataset(file, path);
  DatatypeHandle type(H5Dget_type(dataset.get()));
  check_class(file, path, type.get(), expected_class<T>());
  DataspaceHandle space(H5Dget_space(dataset.get()));
  if (!space.valid() || H5Sget_simple_extent_ndims(space.get()) != 1)
    file.fail(path, "expected a 1-D dataset");
  hsize_t size = 0;
  H5Sget_simple_extent_dims(space.get(), &size, nullptr);
  if (offset + count > size)
    file.fail(path,
              fmt::format("elements [{}, {}) requested, the dataset holds {}", offset, offset + count, size));
  std::vector<T> values(static_cast<std::size_t>(count));
  if (count == 0) return values;
  const hsize_t start = offset;
  const hsize_t n = count;
  DataspaceHandle memory(H5Screate_simple(1, &n, nullptr));
  if (H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &start, nullptr, &n, nullptr) < 0 ||
      H5Dread(dataset.get(), TypeOf<T>::memory(), memory.get(), space.get(), H5P_DEFAULT, values.data()) < 0)
    file.fail(path, fmt::format("cannot read elements [{}, {})", offset, offset + count));
  return values;
}

std::string read_string_dataset(const File& file, const std::string& path_in) {
  install_error_handler();
  const std::string path = absolute(path_in);
  DatasetHandle dataset = open_dataset(file, path);
  DataspaceHandle space(H5Dget_space(dataset.get()));
  if (const hssize_t n = space.valid() ? H5Sget_simple_extent_npoints(space.get()) : -1; n != 1)
    file.fail(path, fmt::format("expected a single string, found {} values", n));
  DatatypeHandle type(H5Dget_type(dataset.get()));
  return read_string(file, path, type.get(), [&](hid_t memory, void* out) {
    return H5Dread(dataset.get(), memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
  });
}

// --- Appendable datasets ----------------------------------------------------------

ChunkedWriter::ChunkedWriter(const File& file, const std::string& path, hid_t file_type, hid_t memory_type,
                             std::size_t width, const Compression& compression)
    : file_(&file),
      path_(absolute(path)),
      file_type_(file_type),
      memory_type_(memory_type),
      width_(width),
      compression_(compression) {
  install_error_handler();
  const std::size_t per_chunk = std::max<std::size_t>(compression.chunk_elements, 1);
  rows_per_chunk_ = std::max<std::size_t>(per_chunk / row_elements(), 1);
  remove_if_exists(file, path_);
}

void ChunkedWriter::create(std::uint64_t chunk_rows) {
  const int rank = width_ == 0 ? 1 : 2;
  const hsize_t dims[2] = {0, width_};
  const hsize_t max_dims[2] = {H5S_UNLIMITED, width_};
  DataspaceHandle space(H5Screate_simple(rank, dims, max_dims));
  const hsize_t chunk[2] = {std::max<hsize_t>(chunk_rows, 1), width_};
  PropListHandle dcpl = chunked_creation(*file_, path_, rank, chunk, compression_);
  PropListHandle lcpl = link_creation_with_parents();
  dataset_ = DatasetHandle(
      H5Dcreate2(file_->id(), path_.c_str(), file_type_, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT));
  if (!dataset_.valid()) file_->fail(path_, "cannot create appendable dataset");
  for (const auto& [name, value] : pending_attributes_) write_attribute(*file_, path_, name, value);
  pending_attributes_.clear();
}

void ChunkedWriter::set_attribute(const std::string& name, std::string value) {
  if (dataset_.valid())
    write_attribute(*file_, path_, name, value);
  else
    pending_attributes_.emplace_back(name, std::move(value));
}

void ChunkedWriter::write_rows(const void* data, std::uint64_t rows) {
  if (rows == 0) return;
  install_error_handler();
  if (closed_)
    throw Error(ExitCode::internal, fmt::format("appendable dataset '{}' in '{}': written after close", path_,
                                                file_->path().string()));
  if (!dataset_.valid()) create(std::min<std::uint64_t>(rows_per_chunk_, rows));
  const int rank = width_ == 0 ? 1 : 2;
  const hsize_t extent[2] = {rows_written_ + rows, width_};
  if (H5Dset_extent(dataset_.get(), extent) < 0)
    file_->fail(path_, fmt::format("cannot grow the dataset to {} rows", rows_written_ + rows));
  DataspaceHandle file_space(H5Dget_space(dataset_.get()));
  const hsize_t start[2] = {rows_written_, 0};
  const hsize_t count[2] = {rows, width_};
  DataspaceHandle memory_space(H5Screate_simple(rank, count, nullptr));
  if (!file_space.valid() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
      H5Dwrite(dataset_.get(), memory_type_, memory_space.get(), file_space.get(), H5P_DEFAULT, data) < 0)
    file_->fail(path_, fmt::format("cannot write rows [{}, {})", rows_written_, rows_written_ + rows));
  rows_written_ += rows;
}

void ChunkedWriter::close() {
  if (closed_) return;
  install_error_handler();
  if (!dataset_.valid()) create(rows_per_chunk_);  // empty: no chunk is ever stored
  closed_ = true;
  if (!dataset_.close()) file_->fail(path_, "cannot close dataset");
}

// --- Instantiations for the number types of TypeOf ---------------------------------

#define SPIKESIM_H5_INSTANTIATE(T)                                                                         \
  template void write_attribute<T>(const File&, const std::string&, const std::string&, T);                \
  template void write_attribute_array<T>(const File&, const std::string&, const std::string&,              \
                                         std::span<const T>);                                              \
  template T read_attribute<T>(const File&, const std::string&, const std::string&);                       \
  template std::vector<T> read_attribute_array<T>(const File&, const std::string&, const std::string&);    \
  template void write_dataset<T>(const File&, const std::string&, std::span<const T>, const Compression&); \
  template void write_dataset_2d<T>(const File&, const std::string&, const T*, std::size_t, std::size_t,   \
                                    const Compression&);                                                   \
  template std::vector<T> read_dataset<T>(const File&, const std::string&);                                \
  template std::vector<T> read_dataset_slab<T>(const File&, const std::string&, std::uint64_t, std::uint64_t);

SPIKESIM_H5_INSTANTIATE(float)
SPIKESIM_H5_INSTANTIATE(double)
SPIKESIM_H5_INSTANTIATE(std::int8_t)
SPIKESIM_H5_INSTANTIATE(std::uint8_t)
SPIKESIM_H5_INSTANTIATE(std::int32_t)
SPIKESIM_H5_INSTANTIATE(std::uint32_t)
SPIKESIM_H5_INSTANTIATE(std::int64_t)
SPIKESIM_H5_INSTANTIATE(std::uint64_t)
#undef SPIKESIM_H5_INSTANTIATE

}  // namespace spikesim::h5
