// Issue 13: smoothing, rotation, clipping and mixed precision on the
// generated model. The fear with smoothing and rotation is a wrong fold, so
// the fp model must keep its logits; with clipping and mixed precision, that
// the spiking run stops equalling the quantized one.
#include <catch2/catch.hpp>

#include <tbb/global_control.h>

#include <cmath>

#include "core/error.hpp"
#include "core/weights/weight_quantizer.hpp"
#include "io/config/config.hpp"
#include "io/formats/generated_model.hpp"
#include "io/report/report.hpp"
#include "sim/accuracy_methods.hpp"
#include "sim/clipping.hpp"
#include "sim/mixed_precision.hpp"
#include "sim/run_driver.hpp"
#include "sim/rotation.hpp"
#include "sim/smoothing.hpp"
#include "sim/transformer.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;

namespace {

// GQA (4 heads over 2 KV heads), d_ff not a power of two, biases on q/k/v/o:
// every fold path, the KV-group sharing and the non-Hadamard rotation.
LlamaModel model_under_test() {
  GeneratedModelSpec spec;
  spec.dim = 64;
  spec.hidden_dim = 96;
  spec.layers = 2;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.vocab = 96;
  spec.max_seq_len = 48;
  LlamaModel m = generate_model(spec);
  m.config.qkv_bias = m.config.o_bias = true;
  for (LlamaLayer& l : m.layers) {
    l.bq = Eigen::VectorXf::LinSpaced(static_cast<Eigen::Index>(l.wq.rows()), -0.2f, 0.3f);
    l.bk = Eigen::VectorXf::LinSpaced(static_cast<Eigen::Index>(l.wk.rows()), 0.1f, -0.1f);
    l.bv = Eigen::VectorXf::LinSpaced(static_cast<Eigen::Index>(l.wv.rows()), -0.3f, 0.2f);
    l.bo = Eigen::VectorXf::LinSpaced(static_cast<Eigen::Index>(l.wo.rows()), 0.05f, -0.05f);
  }
  validate_model(m);
  return m;
}

std::vector<int> tokens(std::size_t n, int seed) {
  std::vector<int> t(n);
  for (std::size_t i = 0; i < n; ++i) t[i] = static_cast<int>((i * 37 + static_cast<std::size_t>(seed) * 11 + 1) % 96);
  return t;
}

const std::vector<std::vector<int>> kCalibration = {tokens(32, 3), tokens(32, 4)};

MatrixRM dense_logits(const LlamaModel& m) {
  Transformer t(m, ForwardMode::dense, {});
  return t.forward_sequence(tokens(24, 0));
}

double relative_diff(const MatrixRM& a, const MatrixRM& b) {
  return static_cast<double>((a - b).cwiseAbs().maxCoeff() / std::max(1.0f, b.cwiseAbs().maxCoeff()));
}

SimConfig config_with(const std::vector<std::string>& overrides) {
  std::vector<std::string> all = {"run.mode=quantized"};
  all.insert(all.end(), overrides.begin(), overrides.end());
  return parse_config("", "<test>", all);
}

}  // namespace

TEST_CASE("smoothing: the smoothed fp model gives the unsmoothed model's logits", "[accuracy][smoothing]") {
  const LlamaModel original = model_under_test();
  const MatrixRM reference = dense_logits(original);
  for (const char* method : {"fixed", "search"}) {
    LlamaModel m = original;
    StageInputs inputs = collect_stage_inputs(m, kCalibration);
    const SimConfig cfg = config_with({std::string("smoothing.method=") + method, "smoothing.alpha=0.8"});
    const nlohmann::json alphas = smooth_model(m, cfg, inputs);
    INFO(method << ": " << alphas.dump());
    CHECK(alphas.size() == 8);  // 2 layers x 4 stages
    CHECK(relative_diff(dense_logits(m), reference) < 1e-4);
    // The inputs handed on are the smoothed model's own.
    const StageInputs again = collect_stage_inputs(m, kCalibration);
    for (const auto& [name, x] : again)
      if (name != "lm_head_in") CHECK(relative_diff(x, inputs.at(name)) < 1e-4);
  }
}

