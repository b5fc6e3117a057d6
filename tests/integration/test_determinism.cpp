// Determinism (docs/reliability.md): the same config and seed give
// bit-identical HDF5 content with 1 and 2 worker threads and across two
// runs. Every dataset and every attribute of the files is compared byte for
// byte (spikes, membrane traces, per-neuron counters, op counts, energies,
// logits, tokens), with two exceptions that legitimately differ:
//   /spikesim/config   the effective config text, which records the
//                      run.threads override and the output path;
//   wall_s             in /spikesim/summary (the JSON is compared without it).
//
// The generated model has a feed-forward width of 2048, above the 1024
// outputs per task of network/dense_projection.cpp, so that with 2 threads
// event delivery really is split between tasks.
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/runfile/hdf5.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
namespace fs = std::filesystem;

namespace {

// ---- the whole content of a file, as bytes ----------------------------------------

// "path" for datasets, "path@name" for attributes -> stored bytes (strings as text).
using Content = std::map<std::string, std::string>;

template <class Read>
std::string read_value(hid_t type, hid_t space, Read&& read) {
  if (H5Tis_variable_str(type) > 0) {
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    std::vector<char*> strings(static_cast<std::size_t>(std::max<hssize_t>(n, 1)), nullptr);
    const hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5T_CSET_UTF8);
    REQUIRE(read(mem, strings.data()) >= 0);
    std::string text;
    for (hssize_t i = 0; i < n; ++i) {
      text += strings[static_cast<std::size_t>(i)] ? strings[static_cast<std::size_t>(i)] : "";
      text.push_back('\0');
    }
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, strings.data());
    H5Tclose(mem);
    return text;
  }
  const std::size_t bytes = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)) * H5Tget_size(type);
  std::string raw(bytes, '\0');
  if (bytes > 0) REQUIRE(read(type, raw.data()) >= 0);  // the stored type itself: no conversion
  return raw;
}

herr_t collect_attribute(hid_t object, const char* name, const H5A_info_t* /*info*/, void* data) {
  auto& [content, path] = *static_cast<std::pair<Content*, std::string>*>(data);
  const hid_t attr = H5Aopen(object, name, H5P_DEFAULT);
  const hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  (*content)[path + "@" + name] =
      read_value(type, space, [&](hid_t mem, void* buf) { return H5Aread(attr, mem, buf); });
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  return 0;
}

void collect_attributes(const h5::File& file, const std::string& path, Content& content) {
  const hid_t object = H5Oopen(file.id(), path.c_str(), H5P_DEFAULT);
  REQUIRE(object >= 0);
  std::pair<Content*, std::string> data{&content, path};
  H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attribute, &data);
  H5Oclose(object);
}

void collect(const h5::File& file, const std::string& path, Content& content) {
  collect_attributes(file, path, content);
  if (path != "/" && !h5::is_group(file, path)) {
    const hid_t ds = H5Dopen2(file.id(), path.c_str(), H5P_DEFAULT);
    REQUIRE(ds >= 0);
    const hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
    content[path] = read_value(type, space, [&](hid_t mem, void* buf) {
      return H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    });
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(ds);
    return;
  }
  for (const auto& child : h5::list_children(file, path))
    collect(file, path == "/" ? "/" + child : path + "/" + child, content);
}

Content file_content(const fs::path& path) {
  const h5::File file = h5::File::open_read_only(path);
  Content content;
  collect(file, "/", content);
  // The two exceptions of the header comment.
  content.erase("/spikesim/config");
  if (const auto it = content.find("/spikesim/summary"); it != content.end()) {
    auto j = nlohmann::json::parse(it->second.c_str());  // text up to its terminating '\0'
    j.erase("wall_s");
    it->second = j.dump();
  }
  return content;
}

// Same keys, same bytes; names the first difference.
void require_identical(const Content& a, const Content& b, const std::string& what) {
  INFO(what);
  std::vector<std::string> only_a, only_b, differ;
  for (const auto& [k, v] : a) {
    const auto it = b.find(k);
    if (it == b.end())
      only_a.push_back(k);
    else if (it->second != v)
      differ.push_back(k);
  }
  for (const auto& [k, v] : b)
    if (a.count(k) == 0) only_b.push_back(k);
  INFO("only in the first: " << (only_a.empty() ? "-" : only_a.front()) << " (" << only_a.size() << ")");
  INFO("only in the second: " << (only_b.empty() ? "-" : only_b.front()) << " (" << only_b.size() << ")");
  INFO("different bytes: " << (differ.empty() ? "-" : differ.front()) << " (" << differ.size() << ")");
  CHECK(only_a.empty());
  CHECK(only_b.empty());
  CHECK(differ.empty());
}

}  // namespace

TEST_CASE("determinism: 1 and 2 threads and two runs give bit-identical HDF5 content", "[determinism]") {
  test::TempDir dir("determinism");
  const fs::path config = dir / "det.toml";
  std::ofstream(config) << "[run]\ntokens = 10\nseed = 7\nprogress = false\n\n"
                           "[generated]\ndim = 128\nhidden_dim = 2048\nlayers = 2\n\n"
                           "[encoding]\ncalib_windows = 2\n\n"
                           "[record]\ntrace_populations = [\"layer0.*\"]\n";
  auto run = [&](int threads, const std::string& name) {
    const test::Outcome o = test::run_spikesim({"run", config.string(), "-o", (dir / name).string(), "--set",
                                                "run.threads=" + std::to_string(threads), "--json"},
                                               dir.path(), 60);
    if (o.timed_out) FAIL("spikesim did not finish within 60 s");
    INFO("stderr:\n" << o.err);
    REQUIRE(o.code == 0);
    return file_content(dir / name);
  };
  const Content one = run(1, "threads1.h5");
  const Content two = run(2, "threads2.h5");
  const Content again = run(2, "threads2_again.h5");

  // What is compared: spikes, traces, counters, energies, logits are all there.
  for (const char* key :
       {"/spikes/layer0.attn_in/timestamps", "/spikes/layer0.attn_in/node_ids",
        "/spikes/layer0.attn_in/amplitudes", "/spikes/layer1.mlp_down/node_ids",
        "/report/layer0.attn_in/data", "/spikesim/populations/layer0.mlp_in/spikes",
        "/spikesim/populations/layer1.mlp_down/synaptic_events", "/spikesim/totals@run_total_pj",
        "/spikesim/totals@dense_total_pj", "/spikesim/totals/run@spikes", "/spikesim/logits",
        "/spikesim/dense_logits", "/spikesim/tokens", "/@spikesim_complete"}) {
    INFO("expected in the file: " << key);
    CHECK(one.count(key) == 1);
  }
  CHECK(one.size() > 100);
  CHECK(one.at("/spikes/layer0.attn_in/timestamps").size() > 0);

  require_identical(one, two, "1 thread vs 2 threads");
  require_identical(two, again, "two runs with 2 threads");
}
