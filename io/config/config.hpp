#pragma once
// The run configuration: a TOML file plus `--set key=value` overrides.
//
// One schema table (io/config/config_schema.cpp) is the single source of truth for
// every key: its dotted name, type, default, allowed range or choices and a
// one-line meaning. The parser, the overrides, default_config(), the
// effective-config text written into the HDF5 file and the reference page
// docs/reference/config.md (config_reference_markdown()) all come from it.
//
// File format: one TOML table per section, one key per setting:
//
//   [encoding]
//   bits = 4          # GIF amplitude bits: A = 2^bits - 1
//   saliency = "hessian"
//
// Every key is optional (absent = its default). Unknown keys and sections,
// wrong types, out-of-range values and unknown choices are errors
// (Error(ExitCode::config)) that name the file, line and key:
//
//   run.toml:7: unknown key 'encoding.bitz' (did you mean 'encoding.bits'?)
//   run.toml:7: key 'encoding.bits' must be an integer, found string
//   run.toml:7: key 'encoding.bits' = 40 is out of range [1, 16]
//
// An override "encoding.bits=3" takes a TOML value; string keys also take
// a bare word (run.mode=dense) and string-list keys a bare comma-separated
// list (record.populations=layer0.*,lm_head). Its errors start with "--set:".
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/energy_model.hpp"
#include "io/formats/generated_model.hpp"
#include "neurons/encoding.hpp"

namespace spikesim {

// What to simulate.
enum class Workload { transformer, linear_stack };

std::string_view workload_name(Workload w);

// Field initializers mirror the schema defaults (a test checks
// SimConfig{} == default_config()); the schema is what counts.
struct RunConfig {
  Workload workload = Workload::transformer;
  ForwardMode mode = ForwardMode::spiking;
  std::uint64_t seed = 1;
  int threads = 0;  // 0 = all cores
  int tokens = 16;
  bool progress = true;
  bool operator==(const RunConfig&) const = default;
};

struct ModelConfig {
  std::string path = "generated";  // "generated", a Hugging Face folder, a llama2.c .bin or a .gguf
  std::string tokenizer;           // "" = <path>/tokenizer.model when present
  bool allow_non_finite = false;
  bool operator==(const ModelConfig&) const = default;
};

struct InputConfig {
  std::string token_file;  // little-endian int32; "" = generated tokens
  std::int64_t offset = 0;
  std::string prompt;
  int generate = 0;
  bool operator==(const InputConfig&) const = default;
};

// The model spikesim generates when model.path = "generated".

// [eval]: how `spikesim eval` cuts input.token_file into sequences.
struct EvalConfig {
  int windows = 16;   // sequences evaluated
  int seq = 256;      // tokens predicted per sequence
  bool rows = false;  // rows of `seq` tokens, each on its own (else windows of seq + 1)
  bool operator==(const EvalConfig&) const = default;
};

// [generated]: the generated model's spec itself (io/formats/generated_model.hpp),
// with the config's default seed.
struct GeneratedModelConfig : GeneratedModelSpec {
  GeneratedModelConfig() { seed = 1234; }
  bool operator==(const GeneratedModelConfig&) const = default;
};

struct LinearStackConfig {
  std::vector<int> sizes = {256, 512, 256};  // layer widths, input first
  bool operator==(const LinearStackConfig&) const = default;
};

// The encoding a run uses (neurons/encoding.hpp) and where its calibration
// tokens come from. The spec is the section's body, not a copy of it.
struct EncodingConfig : EncodingSpec {
  int calib_windows = 4;
  std::string calib_file;
  double bits_budget = 0;  // mixed precision (sim/mixed_precision.hpp); 0 = encoding.bits everywhere
  bool operator==(const EncodingConfig&) const = default;
};

// [weights]: weight quantization applied to the loaded model before the run
// (sim/weight_quantization.hpp). bits = 0 keeps the weights as loaded.
enum class WeightMethod { rtn, gptq, ternary, pbllm };
enum class WeightColumnSaliency { hessian, obs, none };
struct WeightsConfig {
  int bits = 0;             // 0 = as loaded, else 2..8
  int group = 0;            // inputs per scale group; 0 = per output channel
  bool symmetric = false;   // else asymmetric min-max (SpikeLLM's / OmniQuant's W4A4 setting)
  WeightMethod method = WeightMethod::rtn;
  bool act_order = false;   // GPTQ: columns by descending Hessian diagonal
  double damp = 0.01;       // GPTQ: damping, a fraction of mean(diag H)
  bool sequential = false;  // GPTQ: layer l's Hessians from a model whose layers < l are quantized
  bool lm_head = false;     // quantize the lm_head too (RTN)
  bool embedding = false;   // quantize the embedding too (RTN)
  // ternary / pbllm (core/weights/ternary_quantizer.hpp)
  double steps = 1.0;       // ternary: mean steps per weight ("equal steps")
  int max_steps = 2;        // ternary: steps of the most salient columns at most
  WeightColumnSaliency column_saliency = WeightColumnSaliency::hessian;
  double salient_fraction = 0.1;  // pbllm: weights kept at 8 bits
  bool compensate = true;   // ternary / pbllm: GPTQ error compensation
  bool operator==(const WeightsConfig&) const = default;
};

// [smoothing] and [clipping]: training-free equivalents of OmniQuant's LET
// and LWC, calibrated before the run (sim/smoothing.hpp, sim/clipping.hpp).
enum class SmoothingMethod { none, fixed, search };
struct SmoothingConfig {
  SmoothingMethod method = SmoothingMethod::none;
  double alpha = 0.5;  // fixed: s_c = max|X_c|^α / max|W_c|^(1-α)
  bool rotate = false;  // orthogonal rotations folded in first (sim/rotation.hpp)
  bool operator==(const SmoothingConfig&) const = default;
};

enum class ActivationClipping { none, fixed, search };
struct ClippingConfig {
  ActivationClipping activations = ActivationClipping::none;
  double ratio = 1.0;    // fixed: every encoder's range scaled by this
  bool weights = false;  // per-output-channel clip ratios searched before weight quantization
  bool operator==(const ClippingConfig&) const = default;
};

struct EnergyConfig {
  // Key energy.profile (older name energy.preset): a shipped profile's name
  // (EnergyModel::preset_names()) or a profile file's path. The field keeps
  // its older name for the callers that build the energy model from it.
  std::string preset = "45nm";
  Precision precision = Precision::fp32;
  MemoryLevel memory = MemoryLevel::none;
  AcConvention ac_convention = AcConvention::amplitude;
  // Ranks: the energy of spikes and values crossing between ranks on a 2-D
  // mesh of chips (sim/communicator.hpp), off by default; pJ per packet hop.
  bool communication = false;
  double hop_east_west_pj = 3.0;
  double hop_north_south_pj = 4.2;
  bool operator==(const EnergyConfig&) const = default;
};

struct RecordConfig {
  bool enabled = true;
  std::string output = "spikesim_run.h5";
  bool spikes = true;
  std::vector<std::string> populations;        // names or fnmatch patterns; empty = all
  std::vector<std::string> trace_populations;  // names or fnmatch patterns; empty = none
  int trace_neurons = 8;
  int compression = 4;
  bool logits = true;
  bool operator==(const RecordConfig&) const = default;
};

struct SimConfig {
  RunConfig run;
  ModelConfig model;
  InputConfig input;
  EvalConfig eval;
  GeneratedModelConfig generated;
  LinearStackConfig linear_stack;
  EncodingConfig encoding;
  WeightsConfig weights;
  SmoothingConfig smoothing;
  ClippingConfig clipping;
  EnergyConfig energy;
  RecordConfig record;

