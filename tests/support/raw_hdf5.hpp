#pragma once
// Reading an HDF5 file with the raw HDF5 C API, independent of io/runfile/hdf5.hpp
// and io/runfile/run_file.hpp: tests that check what spikesim wrote must not read it
// back through the code under test. Every failed open or read fails the test
// (REQUIRE), naming the object where it helps.
#include <hdf5.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace spikesim::test {

// A file opened read-only, closed with the object.
struct RawFile {
  explicit RawFile(const std::filesystem::path& path)
      : id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)) {
    REQUIRE(id >= 0);
  }
  ~RawFile() { H5Fclose(id); }
  RawFile(const RawFile&) = delete;
  RawFile& operator=(const RawFile&) = delete;
  hid_t id;
};

// One scalar attribute of `object`, converted to `type` by HDF5.
template <class T>
T attribute(const RawFile& f, const std::string& object, const std::string& name, hid_t type) {
  const hid_t a = H5Aopen_by_name(f.id, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  INFO(object << " @" << name);
  REQUIRE(a >= 0);
  T value{};
  REQUIRE(H5Aread(a, type, &value) >= 0);
  H5Aclose(a);
  return value;
}
inline std::uint64_t u64(const RawFile& f, const std::string& object, const std::string& name) {
  return attribute<std::uint64_t>(f, object, name, H5T_NATIVE_UINT64);
}
inline double f64(const RawFile& f, const std::string& object, const std::string& name) {
  return attribute<double>(f, object, name, H5T_NATIVE_DOUBLE);
}

// A variable-length UTF-8 string attribute.
inline std::string string_attribute(const RawFile& f, const std::string& object, const std::string& name) {
  const hid_t a = H5Aopen_by_name(f.id, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(a >= 0);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  char* text = nullptr;
  REQUIRE(H5Aread(a, type, &text) >= 0);
  std::string s = text ? text : "";
  H5free_memory(text);
  H5Tclose(type);
  H5Aclose(a);
  return s;
}

// A whole dataset, flattened, converted to `type` by HDF5.
template <class T>
std::vector<T> dataset(const RawFile& f, const std::string& path, hid_t type) {
  const hid_t d = H5Dopen2(f.id, path.c_str(), H5P_DEFAULT);
  INFO(path);
  REQUIRE(d >= 0);
  const hid_t s = H5Dget_space(d);
  std::vector<T> v(static_cast<std::size_t>(H5Sget_simple_extent_npoints(s)));
  if (!v.empty()) REQUIRE(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0);
  H5Sclose(s);
  H5Dclose(d);
  return v;
}

// The names of a group's links, in name order.
inline std::vector<std::string> children(const RawFile& f, const std::string& group) {
  std::vector<std::string> names;
  const hid_t g = H5Gopen2(f.id, group.c_str(), H5P_DEFAULT);
  REQUIRE(g >= 0);
  hsize_t idx = 0;
  H5Literate(
      g, H5_INDEX_NAME, H5_ITER_INC, &idx,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
      },
      &names);
  H5Gclose(g);
  return names;
}

}  // namespace spikesim::test
