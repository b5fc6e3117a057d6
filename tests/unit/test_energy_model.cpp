#include <catch2/catch.hpp>

#include "core/energy_model.hpp"
#include "core/error.hpp"

using namespace spikesim;

TEST_CASE("45nm preset carries Horowitz's figures", "[energy]") {
  const auto fp32 = EnergyModel::preset_named("45nm");
  CHECK(fp32.ac_pj == Approx(0.9));
  CHECK(fp32.mac_pj == Approx(4.6));
  const auto int8 = EnergyModel::preset_named("45nm", Precision::int8);
  CHECK(int8.add_pj == Approx(0.03));
  CHECK(int8.mul_pj == Approx(0.2));
  const auto int32 = EnergyModel::preset_named("45nm", Precision::int32);
  CHECK(int32.mac_pj == Approx(3.2));
  CHECK_THROWS_AS(EnergyModel::preset_named("7nm"), Error);
}

TEST_CASE("both synaptic conventions and the dense equivalent", "[energy]") {
  const auto m = EnergyModel::preset_named("45nm", Precision::fp32, MemoryLevel::sram);
  OpCounts c;
  c.amplitude_acs = 100;
  c.shift_add_acs = 40;
  c.effective_acs = 10;
  c.effective_macs = 20;
  c.weight_bytes = 80;
  c.dense.add(DenseOp::mac, 5);
  c.dense.add(DenseOp::exp, 2);
  const auto amp = spiking_energy(m, c);
  CHECK(amp.synaptic_pj == Approx(90.0));
  CHECK(amp.dense_pj == Approx(5 * 4.6 + 2 * 3.7));
  CHECK(amp.memory_pj == Approx(100.0));
  CHECK(spiking_energy(m, c, AcConvention::shift_add).synaptic_pj == Approx(36.0));
  CHECK(neurobench_energy(m, c).synaptic_pj == Approx(10 * 0.9 + 20 * 4.6));
  OpCounts dense;
  dense.dense.add(DenseOp::mac, 1000);
  CHECK(dense_energy(m, dense).total_pj() == Approx(4600.0));
  const auto loihi = EnergyModel::preset_named("loihi");
  c.synaptic_events = 10;
  c.membrane_updates = 3;
  c.spikes = 2;
  const auto e = spiking_energy(loihi, c);
  CHECK(e.synaptic_pj == Approx(236.0));
  // Davies et al. 2018, Table 2: an update that fires is active (81 pJ), the
  // other one inactive (52 pJ); each spike also travels in its tile (1.7 pJ).
  CHECK(e.neuron_pj == Approx(1 * 52.0 + 2 * 81.0 + 2 * 1.7));
  CHECK(neurobench_energy(loihi, c).neuron_pj == e.neuron_pj);
  CHECK(spiking_energy(m, c).neuron_pj == 0.0);  // 45nm: the neuron side is not priced
}

TEST_CASE("shift-add cost is ceil(log2(|s|+1))", "[energy]") {
  CHECK(shift_add_cost(0) == 0);
  CHECK(shift_add_cost(1) == 1);
  CHECK(shift_add_cost(2) == 2);
  CHECK(shift_add_cost(3) == 2);
  CHECK(shift_add_cost(4) == 3);
  CHECK(shift_add_cost(15) == 4);
}
