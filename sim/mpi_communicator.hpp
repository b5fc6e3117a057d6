#pragma once
// The communicator seam (sim/communicator.hpp) over MPI: MPI_COMM_WORLD,
// one rank per process, collectives called from the loop's thread only
// (MPI_THREAD_FUNNELED; TBB's workers never call MPI). Built only with
// -DSPIKESIM_WITH_MPI=ON; sim/ranks.hpp decides when it is used.
#include "sim/communicator.hpp"

namespace spikesim {

class MpiCommunicator final : public Communicator {
 public:
  // MPI must be initialised (sim/ranks.hpp).
  MpiCommunicator();
  [[nodiscard]] int rank() const override { return rank_; }
  [[nodiscard]] int size() const override { return size_; }
  [[nodiscard]] bool any(bool flag) override;
  [[nodiscard]] std::unique_ptr<Communicator> with_own_account() const override {
    return std::unique_ptr<Communicator>(new MpiCommunicator(rank_, size_));
  }

  // MPI's lifetime, for sim/ranks.cpp.
  static void initialize(int& argc, char**& argv);
  static void finalize();
  [[noreturn]] static void abort(int code);

 protected:
  void allgather(std::span<const std::byte> local, std::vector<std::uint64_t>& counts,
                 std::vector<std::byte>& all) override;
  void allgather_in_place(std::span<std::byte> data, std::span<const std::uint64_t> offsets) override;

 private:
  MpiCommunicator(int rank, int size);
  int rank_ = 0, size_ = 1;
  std::vector<int> counts_, displacements_;
};

}  // namespace spikesim
