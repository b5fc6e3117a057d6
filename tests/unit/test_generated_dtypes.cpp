// The [generated] model in bf16 and int4 (io/formats/generated_model.hpp):
// tensor types, orders and shapes, weight statistics, draws that do not
// depend on the thread count, and the memory estimate of each dtype against
// the model's own weight_bytes().
#include <tbb/global_control.h>

#include <catch2/catch.hpp>

#include <cmath>

#include "io/config/config.hpp"
#include "io/formats/generated_model.hpp"
#include "sim/memory_estimate.hpp"

using namespace spikesim;

namespace {

GeneratedModelSpec small_spec(WeightType dtype) {
  GeneratedModelSpec s;
  s.dim = 256;  // > group 128, so linear layers have several scale groups
  s.hidden_dim = 512;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;
  s.vocab = 256;
  s.max_seq_len = 64;
  s.dtype = dtype;
  s.group = 128;
  return s;
}

double rms(const WeightTensor& w) {
  const MatrixRM m = w.to_f32();
  return std::sqrt(m.squaredNorm() / static_cast<double>(m.size()));
}

void check_same(const LlamaModel& a, const LlamaModel& b) {
  CHECK(a.embedding == b.embedding);
  CHECK(a.lm_head == b.lm_head);
  CHECK(a.final_norm == b.final_norm);
  REQUIRE(a.layers.size() == b.layers.size());
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const LlamaLayer &x = a.layers[i], &y = b.layers[i];
    CHECK(x.attn_norm == y.attn_norm);
    CHECK(x.ffn_norm == y.ffn_norm);
    CHECK(x.wq == y.wq);
    CHECK(x.wk == y.wk);
    CHECK(x.wv == y.wv);
    CHECK(x.wo == y.wo);
    CHECK(x.w_gate == y.w_gate);
    CHECK(x.w_up == y.w_up);
    CHECK(x.w_down == y.w_down);
  }
}

}  // namespace

TEST_CASE("generated model: bf16 and int4 types, shapes and statistics", "[generated][weights]") {
  for (const WeightType dtype : {WeightType::bf16, WeightType::int4}) {
    INFO(weight_type_name(dtype));
    const GeneratedModelSpec spec = small_spec(dtype);
    const LlamaModel m = generate_model(spec);
    const WeightType table = dtype == WeightType::int4 ? WeightType::bf16 : dtype;
    CHECK(m.embedding.type() == table);
    CHECK(m.lm_head.type() == table);
    CHECK(m.embedding.order() == WeightOrder::by_output);
    CHECK(m.lm_head.order() == WeightOrder::by_output);
    CHECK((m.embedding.rows() == 256 && m.embedding.cols() == 256));
    REQUIRE(m.layers.size() == 2);
    for (const LlamaLayer& l : m.layers) {
      const std::pair<const WeightTensor*, std::pair<std::size_t, std::size_t>> shapes[] = {
          {&l.wq, {256, 256}},    {&l.wk, {128, 256}},   {&l.wv, {128, 256}}, {&l.wo, {256, 256}},
          {&l.w_gate, {512, 256}}, {&l.w_up, {512, 256}}, {&l.w_down, {256, 512}}};
      for (const auto& [w, shape] : shapes) {
        CHECK(w->type() == dtype);
        CHECK(w->order() == WeightOrder::by_input);
        CHECK(w->rows() == shape.first);
        CHECK(w->cols() == shape.second);
        if (dtype == WeightType::int4) {
          CHECK(w->group() == 128);
          CHECK_FALSE(w->symmetric());
        }
        // N(0, 1/fan_in): RMS 1/sqrt(fan_in), within sampling and rounding noise.
        CHECK(rms(*w) == Approx(1.0 / std::sqrt(static_cast<double>(w->cols()))).epsilon(0.08));
      }
    }
    CHECK(rms(m.embedding) > 1.0);  // N(0, 1) with outlier columns scaled up
    CHECK(rms(m.lm_head) == Approx(1.0 / 16.0).epsilon(0.08));
    CHECK(m.final_norm.mean() > 1.0);  // ~1, outlier channels scaled
  }
}

TEST_CASE("generated model: blocked draws do not depend on the thread count", "[generated][weights]") {
  for (const WeightType dtype : {WeightType::bf16, WeightType::int4}) {
    INFO(weight_type_name(dtype));
    GeneratedModelSpec spec = small_spec(dtype);
    spec.vocab = 1000;  // several blocks per table
    LlamaModel one, two;
    {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
      one = generate_model(spec);
    }
    {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 2);
      two = generate_model(spec);
    }
    check_same(one, two);
    spec.seed += 1;
    CHECK_FALSE(generate_model(spec).layers[0].wq == one.layers[0].wq);
  }
}

TEST_CASE("memory estimate: weights of a generated model as held, per dtype", "[generated][memory]") {
  for (const WeightType dtype :
       {WeightType::f32, WeightType::bf16, WeightType::f16, WeightType::int8, WeightType::int4}) {
    INFO(weight_type_name(dtype));
    GeneratedModelSpec spec = small_spec(dtype);
    spec.layers = 8;  // the linear layers dominate, as in a real model
    SimConfig cfg = default_config();
    cfg.model.path = "generated";
    static_cast<GeneratedModelSpec&>(cfg.generated) = spec;
    cfg.run.mode = ForwardMode::spiking;
    cfg.encoding.saliency = SaliencyMethod::uniform;
    cfg.record.enabled = false;
    const MemoryEstimate estimate = estimate_run_memory(cfg, generated_config(spec));
    const LlamaModel m = generate_model(spec);
    // The estimate's weights are what the model holds plus one transient copy.
    const auto held = static_cast<double>(weight_bytes(m));
    CHECK(static_cast<double>(estimate.weights) >= held);
    CHECK(static_cast<double>(estimate.weights) / held == Approx(1.0).margin(0.2));
    // Integer projections keep int32 rows per (threshold group, weight group).
    if (is_integer(dtype)) {
      SimConfig f32 = cfg;
      f32.generated.dtype = WeightType::f32;
      CHECK(estimate.projections > estimate_run_memory(f32, generated_config(spec)).projections);
    }
  }
}
