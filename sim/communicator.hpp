#pragma once
// The one seam through which ranks exchange data (as Arbor's communicator
// is): the simulator loop (sim/simulator.hpp) calls it at two fixed points
// of every split linear stage, and the run driver once per token.
//
//   spikes   after each step of an encoder whose neurons are split across
//            ranks: every rank passes the spikes its own neurons emitted
//            at that step, in neuron order, and receives every rank's,
//            concatenated in rank order. Ranks own contiguous neuron
//            slices in rank order (core/partition.hpp), so the result is
//            the population's spikes in neuron order: the order one rank
//            emits them in, on every rank.
//   values   after read-out: rank r computed rows slices[r] of an output
//            vector every rank needs whole; on return every rank holds it.
//            Values are copied, never summed, so they are bit for bit the
//            values one rank computes.
//   any      once per token: whether any rank saw SIGINT/SIGTERM, so that
//            all stop at the same token.
//
// Each exchange is counted in account(): per stage, per rank pair (source,
// destination), the messages, spikes, values and bytes on the wire. Every
// rank receives every count, so every rank holds the whole account.
// Spikes travel as 8 bytes (neuron, amplitude): step and population are
// the exchange's own. The transport is a subclass's: LocalCommunicator for
// one rank (the default build), MpiCommunicator (sim/mpi_communicator.hpp)
// with -DSPIKESIM_WITH_MPI=ON.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/event.hpp"
#include "core/partition.hpp"

namespace spikesim {

// What crossed from one rank to another.
struct CommTraffic {
  std::uint64_t messages = 0;
  std::uint64_t spikes = 0;
  std::uint64_t values = 0;  // 32-bit output values
  std::uint64_t bytes = 0;
  CommTraffic& operator+=(const CommTraffic& o);
};

// Traffic per stage and rank pair, stages in the order they first exchanged.
class CommAccount {
 public:
  explicit CommAccount(int ranks = 1) : ranks_(ranks) {}
  [[nodiscard]] int ranks() const { return ranks_; }
  [[nodiscard]] const std::vector<std::string>& stages() const { return stages_; }
  // Traffic of stage s from rank `from` to rank `to`.
  [[nodiscard]] const CommTraffic& at(std::size_t s, int from, int to) const;
  [[nodiscard]] CommTraffic stage_total(std::size_t s) const;
  [[nodiscard]] CommTraffic pair_total(int from, int to) const;
  [[nodiscard]] CommTraffic total() const;
  void add(const std::string& stage, int from, int to, const CommTraffic& t);

 private:
  int ranks_;
  std::vector<std::string> stages_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::vector<std::vector<CommTraffic>> traffic_;  // [stage][from * ranks + to]
};

// Energy of the traffic on a 2-D mesh of chips, as neuromorphic systems
// route spikes (Loihi's figures by default, from SANA-FE's arch/loihi.yaml):
// ranks sit row by row on a ceil(sqrt(R))-wide grid, and each spike or
// 32-bit value is one packet that pays per hop east-west or north-south.
struct MeshHopCosts {
  double east_west_pj = 3.0;
  double north_south_pj = 4.2;
};
double communication_energy_pj(const CommAccount& account, const MeshHopCosts& costs);

class Communicator {
 public:
  virtual ~Communicator() = default;
  [[nodiscard]] virtual int rank() const = 0;
  [[nodiscard]] virtual int size() const = 0;

  // See the header comment. `local` holds this rank's spikes of `step` of
  // population `population`.
  void exchange_spikes(const std::string& stage, Step step, PopulationId population,
                       std::span<const SpikeEvent> local, std::vector<SpikeEvent>& all);
  void exchange_values(const std::string& stage, std::span<float> values, std::span<const RowSlice> slices);
  [[nodiscard]] virtual bool any(bool flag) = 0;
  // Every rank's `value`, in rank order (bookkeeping such as peak memory:
  // not counted as traffic).
  [[nodiscard]] std::vector<std::uint64_t> gather_all(std::uint64_t value);

  [[nodiscard]] const CommAccount& account() const { return account_; }
  // The same ranks with an account of their own (the dense reference's
  // traffic is not the run's).
  [[nodiscard]] virtual std::unique_ptr<Communicator> with_own_account() const = 0;

 protected:
  explicit Communicator(int ranks) : account_(ranks) {}
  // Transport: every rank's `local` bytes, in rank order, with each rank's
  // byte count.
  virtual void allgather(std::span<const std::byte> local, std::vector<std::uint64_t>& counts,
                         std::vector<std::byte>& all) = 0;
  // Rank r's bytes [offsets[r], offsets[r + 1]) of `data` to every rank.
  virtual void allgather_in_place(std::span<std::byte> data, std::span<const std::uint64_t> offsets) = 0;

 private:
  CommAccount account_;
  std::vector<std::byte> wire_, received_;
  std::vector<std::uint64_t> counts_;
};

// One rank: nothing crosses.
class LocalCommunicator final : public Communicator {
 public:
  LocalCommunicator() : Communicator(1) {}
  [[nodiscard]] int rank() const override { return 0; }
  [[nodiscard]] int size() const override { return 1; }
  [[nodiscard]] bool any(bool flag) override { return flag; }
  [[nodiscard]] std::unique_ptr<Communicator> with_own_account() const override {
    return std::make_unique<LocalCommunicator>();
  }

 protected:
  void allgather(std::span<const std::byte> local, std::vector<std::uint64_t>& counts,
                 std::vector<std::byte>& all) override;
  void allgather_in_place(std::span<std::byte>, std::span<const std::uint64_t>) override {}
};

}  // namespace spikesim
