// The HDF5 recorder and its reader (io/runfile/recorder.hpp, io/runfile/run_file.hpp,
// io/runfile/hdf5.hpp). Files are checked with the raw HDF5 C API, not only with our
// own reader, so that the layout other tools see (DESIGN.md §4,
// docs/reference/hdf5-layout.md) is what is pinned down.
#include <hdf5.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/counters.hpp"
#include "core/energy_model.hpp"
#include "core/error.hpp"
#include "core/event.hpp"
#include "io/runfile/hdf5.hpp"
#include "io/runfile/recorder.hpp"
#include "io/runfile/run_file.hpp"
#include "tests/support/raw_hdf5.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace spikesim;
using test::RawFile;
using test::TempDir;

namespace {

// --- Raw HDF5 C API helpers (independent of io/runfile/hdf5.hpp) ---------------------

// Reads a whole dataset after checking its stored type equals `expected`.
template <class T>
std::vector<T> raw_dataset(hid_t file, const std::string& path, hid_t expected,
                           std::vector<hsize_t>* dims = nullptr) {
  INFO("dataset " << path);
  const hid_t ds = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  REQUIRE(ds >= 0);
  const hid_t type = H5Dget_type(ds);
  CHECK(H5Tequal(type, expected) > 0);
  const hid_t space = H5Dget_space(ds);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> shape(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, shape.data(), nullptr);
  std::vector<T> values(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)));
  if (!values.empty()) REQUIRE(H5Dread(ds, expected, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
  if (dims != nullptr) *dims = shape;
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(ds);
  return values;
}

template <class T>
std::vector<T> raw_attribute(hid_t file, const std::string& object, const std::string& name, hid_t expected,
                             bool* scalar = nullptr) {
  INFO("attribute " << object << "@" << name);
  const hid_t attr = H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(attr >= 0);
  const hid_t type = H5Aget_type(attr);
  CHECK(H5Tequal(type, expected) > 0);
  const hid_t space = H5Aget_space(attr);
  if (scalar != nullptr) *scalar = H5Sget_simple_extent_type(space) == H5S_SCALAR;
  std::vector<T> values(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)));
  REQUIRE(H5Aread(attr, expected, values.data()) >= 0);
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  return values;
}

std::string raw_string_attribute(hid_t file, const std::string& object, const std::string& name) {
  INFO("string attribute " << object << "@" << name);
  const hid_t attr = H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(attr >= 0);
  const hid_t type = H5Aget_type(attr);
  REQUIRE(H5Tget_class(type) == H5T_STRING);
  CHECK(H5Tis_variable_str(type) > 0);
  char* text = nullptr;
  REQUIRE(H5Aread(attr, type, &text) >= 0);
  std::string result(text);
  H5free_memory(text);
  H5Tclose(type);
  H5Aclose(attr);
  return result;
}

std::string raw_string_dataset(hid_t file, const std::string& path) {
  INFO("string dataset " << path);
  const hid_t ds = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  REQUIRE(ds >= 0);
  const hid_t type = H5Dget_type(ds);
  REQUIRE(H5Tget_class(type) == H5T_STRING);
  char* text = nullptr;
  REQUIRE(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) >= 0);
  std::string result(text);
  H5free_memory(text);
  H5Tclose(type);
  H5Dclose(ds);
  return result;
}

struct Layout {
  H5D_layout_t layout;
  bool shuffle = false;
  bool deflate = false;
  unsigned deflate_level = 0;
  std::vector<hsize_t> chunk;
};

Layout raw_layout(hid_t file, const std::string& path) {
  INFO("layout of " << path);
  const hid_t ds = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  REQUIRE(ds >= 0);
  const hid_t dcpl = H5Dget_create_plist(ds);
  Layout result{H5Pget_layout(dcpl)};
  if (result.layout == H5D_CHUNKED) {
    result.chunk.resize(4);
    result.chunk.resize(static_cast<std::size_t>(H5Pget_chunk(dcpl, 4, result.chunk.data())));
  }
  for (int i = 0; i < H5Pget_nfilters(dcpl); ++i) {
    unsigned flags = 0;
    std::size_t n = 4;
    unsigned values[4] = {};
    char name[64];
    unsigned config = 0;
    const H5Z_filter_t id =
        H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &n, values, sizeof name, name, &config);
    if (id == H5Z_FILTER_SHUFFLE) result.shuffle = true;
    if (id == H5Z_FILTER_DEFLATE) {
      result.deflate = true;
      result.deflate_level = n > 0 ? values[0] : 0;
    }
  }
  H5Pclose(dcpl);
  H5Dclose(ds);
  return result;
}

// Bytes the dataset occupies in the file (all its allocated chunks, after filters).
hsize_t raw_storage_bytes(hid_t file, const std::string& path) {
  INFO("storage of " << path);
  const hid_t ds = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  REQUIRE(ds >= 0);
  const hsize_t bytes = H5Dget_storage_size(ds);
  H5Dclose(ds);
  return bytes;
}

