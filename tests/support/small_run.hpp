#pragma once
// The small run that the report and plot tests read: a generated model
// (d = 64, 2 layers, vocabulary 96), 6 tokens, membrane traces of 8 neurons
// of layer0.mlp_in, recorded to <dir>/out.h5 in a scratch folder that is
// removed with the object.
//
// Each test file keeps its own run (a function-local static of its own, see
// the_run() there), so that the files it writes beside out.h5 (plots, HTML,
// broken inputs) never meet another file's.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

#include "io/config/config.hpp"
#include "sim/run_driver.hpp"
#include "tests/support/temp_dir.hpp"

namespace spikesim::test {

struct SmallRun {
  TempDir scratch;
  std::filesystem::path dir, file;
  std::uint64_t tokens = 6;
  nlohmann::json summary;  // what `spikesim run --json` printed for it

  // `name` tags the scratch folder (spikesim_test_<name>_...) and names the
  // config (test_<name>.toml) in messages.
  explicit SmallRun(const std::string& name)
      : scratch("test_" + name), dir(scratch.path()), file(dir / "out.h5") {
    const std::string toml = "[run]\ntokens = " + std::to_string(tokens) +
                             "\nprogress = false\n"
                             "[generated]\ndim = 64\nhidden_dim = 160\nlayers = 2\nheads = 4\nkv_heads = 2\n"
                             "vocab = 96\nmax_seq_len = 64\n"
                             "[encoding]\ncalib_windows = 1\n"
                             "[record]\noutput = \"" +
                             file.string() +
                             "\"\ntrace_populations = [\"layer0.mlp_in\"]\ntrace_neurons = 8\n";
    summary = run_simulation(parse_config(toml, "test_" + name + ".toml")).summary;
  }
};

}  // namespace spikesim::test
