// Ranks without MPI: the partition rule (core/partition.hpp), a rank's rows
// of a weight tensor, a population split across ranks that follows the
// others' spikes, and the communication account (sim/communicator.hpp).
// The runs under mpirun are in tests/integration/test_ranks_mpi.cpp.
#include <catch2/catch.hpp>

#include <string>

#include "core/error.hpp"
#include "core/partition.hpp"
#include "core/random.hpp"
#include "core/weights/ternary_quantizer.hpp"
#include "core/weights/weight_quantizer.hpp"
#include "core/weights/weight_tensor.hpp"
#include "neurons/gif_population.hpp"
#include "neurons/saliency.hpp"
#include "sim/communicator.hpp"
#include "tests/support/random_matrix.hpp"

using namespace spikesim;

using test::random_matrix;

TEST_CASE("ranks: every row belongs to exactly one rank, in rank order, in blocks of 64 when there are enough",
          "[ranks]") {
  for (const std::size_t n : {1u, 7u, 64u, 100u, 320u, 4096u, 11008u, 32000u})
    for (const int R : {1, 2, 3, 4, 8}) {
      INFO(n << " rows on " << R << " ranks");
      std::size_t next = 0, largest = 0, smallest = n;
      for (int r = 0; r < R; ++r) {
        const RowSlice s = rank_rows(n, R, r);
        REQUIRE(s.begin == next);  // contiguous and in rank order
        REQUIRE(s.end >= s.begin);
        next = s.end;
        largest = std::max(largest, s.size());
        smallest = std::min(smallest, s.size());
        if ((n + kRowBlock - 1) / kRowBlock >= static_cast<std::size_t>(R) && r + 1 < R)
          CHECK(s.end % kRowBlock == 0);  // an int4 block never straddles two ranks
      }
      CHECK(next == n);
      // As even as whole blocks (or rows) allow.
      const std::size_t unit = (n + kRowBlock - 1) / kRowBlock >= static_cast<std::size_t>(R) ? kRowBlock : 1;
      CHECK(largest - smallest <= unit);
    }
  CHECK(rank_rows(4096, 2, 1) == RowSlice{2048, 4096});
  CHECK(rank_rows(320, 4, 3) == RowSlice{192, 320});  // 5 blocks: 1, 1, 1, 2
}

TEST_CASE("ranks: a rank's rows of a weight tensor are the whole's rows, and it knows the whole", "[ranks][weights]") {
  const MatrixRM w = random_matrix(150, 70, 3);
  std::vector<WeightTensor> whole;
  for (const WeightType type : {WeightType::f32, WeightType::bf16})
    for (const WeightOrder order : {WeightOrder::by_input, WeightOrder::by_output})
      whole.push_back(WeightTensor::from_f32(w, type, order));
  for (const int bits : {4, 8})
    for (const bool sym : {false, true})
      for (const WeightOrder order : {WeightOrder::by_input, WeightOrder::by_output}) {
        const QuantizedWeights q = quantize_rtn(w, {bits, 32, sym});
        whole.push_back(WeightTensor::from_integer({q.rows, q.cols, q.bits, q.group, q.codes, q.scales, q.zeros}, order));
      }
  for (const WeightTensor& t : whole)
    for (const int R : {2, 3}) {
      INFO(t.format() << (t.order() == WeightOrder::by_input ? " by input" : " by output") << ", " << R << " ranks");
      const MatrixRM all = t.to_f32();
      std::uint64_t zeros = 0;
      for (int r = 0; r < R; ++r) {
        const RowSlice rows = rank_rows(t.rows(), R, r);
        const WeightTensor part = t.output_rows(rows, "w");
        REQUIRE(part.rows() == rows.size());
        CHECK(part.cols() == t.cols());
        CHECK(part.type() == t.type());
        CHECK(part.order() == t.order());
        CHECK(part.format() == t.format());
        CHECK(part.full_rows() == t.rows());
        CHECK(part.row_slice() == rows);
        CHECK(part.is_slice());
        // What an event or a matvec fetches from all ranks is the whole's.
        CHECK(part.full_line_bytes() == t.line_bytes());
        CHECK(part.full_stored_bytes() == t.stored_bytes());
        CHECK(part.to_f32() == all.middleRows(static_cast<Eigen::Index>(rows.begin), static_cast<Eigen::Index>(rows.size())));
        // Reordering keeps the slice (a spiked lm_head is reordered by input).
        const WeightTensor other = part.reordered(t.order() == WeightOrder::by_input ? WeightOrder::by_output
                                                                                    : WeightOrder::by_input);
        CHECK(other.row_slice() == rows);
        CHECK(other.full_rows() == t.rows());
        zeros += part.count_zeros();
      }
      CHECK(zeros == t.count_zeros());
    }
  CHECK_FALSE(whole.front().is_slice());
  CHECK(whole.front().full_rows() == 150);
}