bool raw_exists(hid_t file, const std::string& path) {
  return H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0;
}

std::vector<SpikeEvent> events_of(std::initializer_list<std::array<std::int64_t, 3>> rows) {
  std::vector<SpikeEvent> events;
  for (const auto& r : rows)
    events.push_back({static_cast<Step>(r[0]), 0, static_cast<NeuronId>(r[1]), static_cast<Amplitude>(r[2])});
  return events;
}

}  // namespace

TEST_CASE("recorder writes a SONATA spike and frame report with spikesim groups", "[recorder]") {
  TempDir dir("recorder");
  const fs::path out = dir / "run.h5";

  const auto q_events = events_of({{1, 4, 3}, {1, 0, -2}, {2, 4, 1}, {3, 9, 15}});
  const auto k_events = events_of({{5, 2, 1}});
  NeuronCounters counters;
  counters.resize(3);
  counters.membrane_updates = {2, 3, 4};
  counters.spikes = {1, 0, 2};
  counters.amplitude_sum = {3, 0, 7};
  counters.synaptic_events = {10, 0, 20};
  OpCounts ops;
  ops.neurons = 3;
  ops.membrane_updates = 9;
  ops.spikes = 3;
  ops.amplitude_sum = 10;
  ops.synaptic_events = 30;
  ops.amplitude_acs = 100;
  ops.shift_add_acs = 60;
  ops.effective_acs = 10;
  ops.effective_macs = 20;
  ops.weight_bytes = 4096;
  ops.neuron_tokens = 6;
  ops.dense.add(DenseOp::mac, 11);
  ops.dense.add(DenseOp::exp, 5);
  ops.dense.add(DenseOp::compare, 2);
  EnergyBreakdown energy{1.5, 2.25, 3.0, 0.5};
  const std::string config = "[model]\nname = \"generated\"\n# ünïcode survives\n";
  const std::string summary = R"({"spikes": 5})";
  const std::vector<float> logits = {0.5f, -1.0f, 2.0f, 3.5f, 0.0f, -0.25f};

  {
    Hdf5Recorder recorder({out, 4, 1 << 16});
    CHECK(recorder.path() == out);
    CHECK(fs::exists(partial_path(out)));
    CHECK_FALSE(fs::exists(out));
    const auto q = recorder.add_spike_population("layer0.q");
    const auto empty = recorder.add_spike_population("layer0.silent");
    const auto k = recorder.add_spike_population("layer0.k");
    recorder.append_spikes(q, std::span(q_events).first(2));
    recorder.append_spikes(k, k_events);
    recorder.append_spikes(q, std::span(q_events).subspan(2));
    recorder.append_spikes(empty, {});
    const auto trace = recorder.add_trace_population("layer0.q", {3, 1, 7});
    const std::array<float, 3> f1 = {0.f, 1.f, 2.f}, f2 = {3.f, 4.f, 5.f}, f3 = {6.f, 7.f, -8.5f};
    recorder.append_frame(trace, 1, f1);
    recorder.append_frame(trace, 2, f2);
    recorder.append_frame(trace, 5, f3);  // a gap: the stage was idle at steps 3 and 4
    recorder.write_neuron_counters("layer0.q", counters);
    recorder.write_op_counts("run", ops);
    recorder.write_op_counts("layers/0", ops);
    recorder.write_energy("run", "spiking", energy);
    recorder.write_text("/spikesim/config", config);
    recorder.write_text("/spikesim/summary", summary);
    recorder.write_attribute("/spikesim/model", "name", std::string("brown-llama-s"));
    recorder.write_attribute("/spikesim/model", "layers", std::uint64_t{4});
    recorder.write_attribute("/spikesim/model", "norm_eps", 1e-5);
    recorder.write_matrix("/spikesim/logits", logits.data(), 2, 3);
    recorder.finalize();
    CHECK_THROWS_MATCHES(
        recorder.append_spikes(q, q_events), Error,
        Catch::Predicate<Error>([](const Error& e) { return e.code() == ExitCode::internal; }));
  }
  REQUIRE(fs::exists(out));
  CHECK_FALSE(fs::exists(partial_path(out)));

  RawFile f(out);
  SECTION("root attributes: SONATA magic/version and the completion mark") {
    bool scalar = false;
    CHECK(raw_attribute<std::uint32_t>(f.id, "/", "magic", H5T_STD_U32LE, &scalar) ==
          std::vector<std::uint32_t>{0x0A7A});
    CHECK(scalar);
    CHECK(raw_attribute<std::uint32_t>(f.id, "/", "version", H5T_STD_U32LE, &scalar) ==
          std::vector<std::uint32_t>{0, 1});
    CHECK_FALSE(scalar);
    CHECK(raw_attribute<std::uint32_t>(f.id, "/", "spikesim_complete", H5T_NATIVE_UINT32) ==
          std::vector<std::uint32_t>{1});
    CHECK(raw_string_attribute(f.id, "/", "spikesim_version") == SPIKESIM_VERSION);
  }
  SECTION("spike populations: sorting enum, dtypes, values, units, chunked + deflate") {
    const hid_t attr = H5Aopen_by_name(f.id, "/spikes/layer0.q", "sorting", H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(attr >= 0);
    const hid_t type = H5Aget_type(attr);
    REQUIRE(H5Tget_class(type) == H5T_ENUM);
    std::uint8_t value = 0;
    REQUIRE(H5Aread(attr, type, &value) >= 0);
    char label[32] = {};
    REQUIRE(H5Tenum_nameof(type, &value, label, sizeof label) >= 0);
    CHECK(std::string(label) == "by_time");
    CHECK(value == 2);  // libsonata: none = 0, by_id = 1, by_time = 2
    H5Tclose(type);
    H5Aclose(attr);

    CHECK(raw_dataset<double>(f.id, "/spikes/layer0.q/timestamps", H5T_NATIVE_DOUBLE) ==
          std::vector<double>{1, 1, 2, 3});
    CHECK(raw_dataset<std::uint64_t>(f.id, "/spikes/layer0.q/node_ids", H5T_NATIVE_UINT64) ==
          std::vector<std::uint64_t>{4, 0, 4, 9});
    CHECK(raw_dataset<std::int32_t>(f.id, "/spikes/layer0.q/amplitudes", H5T_NATIVE_INT32) ==
          std::vector<std::int32_t>{3, -2, 1, 15});
    CHECK(raw_string_attribute(f.id, "/spikes/layer0.q/timestamps", "units") == "steps");
    CHECK(raw_dataset<double>(f.id, "/spikes/layer0.k/timestamps", H5T_NATIVE_DOUBLE) ==
          std::vector<double>{5});

    for (const char* name : {"timestamps", "node_ids", "amplitudes"}) {
      for (const char* pop : {"layer0.q", "layer0.silent"}) {
        const std::string path = std::string("/spikes/") + pop + "/" + name;
        INFO(path);
        const Layout layout = raw_layout(f.id, path);
        CHECK(layout.layout == H5D_CHUNKED);
        CHECK(layout.deflate);
        CHECK(layout.deflate_level == 4);
        CHECK(layout.shuffle);
        // A dataset shorter than one chunk gets a chunk of its own length
        // (io/runfile/hdf5.hpp, ChunkedWriter); an empty one keeps the configured size.
        CHECK(layout.chunk == std::vector<hsize_t>{std::string(pop) == "layer0.q" ? 4u : 1u << 16});
      }
    }
    // An empty population is still a valid, zero-length SONATA population.
    CHECK(raw_exists(f.id, "/spikes/layer0.silent"));
    std::vector<hsize_t> dims;
    CHECK(raw_dataset<double>(f.id, "/spikes/layer0.silent/timestamps", H5T_NATIVE_DOUBLE, &dims).empty());
    CHECK(dims == std::vector<hsize_t>{0});
    CHECK(raw_dataset<std::uint64_t>(f.id, "/spikes/layer0.silent/node_ids", H5T_NATIVE_UINT64).empty());
    CHECK(raw_string_attribute(f.id, "/spikes/layer0.silent/timestamps", "units") == "steps");
  }
  SECTION("frame report: data, mapping, time and our steps") {
    std::vector<hsize_t> dims;
    CHECK(raw_dataset<float>(f.id, "/report/layer0.q/data", H5T_NATIVE_FLOAT, &dims) ==
          std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, -8.5f});
    CHECK(dims == std::vector<hsize_t>{3, 3});
    CHECK(raw_string_attribute(f.id, "/report/layer0.q/data", "units") == "theta");
    const Layout layout = raw_layout(f.id, "/report/layer0.q/data");
    CHECK(layout.layout == H5D_CHUNKED);
    CHECK(layout.deflate);
    CHECK(layout.chunk == std::vector<hsize_t>{3, 3});  // three frames, shorter than one chunk
    const std::string m = "/report/layer0.q/mapping/";
    CHECK(raw_dataset<std::uint64_t>(f.id, m + "node_ids", H5T_NATIVE_UINT64) ==
          std::vector<std::uint64_t>{3, 1, 7});
    CHECK(raw_attribute<std::int8_t>(f.id, m + "node_ids", "sorted", H5T_STD_I8LE) ==
          std::vector<std::int8_t>{0});
    CHECK(raw_dataset<std::uint64_t>(f.id, m + "index_pointers", H5T_NATIVE_UINT64) ==
          std::vector<std::uint64_t>{0, 1, 2, 3});
    CHECK(raw_dataset<std::uint32_t>(f.id, m + "element_ids", H5T_NATIVE_UINT32) ==
          std::vector<std::uint32_t>{0, 0, 0});
    CHECK(raw_dataset<double>(f.id, m + "time", H5T_NATIVE_DOUBLE) == std::vector<double>{1, 6, 1});
    CHECK(raw_string_attribute(f.id, m + "time", "units") == "steps");
    CHECK(raw_dataset<std::uint32_t>(f.id, m + "steps", H5T_NATIVE_UINT32) ==
          std::vector<std::uint32_t>{1, 2, 5});
  }
  SECTION("spikesim groups: counters, op counts, energy, text, attributes, matrix") {
    const std::string p = "/spikesim/populations/layer0.q/";
    CHECK(raw_dataset<std::uint64_t>(f.id, p + "membrane_updates", H5T_NATIVE_UINT64) ==
          counters.membrane_updates);
    CHECK(raw_dataset<std::uint64_t>(f.id, p + "spikes", H5T_NATIVE_UINT64) == counters.spikes);
    CHECK(raw_dataset<std::uint64_t>(f.id, p + "amplitude_sum", H5T_NATIVE_UINT64) == counters.amplitude_sum);
    CHECK(raw_dataset<std::uint64_t>(f.id, p + "synaptic_events", H5T_NATIVE_UINT64) ==
          counters.synaptic_events);
    CHECK(raw_layout(f.id, p + "spikes").deflate);

    const std::vector<std::pair<std::string, std::uint64_t>> expected = {
        {"neurons", 3},          {"membrane_updates", 9}, {"spikes", 3},         {"amplitude_sum", 10},
        {"synaptic_events", 30}, {"amplitude_acs", 100},  {"shift_add_acs", 60}, {"effective_acs", 10},
        {"effective_macs", 20},  {"weight_bytes", 4096},  {"neuron_tokens", 6},  {"dense_mac", 11},
        {"dense_add", 0},        {"dense_mul", 0},        {"dense_div", 0},      {"dense_exp", 5},
        {"dense_sqrt", 0},       {"dense_compare", 2}};
    for (const std::string group : {"/spikesim/run", "/spikesim/layers/0"}) {
      for (const auto& [name, value] : expected) {
        INFO(group << "@" << name);
        bool scalar = false;
        CHECK(raw_attribute<std::uint64_t>(f.id, group, name, H5T_NATIVE_UINT64, &scalar) ==
              std::vector<std::uint64_t>{value});
        CHECK(scalar);
      }
    }
    CHECK(raw_attribute<double>(f.id, "/spikesim/run", "spiking_synaptic_pj", H5T_NATIVE_DOUBLE)[0] == 1.5);
    CHECK(raw_attribute<double>(f.id, "/spikesim/run", "spiking_neuron_pj", H5T_NATIVE_DOUBLE)[0] == 2.25);
    CHECK(raw_attribute<double>(f.id, "/spikesim/run", "spiking_dense_pj", H5T_NATIVE_DOUBLE)[0] == 3.0);
    CHECK(raw_attribute<double>(f.id, "/spikesim/run", "spiking_memory_pj", H5T_NATIVE_DOUBLE)[0] == 0.5);
    CHECK(raw_attribute<double>(f.id, "/spikesim/run", "spiking_total_pj", H5T_NATIVE_DOUBLE)[0] == 7.25);

    CHECK(raw_string_dataset(f.id, "/spikesim/config") == config);
    CHECK(raw_string_dataset(f.id, "/spikesim/summary") == summary);
    CHECK(raw_string_attribute(f.id, "/spikesim/model", "name") == "brown-llama-s");
    CHECK(raw_attribute<std::uint64_t>(f.id, "/spikesim/model", "layers", H5T_NATIVE_UINT64)[0] == 4);
    CHECK(raw_attribute<double>(f.id, "/spikesim/model", "norm_eps", H5T_NATIVE_DOUBLE)[0] == 1e-5);
    std::vector<hsize_t> dims;
    CHECK(raw_dataset<float>(f.id, "/spikesim/logits", H5T_NATIVE_FLOAT, &dims) == logits);
    CHECK(dims == std::vector<hsize_t>{2, 3});
  }
  SECTION("our reader agrees") {
    const RunFileSummary s = read_run_file(out);
    CHECK(s.complete);
    CHECK(s.sonata_magic_ok);
    CHECK(s.spikesim_version == SPIKESIM_VERSION);
    REQUIRE(s.spikes.size() == 3);
    CHECK(s.spikes[0].name == "layer0.k");
    CHECK(s.spikes[1].name == "layer0.q");
    CHECK(s.spikes[1].events == 4);
    CHECK(s.spikes[1].first_step == 1);
    CHECK(s.spikes[1].last_step == 3);
    CHECK(s.spikes[1].amplitude_sum == 3 + 2 + 1 + 15);
    CHECK(s.spikes[1].distinct_neurons == 3);
    CHECK(s.spikes[2].name == "layer0.silent");
    CHECK(s.spikes[2].events == 0);
    CHECK(s.traces == std::vector<std::string>{"layer0.q"});
    CHECK(s.config_text == config);
    CHECK(s.summary_json == summary);
    const std::string text = format_run_file_summary(s);
    CHECK_THAT(text, Catch::Contains("complete") && Catch::Contains("layer0.silent") &&
                         !Catch::Contains("INCOMPLETE"));

    const SpikeData q = read_spikes(out, "layer0.q");
    CHECK(q.timestamps == std::vector<double>{1, 1, 2, 3});
    CHECK(q.node_ids == std::vector<std::uint64_t>{4, 0, 4, 9});
    CHECK(q.amplitudes == std::vector<std::int32_t>{3, -2, 1, 15});
    CHECK_THROWS_MATCHES(
        read_spikes(out, "layer9.nothing"), Error, Catch::Predicate<Error>([](const Error& e) {
          const std::string m = e.what();
          return e.code() == ExitCode::data && m.find("layer9.nothing") != std::string::npos &&
                 m.find("layer0.q") != std::string::npos;
        }));
  }
}