  std::string source_name;  // the file (or "<defaults>") the config came from
  std::string source_text;  // the effective config as TOML text, written into the HDF5 file

  // Same settings (source_name and source_text are not compared).
  [[nodiscard]] bool same_settings(const SimConfig& other) const;
};

// Reads and validates a TOML file, then applies the overrides in order.
SimConfig load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides = {});
// All defaults.
SimConfig default_config();
// Parses TOML text; `source_name` prefixes error messages ("<source_name>:<line>: ...").
SimConfig parse_config(std::string_view toml_text, const std::string& source_name,
                       const std::vector<std::string>& overrides = {});
// parse_config for the text of a config file in `folder`: input paths the
// text sets are expanded and resolved against `folder` (absolute, so the
// effective config works from anywhere); --set values are the user's, taken
// from the working directory as they are.
SimConfig parse_config_in(std::string_view toml_text, const std::string& source_name,
                          const std::filesystem::path& folder, const std::vector<std::string>& overrides = {});
// Checks a config built in code against the schema and the cross-key rules;
// throws Error(config) naming the key. parse_config and load_config already do.
void validate_config(const SimConfig& config);
// The effective config as TOML text: every key in schema order, each with its
// meaning as a comment. parse_config(config_to_toml(c)) gives c back.
std::string config_to_toml(const SimConfig& config);
// The key tables of docs/reference/config.md, rendered from the schema.
std::string config_reference_markdown();
// One line per key: name, type, default, allowed values (`spikesim config --keys`).
std::string config_keys_table();
// All dotted keys of the schema, in schema order.
std::vector<std::string> config_keys();
// Keys accepted under an older name: (older name, current name) pairs. A
// config may use the older name; the effective config writes the current one.
std::vector<std::pair<std::string, std::string>> config_renamed_keys();

// ---- The schema -------------------------------------------------------------

enum class ConfigType { boolean, integer, floating, string, string_list, int_list };

using ConfigValue = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>,
                                 std::vector<std::int64_t>>;

struct ConfigKey {
  std::string_view name;  // "section.key"
  ConfigType type = ConfigType::boolean;
  // A file the run reads: in a config file, ${VAR} / ${VAR:-default} are
  // expanded and a relative path is taken from the config file's folder.
  bool input_path = false;
  ConfigValue default_value;
  // integer and int_list (per entry): inclusive range
  std::int64_t int_min = 0, int_max = 0;
  // floating: inclusive range
  double float_min = 0, float_max = 0;
  // string: allowed values (empty = any text); for enum fields, in enum order
  std::vector<std::string_view> choices;
  std::size_t min_entries = 0;  // lists
  std::string_view meaning;
  ConfigValue (*get)(const SimConfig&, const ConfigKey&) = nullptr;
  void (*set)(SimConfig&, const ConfigKey&, const ConfigValue&) = nullptr;

  [[nodiscard]] std::string_view section() const { return name.substr(0, name.find('.')); }
  [[nodiscard]] std::string_view leaf() const { return name.substr(name.find('.') + 1); }
};

// A rule between keys (checked after every key is valid). `check` returns ""
// when the config satisfies it, else the message naming both keys.
struct ConfigRule {
  std::vector<std::string_view> keys;
  std::string_view description;
  std::string (*check)(const SimConfig&) = nullptr;
};

const std::vector<ConfigKey>& config_schema();
const std::vector<ConfigRule>& config_rules();
// Section names in schema order.
std::vector<std::string> config_sections();

}  // namespace spikesim