TEST_CASE("smoothing: a fixed α really rescales every fold site", "[accuracy][smoothing]") {
  // A fold that did nothing would pass the logits test: check the weights moved.
  const LlamaModel original = model_under_test();
  LlamaModel m = original;
  StageInputs inputs = collect_stage_inputs(m, kCalibration);
  (void)smooth_model(m, config_with({"smoothing.method=fixed", "smoothing.alpha=0.5"}), inputs);
  const LlamaLayer &a = original.layers[1], &b = m.layers[1];
  CHECK((a.attn_norm - b.attn_norm).norm() > 1e-3);
  CHECK((a.ffn_norm - b.ffn_norm).norm() > 1e-3);
  CHECK((a.wv.to_f32() - b.wv.to_f32()).norm() > 1e-3);
  CHECK((a.bv - b.bv).norm() > 1e-4);
  CHECK((a.w_up.to_f32() - b.w_up.to_f32()).norm() > 1e-3);
  CHECK((a.w_down.to_f32() - b.w_down.to_f32()).norm() > 1e-3);
}

TEST_CASE("smoothing: V/O scales are shared by the query heads of a KV group", "[accuracy][smoothing]") {
  LlamaModel m = model_under_test();
  Eigen::VectorXf s = Eigen::VectorXf::Ones(m.config.n_heads * m.config.head_dim);
  s[0] = 2.0f;  // head 0 only: head 1 shares its KV head
  CHECK_THROWS_AS(fold_smoothing(m, "layer0.attn_out", s), Error);
}