TEST_CASE("recorder destroyed without finalize leaves only an incomplete .partial file", "[recorder]") {
  TempDir dir("recorder");
  const fs::path out = dir / "interrupted.h5";
  // A complete file from an earlier run must not survive an interrupted rerun.
  std::ofstream(out) << "earlier run";
  const auto events = events_of({{0, 1, 1}, {0, 2, 2}, {1, 1, 3}});
  {
    Hdf5Recorder recorder({out});
    CHECK_FALSE(fs::exists(out));
    const auto p = recorder.add_spike_population("layer0.v");
    recorder.append_spikes(p, events);
    const auto t = recorder.add_trace_population("layer0.v", {0, 1});
    const std::array<float, 2> frame = {1.f, 2.f};
    recorder.append_frame(t, 0, frame);
    recorder.write_text("/spikesim/config", "steps = 2\n");
    // ... an exception or SIGINT unwinds here, before finalize().
  }
  CHECK_FALSE(fs::exists(out));
  const fs::path partial = partial_path(out);
  REQUIRE(fs::exists(partial));
  CHECK(partial.filename() == "interrupted.h5.partial");
  {
    RawFile f(partial);
    CHECK(raw_attribute<std::uint32_t>(f.id, "/", "spikesim_complete", H5T_NATIVE_UINT32) ==
          std::vector<std::uint32_t>{0});
    // What was buffered before the interruption is in the file.
    CHECK(raw_dataset<std::uint64_t>(f.id, "/spikes/layer0.v/node_ids", H5T_NATIVE_UINT64) ==
          std::vector<std::uint64_t>{1, 2, 1});
    CHECK(raw_dataset<double>(f.id, "/report/layer0.v/mapping/time", H5T_NATIVE_DOUBLE) ==
          std::vector<double>{0, 1, 1});
  }
  const RunFileSummary s = read_run_file(partial);
  CHECK_FALSE(s.complete);
  REQUIRE(s.spikes.size() == 1);
  CHECK(s.spikes[0].events == 3);
  CHECK(s.config_text == "steps = 2\n");
  CHECK_THAT(format_run_file_summary(s), Catch::Contains("INCOMPLETE"));
}

