// The spiking transformer on the generated model, against its references.
#include <catch2/catch.hpp>

#include <tbb/global_control.h>

#include <cstring>

#include "io/formats/generated_model.hpp"
#include "network/llama/mapper.hpp"
#include "sim/transformer.hpp"

using namespace spikesim;

namespace {

const LlamaModel& small_model() {
  static const LlamaModel model = [] {
    GeneratedModelSpec spec;
    spec.dim = 64;
    spec.hidden_dim = 160;
    spec.layers = 2;
    spec.heads = 4;
    spec.kv_heads = 2;
    spec.vocab = 96;
    spec.max_seq_len = 64;
    return generate_model(spec);
  }();
  return model;
}

std::vector<int> tokens(std::size_t n, int seed = 0) {
  std::vector<int> t(n);
  for (std::size_t i = 0; i < n; ++i) t[i] = static_cast<int>((i * 37 + static_cast<std::size_t>(seed) * 11 + 1) % 96);
  return t;
}

}  // namespace

TEST_CASE("spiking logits equal the quantized reference up to float summation order", "[transformer]") {
  const auto seq = tokens(20);
  for (bool is_signed : {false, true}) {
    for (bool kv : {true, false}) {
      EncodingSpec enc;
      enc.is_signed = is_signed;
      enc.kv_spiking = kv;
      enc.addbit = 1;
      enc.low_p = 0.9;
      const SaliencyPlan plan = compute_saliency_plan(small_model(), enc, {tokens(16, 3)});
      REQUIRE(!plan.empty());
      Transformer spiking(small_model(), ForwardMode::spiking, enc, plan);
      Transformer quantized(small_model(), ForwardMode::quantized, enc, plan);
      const MatrixRM s = spiking.forward_sequence(seq);
      const MatrixRM q = quantized.forward_sequence(seq);
      INFO("signed=" << is_signed << " kv_spiking=" << kv << " max diff " << (s - q).cwiseAbs().maxCoeff());
      CHECK((s - q).cwiseAbs().maxCoeff() <= 2e-3f * std::max(1.0f, q.cwiseAbs().maxCoeff()));
      // Top-1 agreement on every position.
      for (Eigen::Index r = 0; r < s.rows(); ++r) {
        Eigen::Index a = 0, b = 0;
        s.row(r).maxCoeff(&a);
        q.row(r).maxCoeff(&b);
        CHECK(a == b);
      }
    }
  }
}

TEST_CASE("8-bit spiking tracks the dense model", "[transformer]") {
  const auto seq = tokens(16);
  EncodingSpec enc;
  enc.bits = 8;
  Transformer spiking(small_model(), ForwardMode::spiking, enc);
  Transformer dense(small_model(), ForwardMode::dense, enc);
  const MatrixRM s = spiking.forward_sequence(seq);
  const MatrixRM d = dense.forward_sequence(seq);
  const double rel = static_cast<double>((s - d).norm() / d.norm());
  INFO("relative logit error " << rel);
  CHECK(rel < 0.05);
}

TEST_CASE("accounts: spikes, synaptic events and the dense equivalent", "[transformer]") {
  const auto seq = tokens(8);
  EncodingSpec enc;
  Transformer spiking(small_model(), ForwardMode::spiking, enc);
  (void)spiking.forward_sequence(seq);
  const auto accounts = spiking.accounts();
  const auto& c = small_model().config;
  std::uint64_t spikes = 0, dense_macs = 0;
  for (const auto& a : accounts) {
    spikes += a.run.spikes;
    dense_macs += a.dense_equivalent.dense[DenseOp::mac];
    if (a.name == "layer0.attn_in") {
      CHECK(a.run.synaptic_events == a.run.spikes * static_cast<std::uint64_t>(c.n_heads * c.head_dim + 2 * c.n_kv_heads * c.head_dim));
      CHECK(a.dense_equivalent.dense[DenseOp::mac] == 8u * static_cast<std::uint64_t>(c.dim) * (c.n_heads + 2 * c.n_kv_heads) * c.head_dim);
    }
  }
  CHECK(spikes > 0);
  std::uint64_t populations_spikes = 0;
  for (const auto* p : spiking.populations()) populations_spikes += p->totals().spikes;
  CHECK(populations_spikes == spikes);
  CHECK(dense_macs > 0);
}

TEST_CASE("spiking transformer is bit-identical with 1 and 2 threads", "[transformer][threads]") {
  GeneratedModelSpec spec;
  spec.dim = 128;
  spec.hidden_dim = 2304;  // wide enough for the delivery to split across threads
  spec.layers = 1;
  spec.vocab = 64;
  spec.max_seq_len = 16;
  const LlamaModel model = generate_model(spec);
  auto run = [&](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    Transformer t(model, ForwardMode::spiking, {});
    return t.forward_sequence(std::vector<int>{1, 5, 9, 13});
  };
  const MatrixRM a = run(1), b = run(2);
  CHECK(std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(float)) == 0);
}

TEST_CASE("the mapped graph validates and names every stage", "[transformer][graph]") {
  const auto& c = small_model().config;
  for (bool kv : {true, false}) {
    for (bool head : {false, true}) {
      const NetworkGraph g = map_transformer(c, {kv, head});
      CHECK_NOTHROW(g.validate());
      CHECK(g.contains("layer1.attn_in"));
      CHECK(g.contains("layer0.mlp_down"));
      CHECK(g.contains("layer1.k_enc") == kv);
      CHECK(g.contains("lm_head_in") == head);
    }
  }
}