TEST_CASE("rotation: the rotated fp model gives the original logits", "[accuracy][rotation]") {
  const LlamaModel original = model_under_test();
  LlamaModel m = original;
  rotate_model(m, 7);
  CHECK(relative_diff(dense_logits(m), dense_logits(original)) < 1e-4);
  CHECK((m.layers[0].wq.to_f32() - original.layers[0].wq.to_f32()).norm() > 1e-2);
  for (int n : {8, 12, 64}) {
    const Eigen::MatrixXd q = random_orthogonal(n, 3);
    CHECK((q.transpose() * q - Eigen::MatrixXd::Identity(n, n)).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("weight clipping: per-channel ratios never do worse than plain RTN on the calibration inputs",
          "[accuracy][clipping]") {
  const LlamaModel original = model_under_test();
  LlamaModel m = original;
  const StageInputs inputs = collect_stage_inputs(m, kCalibration);
  WeightsConfig w;
  w.bits = 3;
  const nlohmann::json ratios = clip_weights(m, w, inputs);
  bool clipped_some = false;
  for (const auto& [stage, ratio] : ratios.items()) {
    CHECK(ratio.get<double>() <= 1.0);
    clipped_some |= ratio.get<double>() < 1.0;
  }
  CHECK(clipped_some);
  // Output error X (W - Q(W))ᵀ of layer 0's w_down, clipped against plain.
  const MatrixRM& x = inputs.at("layer0.mlp_down");
  const MatrixRM fp = original.layers[0].w_down.to_f32();
  const auto error = [&](const MatrixRM& source) {
    const MatrixRM q = quantize_rtn(source, {3, 0, false}).dequantized();
    return static_cast<double>((x * (fp - q).transpose()).squaredNorm());
  };
  CHECK(error(m.layers[0].w_down.to_f32()) <= error(fp) * (1 + 1e-6));
}

TEST_CASE("clipping and mixed precision keep spiking equal to quantized", "[accuracy][clipping]") {
  LlamaModel m = model_under_test();
  const SimConfig cfg = config_with({"encoding.group_ranges=true", "clipping.activations=search",
                                     "smoothing.method=search", "encoding.calib_windows=2"});
  AccuracyMethods methods;
  prepare_model(m, cfg, kCalibration, methods);
  const SaliencyPlan plan = compute_saliency_plan(m, cfg.encoding, kCalibration);
  tune_encoders(m, cfg, plan, kCalibration, methods);
  // Force a clipped stage and a 6-bit stage, whatever the search chose.
  methods.settings["layer0.mlp_down"].clip = 0.7f;
  methods.settings["layer1.attn_in"].bits = 6;
  Transformer spiking(m, ForwardMode::spiking, cfg.encoding, plan, nullptr, methods.settings);
  Transformer quantized(m, ForwardMode::quantized, cfg.encoding, plan, nullptr, methods.settings);
  const auto seq = tokens(16, 1);
  const MatrixRM s = spiking.forward_sequence(seq), q = quantized.forward_sequence(seq);
  CHECK(relative_diff(s, q) < 1e-4);
  // The settings reached the encoders.
  bool six_bits = false;
  for (const Population* p : quantized.populations())
    if (p->name() == "layer1.attn_in") six_bits = p->max_amplitude(0) == 63;
  CHECK(six_bits);
}

TEST_CASE("mixed precision: bits go where the calibration loss falls, within the budget", "[accuracy][precision]") {
  const LlamaModel m = model_under_test();
  SimConfig cfg = config_with({"encoding.bits=3", "encoding.bits_budget=3.5", "encoding.saliency=uniform"});
  EncoderSettings settings;
  const nlohmann::json report = allocate_bits(m, cfg.encoding, {}, kCalibration, settings);
  INFO(report.dump());
  CHECK(report["average_bits"].get<double>() <= 3.5 + 1e-9);
  CHECK(report["average_bits"].get<double>() > 3.0);
  Transformer t(m, ForwardMode::quantized, cfg.encoding, {}, nullptr, settings);
  CHECK(average_activation_bits(t.populations()) == Approx(report["average_bits"].get<double>()));
  // A budget below what encoding.bits takes is refused, naming the key.
  cfg.encoding.bits_budget = 2.5;
  CHECK_THROWS_WITH(allocate_bits(m, cfg.encoding, {}, kCalibration, settings),
                    Catch::Contains("encoding.bits_budget"));
}

TEST_CASE("config: the accuracy keys are checked by name", "[accuracy][config]") {
  CHECK_THROWS_WITH(config_with({"clipping.ratio=0"}), Catch::Contains("clipping.ratio"));
  CHECK_THROWS_WITH(config_with({"smoothing.method=learned"}), Catch::Contains("smoothing.method"));
  CHECK_THROWS_WITH(config_with({"smoothing.alpha=1.5"}), Catch::Contains("smoothing.alpha"));
  CHECK_THROWS_WITH(config_with({"clipping.weights=true"}), Catch::Contains("weights.bits"));
  CHECK_NOTHROW(config_with({"clipping.weights=true", "weights.bits=4"}));
}

TEST_CASE("mixed precision: the same bits on one thread and on all", "[accuracy][precision][threads]") {
  const LlamaModel m = model_under_test();
  const SimConfig cfg = config_with({"encoding.bits=3", "encoding.bits_budget=3.6", "encoding.saliency=uniform"});
  EncoderSettings all, one;
  const nlohmann::json parallel = allocate_bits(m, cfg.encoding, {}, kCalibration, all);
  {
    tbb::global_control single(tbb::global_control::max_allowed_parallelism, 1);
    const nlohmann::json serial = allocate_bits(m, cfg.encoding, {}, kCalibration, one);
    CHECK(serial == parallel);
  }
  CHECK(all == one);
}

TEST_CASE("run: the summary and the report say which accuracy methods ran", "[accuracy][report]") {
  test::TempDir dir("accuracy_run");
  const auto out = dir / "out.h5";
  const SimConfig cfg = parse_config("", "<test>",
                                     {"generated.dim=32", "generated.hidden_dim=64", "generated.layers=1",
                                      "generated.heads=2", "generated.kv_heads=1", "generated.vocab=96",
                                      "run.tokens=4", "run.progress=false", "encoding.calib_windows=1",
                                      "smoothing.method=search", "encoding.group_ranges=true",
                                      "record.output=\"" + out.string() + "\""});
  const nlohmann::json summary = run_simulation(cfg).summary;
  CHECK(summary["smoothing"] == "search");
  CHECK(summary["calibrated"].contains("smoothing_alpha"));
  const RunReport report = read_run_report(out);
  CHECK_THAT(report.accuracy_methods, Catch::Contains("smoothing search") && Catch::Contains("per-group ranges"));
  CHECK_THAT(format_report_text(report), Catch::Contains("accuracy methods"));
}