TEST_CASE("recorder refuses outputs it cannot write", "[recorder]") {
  const auto output_error_naming = [](const std::string& path) {
    return Catch::Predicate<Error>(
        [path](const Error& e) {
          return e.code() == ExitCode::output && std::string(e.what()).find(path) != std::string::npos;
        },
        "Error(ExitCode::output) naming " + path);
  };
  CHECK_THROWS_MATCHES(Hdf5Recorder({"/nonexistent/dir/x.h5"}), Error,
                       output_error_naming("/nonexistent/dir/x.h5"));

  TempDir dir("recorder");
  std::ofstream(dir / "not_a_folder") << "x";
  const fs::path under_file = dir / "not_a_folder" / "x.h5";
  CHECK_THROWS_MATCHES(Hdf5Recorder({under_file}), Error, output_error_naming(under_file.string()));
  CHECK_THROWS_MATCHES(Hdf5Recorder({dir / ""}), Error, output_error_naming((dir / "").string()));

  const auto config_error =
      Catch::Predicate<Error>([](const Error& e) { return e.code() == ExitCode::config; });
  CHECK_THROWS_MATCHES(Hdf5Recorder({dir / "x.h5", 10}), Error, config_error);
  CHECK_THROWS_MATCHES(Hdf5Recorder({dir / "x.h5", 4, 0}), Error, config_error);
  CHECK_FALSE(fs::exists(dir / "x.h5.partial"));
}