TEST_CASE("ranks: ternary weights are refused by name, not cut wrongly", "[ranks][weights]") {
  const MatrixRM w = random_matrix(64, 32, 4);
  const TernaryResult q = quantize_ternary(w, nullptr, {1.0, 2, 0, ColumnSaliency::none, false});
  const WeightTensor t = WeightTensor::from_ternary(q.view());
  try {
    (void)t.output_rows({0, 32}, "layer0.wq");
    FAIL("a ternary tensor was cut");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::config);
    CHECK_THAT(e.what(), Catch::Contains("layer0.wq") && Catch::Contains("ternary"));
  }
}

TEST_CASE("ranks: a population split across ranks, following the others' spikes, equals the whole one",
          "[ranks][gif]") {
  const std::size_t n = 200;
  std::vector<bool> salient(n, false);
  for (std::size_t i = 0; i < n; i += 7) salient[i] = true;
  for (const bool is_signed : {false, true}) {
    INFO((is_signed ? "signed" : "unsigned"));
    const GifGrid grid = salient_grid(salient, 3, 2, is_signed);
    GifPopulation whole("enc", 5, grid);
    std::vector<GifPopulation> ranks;
    const int R = 3;
    for (int r = 0; r < R; ++r) {
      ranks.emplace_back("enc", 5, grid);
      ranks.back().set_owned(rank_rows(n, R, r));
    }
    Rng rng(11);
    for (int token = 0; token < 3; ++token) {
      std::vector<float> x(n);
      for (float& v : x) v = static_cast<float>(rng.normal());
      whole.inject(x);
      for (GifPopulation& p : ranks) p.inject(x);
      for (unsigned t = 1; t <= whole.max_steps(); ++t) {
        std::vector<SpikeEvent> want, all;
        whole.step(t, 10 * token + t, want);
        for (GifPopulation& p : ranks) {  // the exchange: rank order
          std::vector<SpikeEvent> mine;
          p.step(t, 10 * token + t, mine);
          for (const SpikeEvent& e : mine) REQUIRE(p.owned().contains(e.neuron));
          all.insert(all.end(), mine.begin(), mine.end());
        }
        REQUIRE(all == want);  // neuron order, as one rank emits them
        for (GifPopulation& p : ranks) {
          p.absorb(t, all);
          REQUIRE(std::equal(p.membrane().begin(), p.membrane().end(), whole.membrane().begin()));
        }
      }
    }
    for (const GifPopulation& p : ranks) {
      CHECK(p.counters().membrane_updates == whole.counters().membrane_updates);
      CHECK(p.counters().spikes == whole.counters().spikes);
      CHECK(p.counters().amplitude_sum == whole.counters().amplitude_sum);
      CHECK(p.counters().shift_adds == whole.counters().shift_adds);
      CHECK(p.totals().spikes == whole.totals().spikes);
      CHECK(p.totals().membrane_updates == whole.totals().membrane_updates);
      CHECK(p.totals().amplitude_sum == whole.totals().amplitude_sum);
    }
  }
}

TEST_CASE("ranks: one rank exchanges nothing and counts no traffic", "[ranks]") {
  LocalCommunicator one;
  const std::vector<SpikeEvent> local{{7, 2, 3, 5}, {7, 2, 9, -1}};
  std::vector<SpikeEvent> all;
  one.exchange_spikes("layer0.attn_in", 7, 2, local, all);
  CHECK(all == local);
  std::vector<float> y{1, 2, 3};
  const std::vector<RowSlice> slices{{0, 3}};
  one.exchange_values("layer0.attn_in", y, slices);
  CHECK(y == std::vector<float>{1, 2, 3});
  CHECK(one.account().total().bytes == 0);
  CHECK(one.any(true));
  CHECK_FALSE(one.any(false));
}

TEST_CASE("ranks: the traffic account and its energy on the mesh", "[ranks][energy]") {
  CommAccount a(4);  // a 2 x 2 mesh: rank 0 (0,0), 1 (1,0), 2 (0,1), 3 (1,1)
  a.add("layer0.attn_in", 0, 1, {1, 10, 0, 80});
  a.add("layer0.attn_in", 0, 3, {1, 10, 0, 80});
  a.add("layer0.mlp_in", 2, 0, {1, 0, 5, 20});
  a.add("layer0.attn_in", 0, 1, {1, 2, 0, 16});
  REQUIRE(a.stages() == std::vector<std::string>{"layer0.attn_in", "layer0.mlp_in"});
  CHECK(a.at(0, 0, 1).spikes == 12);
  CHECK(a.at(0, 0, 1).messages == 2);
  CHECK(a.stage_total(0).bytes == 176);
  CHECK(a.pair_total(2, 0).values == 5);
  CHECK(a.total().bytes == 196);
  // 0 -> 1: 12 spikes x 1 east-west hop; 0 -> 3: 10 x (1 EW + 1 NS); 2 -> 0: 5 values x 1 NS hop.
  const MeshHopCosts loihi;
  CHECK(communication_energy_pj(a, loihi) == Approx(12 * 3.0 + 10 * (3.0 + 4.2) + 5 * 4.2));
  CHECK(communication_energy_pj(a, {0.0, 0.0}) == 0.0);
}
