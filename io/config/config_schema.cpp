// The schema of the run configuration: every key, its type, default, range
// or choices and meaning, and the rules between keys. Everything else in
// io/config/config.cpp (parser, --set, defaults, effective-config text, the
// reference page) is generated from these two tables.
//
// To add a key: add the field to its section struct in io/config/config.hpp (with
// the same default), add one row here, regenerate docs/reference/config.md
// (the [config] tests say how) and, if it matters to users, mention it in
// examples/default.toml.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.hpp"
#include "io/config/config.hpp"

namespace spikesim {

std::string_view workload_name(Workload w) {
  switch (w) {
    case Workload::transformer:
      return "transformer";
    case Workload::linear_stack:
      return "linear_stack";
  }
  return "?";
}

namespace {

constexpr std::int64_t kNoMax = std::numeric_limits<std::int64_t>::max();

// ---- Binding a key to its field: (config.*Section).*Member ------------------

template <auto Section, auto Member>
auto& field(SimConfig& c) {
  return (c.*Section).*Member;
}
template <auto Section, auto Member>
const auto& field(const SimConfig& c) {
  return (c.*Section).*Member;
}

template <auto Section, auto Member>
ConfigValue get_field(const SimConfig& c, const ConfigKey& key) {
  const auto& f = field<Section, Member>(c);
  using T = std::remove_cvref_t<decltype(f)>;
  if constexpr (std::is_same_v<T, bool>) {
    return f;
  } else if constexpr (std::is_enum_v<T>) {
    const auto index = static_cast<std::size_t>(f);
    if (index >= key.choices.size())
      throw Error(ExitCode::internal,
                  fmt::format("key '{}' holds an enum value outside its choices", key.name));
    return std::string(key.choices[index]);
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<std::int64_t>(f);
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<double>(f);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return f;
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    return f;
  } else {
    static_assert(std::is_integral_v<typename T::value_type>, "unsupported config field type");
    return std::vector<std::int64_t>(f.begin(), f.end());
  }
}

// `value` has the key's type and passed its range and choice checks.
template <auto Section, auto Member>
void set_field(SimConfig& c, const ConfigKey& key, const ConfigValue& value) {
  auto& f = field<Section, Member>(c);
  using T = std::remove_cvref_t<decltype(f)>;
  if constexpr (std::is_same_v<T, bool>) {
    f = std::get<bool>(value);
  } else if constexpr (std::is_enum_v<T>) {
    const auto& text = std::get<std::string>(value);
    const auto it = std::find(key.choices.begin(), key.choices.end(), text);
    f = static_cast<T>(it - key.choices.begin());
  } else if constexpr (std::is_integral_v<T>) {
    f = static_cast<T>(std::get<std::int64_t>(value));
  } else if constexpr (std::is_floating_point_v<T>) {
    f = static_cast<T>(std::get<double>(value));
  } else if constexpr (std::is_same_v<T, std::string>) {
    f = std::get<std::string>(value);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    f = std::get<std::vector<std::string>>(value);
  } else {
    const auto& v = std::get<std::vector<std::int64_t>>(value);
    f.clear();
    for (auto x : v) f.push_back(static_cast<typename T::value_type>(x));
  }
}

template <auto Section, auto Member>
ConfigKey bound(ConfigKey key) {
  key.get = &get_field<Section, Member>;
  key.set = &set_field<Section, Member>;
  return key;
}

// ---- Row builders ------------------------------------------------------------

template <auto S, auto M>
ConfigKey boolean(std::string_view name, bool def, std::string_view meaning) {
  ConfigKey k;
  k.name = name;
  k.type = ConfigType::boolean;
  k.default_value = def;
  k.meaning = meaning;
  return bound<S, M>(k);
}

template <auto S, auto M>
ConfigKey integer(std::string_view name, std::int64_t def, std::int64_t lo, std::int64_t hi,
                  std::string_view meaning) {
  ConfigKey k;
  k.name = name;
  k.type = ConfigType::integer;
  k.default_value = def;
  k.int_min = lo;
  k.int_max = hi;
  k.meaning = meaning;
  return bound<S, M>(k);
}

template <auto S, auto M>
ConfigKey floating(std::string_view name, double def, double lo, double hi, std::string_view meaning) {
  ConfigKey k;
  k.name = name;
  k.type = ConfigType::floating;
  k.default_value = def;
  k.float_min = lo;
  k.float_max = hi;
  k.meaning = meaning;
  return bound<S, M>(k);
}

template <auto S, auto M>
ConfigKey text(std::string_view name, std::string_view def, std::string_view meaning) {
  ConfigKey k;
  k.name = name;
  k.type = ConfigType::string;
  k.default_value = std::string(def);
  k.meaning = meaning;
  return bound<S, M>(k);
}

// A file the run reads (ConfigKey::input_path).
template <auto S, auto M>
ConfigKey input_path(std::string_view name, std::string_view def, std::string_view meaning) {
  ConfigKey k = text<S, M>(name, def, meaning);
  k.input_path = true;
  return k;
}

// For an enum field, `choices` lists the enumerators' names in enum order.
template <auto S, auto M>
ConfigKey choice(std::string_view name, std::string_view def, std::vector<std::string_view> choices,
                 std::string_view meaning) {
  ConfigKey k;
  k.name = name;
  k.type = ConfigType::string;
  k.default_value = std::string(def);
  k.choices = std::move(choices);
  k.meaning = meaning;
  return bound<S, M>(k);
}

template <auto S, auto M>
ConfigKey string_list(std::string_view name, std::vector<std::string> def, std::string_view meaning) {
  ConfigKey k;
  k.name = name;
  k.type = ConfigType::string_list;
  k.default_value = std::move(def);
  k.meaning = meaning;
  return bound<S, M>(k);
}

template <auto S, auto M>
ConfigKey int_list(std::string_view name, std::vector<std::int64_t> def, std::int64_t lo, std::int64_t hi,
                   std::size_t min_entries, std::string_view meaning) {
  ConfigKey k;
  k.name = name;
  k.type = ConfigType::int_list;
  k.default_value = std::move(def);
  k.int_min = lo;
  k.int_max = hi;
  k.min_entries = min_entries;
  k.meaning = meaning;
  return bound<S, M>(k);
}

std::vector<ConfigKey> make_schema() {
  using C = SimConfig;
  using Run = RunConfig;
  using Model = ModelConfig;
  using In = InputConfig;
  using Ev = EvalConfig;
  using Gen = GeneratedModelConfig;
  using Stack = LinearStackConfig;
  using Enc = EncodingConfig;
  using En = EnergyConfig;
  using W = WeightsConfig;
  using Rec = RecordConfig;
  using Sm = SmoothingConfig;
  using Cl = ClippingConfig;
  constexpr std::int64_t k1M = 1 << 20;
  return {
      // [run]
      choice<&C::run, &Run::workload>("run.workload", "transformer", {"transformer", "linear_stack"},
                                      "What to simulate: a LLaMA-family transformer, or a stack of linear "
                                      "layers with GIF encoders between them (see [linear_stack])."),
      choice<&C::run, &Run::mode>("run.mode", "spiking", {"dense", "quantized", "spiking"},
                                  "How: the dense fp32 forward, the dense forward on the GIF quantization "
                                  "grid, or the event-driven spiking simulation."),
      integer<&C::run, &Run::seed>(
          "run.seed", 1, 0, kNoMax,
          "Seed of the run's random choices (generated input tokens, linear-stack weights)."),
      integer<&C::run, &Run::threads>("run.threads", 0, 0, 256, "Worker threads; 0 = all cores."),
      integer<&C::run, &Run::tokens>("run.tokens", 16, 1, 1000000, "Tokens to simulate."),
      boolean<&C::run, &Run::progress>("run.progress", true,
                                       "Progress bar on stderr when stderr is a terminal."),
      // [model]
      input_path<&C::model, &Model::path>("model.path", "generated",
                                    "\"generated\" (a model built from [generated]), a Hugging Face folder "
                                    "(config.json + model.safetensors), a llama2.c .bin file or a GGUF .gguf file."),
      input_path<&C::model, &Model::tokenizer>("model.tokenizer", "",
                                         "tokenizer.model, tokenizer.json or a .gguf's vocabulary; \"\" = the "
                                         "model folder's tokenizer.model (or tokenizer.json), or a .gguf model's own."),
      boolean<&C::model, &Model::allow_non_finite>(
          "model.allow_non_finite", false, "Accept NaN/Inf weights instead of failing (exit code 8)."),
      // [input]
      input_path<&C::input, &In::token_file>(
          "input.token_file", "", "Little-endian int32 token file; \"\" = tokens generated from run.seed."),
      integer<&C::input, &In::offset>("input.offset", 0, 0, kNoMax,
                                      "Index of the first token taken from the file."),
      text<&C::input, &In::prompt>("input.prompt", "", "Text prompt, tokenized with the model's tokenizer."),
      integer<&C::input, &In::generate>("input.generate", 0, 0, 100000,
                                        "Tokens to generate greedily after the prompt or token file."),
      // [eval]
      integer<&C::eval, &Ev::windows>("eval.windows", 16, 1, k1M,
                                      "`spikesim eval`: sequences (windows or rows) of input.token_file "
                                      "evaluated."),
      integer<&C::eval, &Ev::seq>("eval.seq", 256, 2, k1M,
                                  "`spikesim eval`: tokens predicted per sequence (the row length with "
                                  "eval.rows)."),
      boolean<&C::eval, &Ev::rows>("eval.rows", false,
                                   "`spikesim eval`: the file is rows of eval.seq tokens, each evaluated on "
                                   "its own; else windows of eval.seq + 1 tokens every eval.seq tokens."),
      // [generated]
      integer<&C::generated, &Gen::dim>("generated.dim", 128, 8, 16384, "Model width d_model."),
      integer<&C::generated, &Gen::hidden_dim>("generated.hidden_dim", 384, 8, 65536,
                                               "Feed-forward width d_ff."),
      integer<&C::generated, &Gen::layers>("generated.layers", 2, 1, 256, "Transformer layers."),
      integer<&C::generated, &Gen::heads>("generated.heads", 4, 1, 256, "Attention (query) heads."),
      integer<&C::generated, &Gen::kv_heads>("generated.kv_heads", 2, 1, 256,
                                             "Key/value heads (grouped-query attention)."),
      integer<&C::generated, &Gen::vocab>("generated.vocab", 256, 2, 1000000, "Vocabulary size."),
      integer<&C::generated, &Gen::max_seq_len>("generated.max_seq_len", 256, 1, k1M, "Longest context."),
      integer<&C::generated, &Gen::outliers>(
          "generated.outliers", 4, 0, 1 << 16,
          "Outlier channels per layer (large activations, as in real LLMs), "
          "which make saliency matter."),
      floating<&C::generated, &Gen::outlier_scale>(
          "generated.outlier_scale", 8.0, 1.0, 1000.0,
          "Magnitude of the outlier channels relative to the others."),
      integer<&C::generated, &Gen::seed>("generated.seed", 1234, 0, kNoMax, "Seed of the generated weights."),
      choice<&C::generated, &Gen::dtype>(
          "generated.dtype", "f32", {"f32", "bf16", "f16", "int8", "int4"},
          "Element type the weights are generated in. f32 draws the model in one sequential stream; the "
          "others draw blocks of rows in parallel straight into the type (int8/int4: RTN, asymmetric, "
          "embedding and lm_head bf16), so they are not the rounding of the f32 model."),
      integer<&C::generated, &Gen::group>("generated.group", 128, 0, 1 << 16,
                                          "int8/int4: inputs per weight scale group; 0 = one group per output "
                                          "channel."),
      // [linear_stack]
      int_list<&C::linear_stack, &Stack::sizes>(
          "linear_stack.sizes", {256, 512, 256}, 1, k1M, 2,
          "Layer widths, input first: N entries make N-1 linear layers."),
      // [encoding]
      integer<&C::encoding, &Enc::bits>("encoding.bits", 4, 1, 16,
                                        "GIF amplitude bits: a spike carries up to A = 2^bits - 1 per step."),
      boolean<&C::encoding, &Enc::is_signed>("encoding.signed", false,
                                             "Symmetric (signed) instead of asymmetric encoding: zero inputs "
                                             "emit no spikes."),
      choice<&C::encoding, &Enc::saliency>(
          "encoding.saliency", "hessian", {"hessian", "magnitude", "uniform"},
          "How salient channels are chosen: Optimal Brain Spiking "
          "(mean of ((X Wᵀ W) ⊙ X)), activation magnitude, or none (uniform T)."),
      integer<&C::encoding, &Enc::addbit>("encoding.addbit", 1, 0, 4,
                                          "Salient channels get T = 2^addbit steps."),
      floating<&C::encoding, &Enc::low_p>("encoding.low_p", 0.9, 0.0, 1.0,
                                          "Fraction of channels that are not salient (T = 1)."),
      boolean<&C::encoding, &Enc::kv_spiking>("encoding.kv_spiking", true,
                                              "GIF-encode K and V into the KV cache (else they stay dense)."),
      boolean<&C::encoding, &Enc::spike_lm_head>("encoding.spike_lm_head", false,
                                                 "Spike the lm_head input too (SpikeLLM keeps it dense)."),
      integer<&C::encoding, &Enc::calib_windows>(
          "encoding.calib_windows", 4, 0, k1M,
          "Calibration windows (token sequences) used to measure saliency."),
      input_path<&C::encoding, &Enc::calib_file>("encoding.calib_file", "",
          "Calibration token file (little-endian int32); \"\" = the run's token source."),
      boolean<&C::encoding, &Enc::group_ranges>(
          "encoding.group_ranges", false,
          "Salient and other channels each take θ and z from the range of their own channels (else the "
          "token's range over all channels, as DESIGN §1)."),
      floating<&C::encoding, &Enc::bits_budget>(
          "encoding.bits_budget", 0.0, 0.0, 16.0,
          "Mixed precision: average activation bits per neuron per token the encoders may use; bits above "
          "encoding.bits go to the encoders whose calibration loss falls most per bit. 0 = off."),
      // [weights]
      integer<&C::weights, &W::bits>("weights.bits", 0, 0, 8,
                                     "Weight bits: 0 keeps the weights as loaded (f32, bf16, ...); 2..8 quantizes "
                                     "every linear layer to integer codes (int4 storage up to 4 bits, else int8)."),
      integer<&C::weights, &W::group>("weights.group", 0, 0, 1 << 16,
                                      "Inputs per weight scale group (e.g. 32, 64, 128); 0 = one scale per "
                                      "output channel."),
      boolean<&C::weights, &W::symmetric>("weights.symmetric", false,
                                          "Symmetric weight grid (zero point at mid-grid); else asymmetric "
                                          "min-max, SpikeLLM's W4A4 setting."),
      choice<&C::weights, &W::method>("weights.method", "rtn", {"rtn", "gptq", "ternary", "pbllm"},
                                      "Round-to-nearest, GPTQ with Hessians from the calibration tokens "
                                      "(encoding.calib_windows / calib_file), SpikeLLM's ternary weight spike "
                                      "trains (additive layers), or the PB-LLM baseline "
                                      "(docs/concepts/weight-spiking.md)."),
      boolean<&C::weights, &W::act_order>("weights.act_order", false,
                                          "GPTQ: quantize columns by descending Hessian diagonal."),
      floating<&C::weights, &W::damp>("weights.damp", 0.01, 0.0, 1.0,
                                      "GPTQ: damping added to the Hessian diagonal, as a fraction of its mean."),
      boolean<&C::weights, &W::sequential>("weights.sequential", false,
                                           "GPTQ: each layer's Hessians from inputs through the layers already "
                                           "quantized (else all from the unquantized model)."),
      boolean<&C::weights, &W::lm_head>("weights.lm_head", false,
                                        "Quantize the lm_head too (RTN); SpikeLLM keeps it as loaded."),
      boolean<&C::weights, &W::embedding>("weights.embedding", false,
                                          "Quantize the embedding table too (RTN); SpikeLLM keeps it as loaded."),
      floating<&C::weights, &W::steps>("weights.steps", 1.0, 1.0, 8.0,
                                       "ternary: mean ternary steps per weight (\"equal steps\", e.g. 1.0, 1.4, "
                                       "2.0), at most weights.max_steps; salient columns get more."),
      integer<&C::weights, &W::max_steps>("weights.max_steps", 2, 1, 8,
                                          "ternary: the most steps one input column gets."),
      choice<&C::weights, &W::column_saliency>(
          "weights.column_saliency", "hessian", {"hessian", "obs", "none"},
          "ternary: which columns get more steps: Σ w² / [H⁻¹]_cc (GPTQ/PB-LLM), the Optimal Brain Spiking "
          "activation saliency (H Wᵀ W)_cc, or none (uniform; weights.steps a whole number)."),
      floating<&C::weights, &W::salient_fraction>("weights.salient_fraction", 0.1, 0.0, 1.0,
                                                  "pbllm: fraction of each row's weights kept at 8 bits."),
      boolean<&C::weights, &W::compensate>("weights.compensate", true,
                                           "ternary / pbllm: GPTQ error compensation over the columns not yet "
                                           "quantized (false with ternary: plain TWN steps)."),
      // [smoothing]
      choice<&C::smoothing, &Sm::method>(
          "smoothing.method", "none", {"none", "fixed", "search"},
          "Per-channel smoothing folded exactly into the model before quantization (norm -> q/k/v and "
          "gate/up, v -> o, up -> down): s_c = max|X_c|^α / max|W_c|^(1-α); fixed α, or α searched per "
          "stage on the calibration tokens."),
      floating<&C::smoothing, &Sm::alpha>("smoothing.alpha", 0.5, 0.0, 1.0,
                                          "smoothing.method = \"fixed\": the migration strength α."),
      boolean<&C::smoothing, &Sm::rotate>(
          "smoothing.rotate", false,
          "Before smoothing, rotate the residual stream and each V/O head by seeded orthogonal (randomized "
          "Hadamard) matrices folded exactly into the weights (QuaRot-style), spreading outlier channels."),
      // [clipping]
      choice<&C::clipping, &Cl::activations>(
          "clipping.activations", "none", {"none", "fixed", "search"},
          "GIF encoder range clipping: none, clipping.ratio for every encoder, or a ratio per encoder "
          "searched on the calibration tokens (layer-output error)."),
      floating<&C::clipping, &Cl::ratio>("clipping.ratio", 1.0, 0.05, 1.0,
                                         "clipping.activations = \"fixed\": the fraction of each token's range "
                                         "kept (values outside clip to the grid's ends)."),
      boolean<&C::clipping, &Cl::weights>(
          "clipping.weights", false,
          "Per-output-channel weight clip ratios searched on the calibration tokens before weight "
          "quantization (needs weights.bits > 0)."),
      // [energy]
      input_path<&C::energy, &En::preset>(
          "energy.profile", "45nm",
          "Energy figures: a shipped profile (45nm, loihi, loihi_sanafe, spinnaker2, truenorth) or the path "
          "of a profile file ending in .toml (docs/concepts/accounting-and-energy.md). `energy.preset` is "
          "its older name, still accepted."),
      choice<&C::energy, &En::precision>(
          "energy.precision", "fp32", {"fp32", "int32", "int8"},
          "Precision of the dense datapath (dense-equivalent and dense units)."),
      choice<&C::energy, &En::memory>("energy.memory", "none", {"none", "sram", "dram"},
                                      "Weight-fetch energy term: off, from SRAM or from DRAM."),
      choice<&C::energy, &En::ac_convention>("energy.ac_convention", "amplitude", {"amplitude", "shift_add"},
                                             "A spike of amplitude s on a synapse costs s accumulates, or "
                                             "log2-cost shift-adds."),
      boolean<&C::energy, &En::communication>(
          "energy.communication", false,
          "Under mpirun: add the energy of the spikes and values that cross between ranks, priced per hop "
          "on a 2-D mesh of chips (docs/concepts/ranks.md). Off: the traffic is reported, not priced."),
      floating<&C::energy, &En::hop_east_west_pj>("energy.hop_east_west_pj", 3.0, 0.0, 1e6,
                                                  "pJ per packet per east-west hop (Loihi: 3.0, SANA-FE "
                                                  "arch/loihi.yaml)."),
      floating<&C::energy, &En::hop_north_south_pj>("energy.hop_north_south_pj", 4.2, 0.0, 1e6,
                                                    "pJ per packet per north-south hop (Loihi: 4.2)."),
      // [record]
      boolean<&C::record, &Rec::enabled>("record.enabled", true, "Write the HDF5 file."),
      text<&C::record, &Rec::output>("record.output", "spikesim_run.h5",
                                     "Output path (the CLI's -o overrides it)."),
      boolean<&C::record, &Rec::spikes>("record.spikes", true, "Record spikes (SONATA /spikes)."),
      string_list<&C::record, &Rec::populations>(
          "record.populations", {},
          "Names or fnmatch patterns of the populations whose spikes are "
          "recorded; [] = all."),
      string_list<&C::record, &Rec::trace_populations>("record.trace_populations", {},
                                                       "Names or fnmatch patterns of the populations whose "
                                                       "membrane traces are recorded; [] = none."),
      integer<&C::record, &Rec::trace_neurons>("record.trace_neurons", 8, 0, k1M,
                                               "Neurons traced in each traced population (the first N)."),
      integer<&C::record, &Rec::compression>("record.compression", 4, 0, 9,
                                             "gzip level of HDF5 datasets; 0 = none."),
      boolean<&C::record, &Rec::logits>("record.logits", true, "Store the logits of each token."),
  };
}

// ---- Rules between keys -------------------------------------------------------

std::string heads_divide_dim(const SimConfig& c) {
  const auto& g = c.generated;
  if (g.dim % g.heads == 0) return {};
  return fmt::format("key 'generated.heads' = {} must divide key 'generated.dim' = {}", g.heads, g.dim);
}

std::string head_dim_even(const SimConfig& c) {
  const auto& g = c.generated;
  if (g.dim % g.heads != 0 || (g.dim / g.heads) % 2 == 0) return {};
  return fmt::format(
      "key 'generated.dim' = {} / key 'generated.heads' = {} gives head dimension {}, which "
      "must be even for RoPE",
      g.dim, g.heads, g.dim / g.heads);
}

std::string kv_heads_divide_heads(const SimConfig& c) {
  const auto& g = c.generated;
  if (g.heads % g.kv_heads == 0) return {};
  return fmt::format("key 'generated.kv_heads' = {} must divide key 'generated.heads' = {}", g.kv_heads,
                     g.heads);
}

std::string weight_bits(const SimConfig& c) {
  if (c.weights.bits != 1) return {};
  return "key 'weights.bits' = 1: expected 0 (weights as loaded) or 2..8";
}

std::string weight_clipping_needs_bits(const SimConfig& c) {
  if (!c.clipping.weights || c.weights.bits != 0) return {};
  return "key 'clipping.weights' = true needs quantized weights: set key 'weights.bits' (2..8)";
}

std::string one_input(const SimConfig& c) {
  if (c.input.prompt.empty() || c.input.token_file.empty()) return {};
  return "keys 'input.prompt' and 'input.token_file' are both set; give one of them";
}

// A shipped profile's name, or a file: the file itself is read when the run
// builds its energy model, so that a report can still read a run's config
// on a machine without that file.
std::string known_energy_profile(const SimConfig& c) {
  const std::string& profile = c.energy.preset;
  if (is_shipped_energy_profile(profile) || is_energy_profile_file(profile)) return {};
  return fmt::format("key 'energy.profile' = '{}' is neither a shipped profile ({}) nor a profile file (a path "
                     "ending in .toml)",
                     profile, fmt::join(EnergyModel::preset_names(), ", "));
}

std::vector<ConfigRule> make_rules() {
  return {
      {{"generated.heads", "generated.dim"}, "`generated.heads` divides `generated.dim`.", &heads_divide_dim},
      {{"generated.dim", "generated.heads"},
       "The head dimension `generated.dim / generated.heads` is even (RoPE rotates pairs).",
       &head_dim_even},
      {{"generated.kv_heads", "generated.heads"},
       "`generated.kv_heads` divides `generated.heads`.",
       &kv_heads_divide_heads},
      {{"weights.bits"}, "`weights.bits` is 0 or 2..8.", &weight_bits},
      {{"clipping.weights", "weights.bits"},
       "`clipping.weights` needs `weights.bits` > 0.",
       &weight_clipping_needs_bits},
      {{"input.prompt", "input.token_file"},
       "At most one of `input.prompt` and `input.token_file` is set.",
       &one_input},
      {{"energy.profile"},
       "`energy.profile` names a shipped profile or a profile file ending in `.toml`.",
       &known_energy_profile},
  };
}

}  // namespace

const std::vector<ConfigKey>& config_schema() {
  static const std::vector<ConfigKey> schema = make_schema();
  return schema;
}

const std::vector<ConfigRule>& config_rules() {
  static const std::vector<ConfigRule> rules = make_rules();
  return rules;
}

}  // namespace spikesim