TEST_CASE("recorder misuse is an internal error naming the population", "[recorder]") {
  TempDir dir("recorder");
  Hdf5Recorder recorder({dir / "misuse.h5"});
  const auto internal_naming = [](const std::string& text) {
    return Catch::Predicate<Error>([text](const Error& e) {
      return e.code() == ExitCode::internal && std::string(e.what()).find(text) != std::string::npos;
    });
  };
  const auto p = recorder.add_spike_population("layer1.o");
  CHECK_THROWS_MATCHES(recorder.add_spike_population("layer1.o"), Error, internal_naming("layer1.o"));
  CHECK_THROWS_MATCHES(recorder.add_spike_population("a/b"), Error, internal_naming("a/b"));
  CHECK_THROWS_MATCHES(recorder.add_spike_population(""), Error, internal_naming("population name"));
  recorder.append_spikes(p, events_of({{4, 0, 1}}));
  CHECK_THROWS_MATCHES(recorder.append_spikes(p, events_of({{3, 0, 1}})), Error, internal_naming("layer1.o"));
  CHECK_THROWS_MATCHES(recorder.append_spikes(7, {}), Error, internal_naming("#7"));
  const auto t = recorder.add_trace_population("layer1.o", {0, 1, 2});
  const std::array<float, 2> short_frame = {1.f, 2.f};
  CHECK_THROWS_MATCHES(recorder.append_frame(t, 0, short_frame), Error, internal_naming("expected 3"));
  const std::array<float, 3> theta = {0.5f, 0.5f, 0.25f};
  const std::array<std::int32_t, 3> zero = {1, 1, 0};
  const std::array<std::int32_t, 2> short_zero = {1, 1};
  CHECK_THROWS_MATCHES(recorder.append_token_scale(t, 0, theta, short_zero), Error, internal_naming("expected 3"));
  recorder.append_token_scale(t, 4, theta, zero);
  CHECK_THROWS_MATCHES(recorder.append_token_scale(t, 2, theta, zero), Error, internal_naming("step order"));
  CHECK_THROWS_MATCHES(recorder.append_token_scale(9, 4, theta, zero), Error, internal_naming("#9"));
  CHECK_THROWS_MATCHES(recorder.add_trace_population("layer1.none", {}), Error,
                       internal_naming("layer1.none"));
  recorder.finalize();
  CHECK_THROWS_MATCHES(recorder.finalize(), Error, internal_naming("after finalize"));
}

