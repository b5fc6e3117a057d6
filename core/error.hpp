#pragma once
// Errors that reach the user. Every message names the file, key, tensor or
// population involved and what was expected; the exit code tells scripts
// which kind of failure it was (docs/reference/cli.md, "Exit codes").
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace spikesim {

enum class ExitCode : int {
  ok = 0,
  failure = 1,      // unexpected error (a bug): please report it
  usage = 2,        // bad command line
  config = 3,       // bad TOML config: syntax, unknown key, wrong type, out of range
  model = 4,        // bad model files: safetensors, config.json, llama2.c, tokenizer
  data = 5,         // bad token file or other input data
  output = 6,       // output cannot be written
  resource = 7,     // the run would exceed the memory limit
  numeric = 8,      // NaN or Inf met where a finite value is required
  interrupted = 130,  // SIGINT/SIGTERM: the output is marked incomplete
  internal = 70,    // an invariant of the simulator broke (a bug)
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  [[nodiscard]] ExitCode code() const { return code_; }
  [[nodiscard]] int exit_code() const { return static_cast<int>(code_); }

 private:
  ExitCode code_;
};

}  // namespace spikesim