TEST_CASE("read_run_file refuses files that are not spikesim runs", "[recorder]") {
  TempDir dir("recorder");
  const auto data_error_naming = [](const fs::path& path) {
    return Catch::Predicate<Error>(
        [text = path.string()](const Error& e) {
          return e.code() == ExitCode::data && std::string(e.what()).find(text) != std::string::npos;
        },
        "Error(ExitCode::data) naming " + path.string());
  };
  const fs::path text = dir / "notes.h5";
  std::ofstream(text) << "this is not HDF5\n";
  CHECK_THROWS_MATCHES(read_run_file(text), Error, data_error_naming(text));
  CHECK_THROWS_MATCHES(read_spikes(text, "x"), Error, data_error_naming(text));
  CHECK_THROWS_MATCHES(read_run_file(dir / "missing.h5"), Error, data_error_naming(dir / "missing.h5"));

  // An HDF5 file that someone else wrote.
  const fs::path foreign = dir / "foreign.h5";
  const hid_t id = H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(id >= 0);
  H5Fclose(id);
  CHECK_THROWS_MATCHES(read_run_file(foreign), Error, data_error_naming(foreign));

  // A run file cut short (the tail of the file lost).
  const fs::path run = dir / "run.h5";
  {
    Hdf5Recorder recorder({run});
    recorder.add_spike_population("p");
    recorder.finalize();
  }
  const fs::path truncated = dir / "truncated.h5";
  fs::copy_file(run, truncated);
  fs::resize_file(truncated, fs::file_size(run) / 2);
  CHECK_THROWS_MATCHES(read_run_file(truncated), Error, data_error_naming(truncated));
}

TEST_CASE("large appends round-trip exactly across many chunks", "[recorder]") {
  TempDir dir("recorder");
  const fs::path out = dir / "large.h5";
  constexpr std::size_t kEvents = 300'000;
  std::vector<SpikeEvent> events(kEvents);
  std::mt19937 rng(7);
  for (std::size_t i = 0; i < kEvents; ++i) {
    const auto magnitude = static_cast<Amplitude>(1 + rng() % 15);
    events[i] = {static_cast<Step>(i / 97), 0, static_cast<NeuronId>(rng() % 4096),
                 (rng() & 1) != 0 ? magnitude : -magnitude};
  }
  constexpr std::size_t kTraced = 300;
  constexpr std::size_t kFrames = 101;
  std::vector<float> frames(kTraced * kFrames);
  for (std::size_t i = 0; i < frames.size(); ++i) frames[i] = static_cast<float>(i) * 0.25f - 17.f;
  std::vector<NeuronId> traced(kTraced);
  for (std::size_t i = 0; i < kTraced; ++i) traced[i] = static_cast<NeuronId>(2 * i);

  const std::size_t chunk = GENERATE(std::size_t{1} << 16, std::size_t{4096});
  INFO("chunk " << chunk);
  {
    Hdf5Recorder recorder({out, 6, chunk});
    const auto p = recorder.add_spike_population("layer3.down");
    const auto t = recorder.add_trace_population("layer3.down", traced);
    // Irregular batches: single events, chunk-sized runs and runs across chunk borders.
    std::size_t at = 0;
    for (std::size_t batch : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, std::size_t{70'000},
                              std::size_t{65'536}, std::size_t{3}, std::size_t{131'072}}) {
      batch = std::min(batch, kEvents - at);
      recorder.append_spikes(p, std::span(events).subspan(at, batch));
      at += batch;
    }
    recorder.append_spikes(p, std::span(events).subspan(at));
    for (std::size_t f = 0; f < kFrames; ++f)
      recorder.append_frame(t, static_cast<Step>(3 * f), std::span(frames).subspan(f * kTraced, kTraced));
    recorder.finalize();
  }
  const SpikeData back = read_spikes(out, "layer3.down");
  REQUIRE(back.timestamps.size() == kEvents);
  REQUIRE(back.node_ids.size() == kEvents);
  REQUIRE(back.amplitudes.size() == kEvents);
  bool identical = true;
  for (std::size_t i = 0; i < kEvents && identical; ++i) {
    identical = back.timestamps[i] == static_cast<double>(events[i].step) &&
                back.node_ids[i] == events[i].neuron && back.amplitudes[i] == events[i].amplitude;
    if (!identical) FAIL_CHECK("event " << i << " differs");
  }
  CHECK(identical);

  RawFile f(out);
  const Layout layout = raw_layout(f.id, "/spikes/layer3.down/node_ids");
  CHECK(layout.chunk == std::vector<hsize_t>{chunk});
  CHECK(layout.deflate_level == 6);
  std::vector<hsize_t> dims;
  CHECK(raw_dataset<float>(f.id, "/report/layer3.down/data", H5T_NATIVE_FLOAT, &dims) == frames);
  CHECK(dims == std::vector<hsize_t>{kFrames, kTraced});
  const auto steps = raw_dataset<std::uint32_t>(f.id, "/report/layer3.down/mapping/steps", H5T_NATIVE_UINT32);
  REQUIRE(steps.size() == kFrames);
  CHECK(steps.back() == 3 * (kFrames - 1));
  CHECK(raw_dataset<double>(f.id, "/report/layer3.down/mapping/time", H5T_NATIVE_DOUBLE) ==
        std::vector<double>{0, 3 * (kFrames - 1) + 1, 1});

  const RunFileSummary s = read_run_file(out);
  REQUIRE(s.spikes.size() == 1);
  CHECK(s.spikes[0].events == kEvents);
  CHECK(s.spikes[0].last_step == static_cast<double>(events.back().step));
  std::uint64_t amplitude_sum = 0;
  std::vector<bool> seen(4096);
  for (const auto& e : events) {
    amplitude_sum += static_cast<std::uint64_t>(std::abs(e.amplitude));
    seen[e.neuron] = true;
  }
  CHECK(s.spikes[0].amplitude_sum == amplitude_sum);
  CHECK(s.spikes[0].distinct_neurons ==
        static_cast<std::uint64_t>(std::count(seen.begin(), seen.end(), true)));
}

TEST_CASE("compression level 0 keeps chunking and drops the filters", "[recorder]") {
  TempDir dir("recorder");
  const fs::path out = dir / "plain.h5";
  std::vector<SpikeEvent> many;
  for (Step t = 0; t < 300; ++t) many.push_back({t, 0, 1, 1});
  {
    Hdf5Recorder recorder({out, 0, 128});
    recorder.append_spikes(recorder.add_spike_population("p"), many);
    recorder.finalize();
  }
  RawFile f(out);
  const Layout layout = raw_layout(f.id, "/spikes/p/timestamps");
  CHECK(layout.layout == H5D_CHUNKED);
  CHECK(layout.chunk == std::vector<hsize_t>{128});
  CHECK_FALSE(layout.deflate);
  CHECK_FALSE(layout.shuffle);
}

TEST_CASE("a dataset shorter than one chunk is stored without padding", "[recorder]") {
  // HDF5 stores (and deflates) every chunk whole: a population with 3 spikes
  // in a 64K-element chunk would cost 512 KiB of timestamps on disk.
  TempDir dir("recorder");
  const fs::path out = dir / "short.h5";
  const std::size_t compression = GENERATE(0, 4);
  INFO("compression " << compression);
  {
    Hdf5Recorder recorder({out, static_cast<int>(compression), std::size_t{1} << 16});
    recorder.append_spikes(recorder.add_spike_population("quiet"),
                           events_of({{0, 0, 1}, {1, 2, -3}, {4, 1, 2}}));
    recorder.add_spike_population("silent");
    recorder.finalize();
  }
  RawFile f(out);
  CHECK(raw_layout(f.id, "/spikes/quiet/timestamps").chunk == std::vector<hsize_t>{3});
  CHECK(raw_layout(f.id, "/spikes/quiet/node_ids").chunk == std::vector<hsize_t>{3});
  CHECK(raw_storage_bytes(f.id, "/spikes/quiet/timestamps") <= 3 * sizeof(double) + (compression ? 64 : 0));
  CHECK(raw_dataset<double>(f.id, "/spikes/quiet/timestamps", H5T_NATIVE_DOUBLE) ==
        std::vector<double>{0, 1, 4});
  CHECK(raw_dataset<std::int32_t>(f.id, "/spikes/quiet/amplitudes", H5T_NATIVE_INT32) ==
        std::vector<std::int32_t>{1, -3, 2});
  // A population without spikes still has its (empty) datasets, and no storage.
  std::vector<hsize_t> dims;
  CHECK(raw_dataset<std::uint64_t>(f.id, "/spikes/silent/node_ids", H5T_NATIVE_UINT64, &dims).empty());
  CHECK(dims == std::vector<hsize_t>{0});
  CHECK(raw_storage_bytes(f.id, "/spikes/silent/node_ids") == 0);
}

TEST_CASE("hdf5 layer: replacing objects, string and enum labels, quiet errors", "[recorder]") {
  TempDir dir("recorder");
  const fs::path path = dir / "layer.h5";
  {
    h5::File file = h5::File::create(path);
    h5::write_attribute(file, "/", "sorting", "by_id");  // the way bmtk writes it
    h5::write_attribute<std::uint32_t>(file, "/", "n", 1);
    h5::write_attribute<std::uint32_t>(file, "/", "n", 2);  // replaced, not refused
    const std::array<std::string_view, 3> labels = {"none", "by_id", "by_time"};
    h5::require_group(file, "/a/b/c");
    h5::write_enum_attribute(file, "/a/b", "sorting", labels, 2);
    h5::write_string_dataset(file, "/a/text", "first");
    h5::write_string_dataset(file, "/a/text", "second");
    const std::vector<std::int8_t> small = {-1, 0, 1};
    h5::write_dataset<std::int8_t>(file, "/a/small", small, {});
    const std::vector<double> none;
    h5::write_dataset<double>(file, "/a/empty", none, {});
    CHECK_THROWS_MATCHES(h5::write_attribute<double>(file, "/missing/object", "x", 1.0), Error,
                         Catch::Predicate<Error>([&](const Error& e) {
                           const std::string m = e.what();
                           return e.code() == ExitCode::output &&
                                  m.find(path.string()) != std::string::npos &&
                                  m.find("/missing/object") != std::string::npos;
                         }));
    file.close();
  }
  h5::File file = h5::File::open_read_only(path);
  CHECK(h5::read_label_attribute(file, "/", "sorting") == "by_id");
  CHECK(h5::read_label_attribute(file, "/a/b", "sorting") == "by_time");
  CHECK(h5::read_attribute<std::uint32_t>(file, "/", "n") == 2);
  CHECK(h5::read_string_dataset(file, "/a/text") == "second");
  CHECK(h5::read_dataset<std::int8_t>(file, "/a/small") == std::vector<std::int8_t>{-1, 0, 1});
  CHECK(h5::read_dataset<double>(file, "/a/empty").empty());
  CHECK(h5::list_children(file, "/a") == std::vector<std::string>{"b", "empty", "small", "text"});
  CHECK(h5::is_group(file, "/a/b/c"));
  CHECK_FALSE(h5::is_group(file, "/a/text"));
  CHECK_FALSE(h5::exists(file, "/a/nothing/deeper"));
  CHECK_FALSE(h5::exists(file, "/a/text/below_a_dataset"));
  // Reading integers as floats is refused by name (the file is not what we expect).
  CHECK_THROWS_MATCHES(
      h5::read_dataset<double>(file, "/a/small"), Error, Catch::Predicate<Error>([](const Error& e) {
        return e.code() == ExitCode::data &&
               std::string(e.what()).find("expected float values, found integer") != std::string::npos;
      }));
}
