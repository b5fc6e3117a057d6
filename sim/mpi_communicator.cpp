#include "sim/mpi_communicator.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <climits>
#include <cstdlib>

#include "core/error.hpp"

namespace spikesim {
namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw Error(ExitCode::failure, fmt::format("MPI: {} failed: {}", what, std::string(text, static_cast<std::size_t>(length))));
}

int world_rank() {
  int r = 0;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &r), "MPI_Comm_rank");
  return r;
}

int world_size() {
  int n = 1;
  check(MPI_Comm_size(MPI_COMM_WORLD, &n), "MPI_Comm_size");
  return n;
}

// MPI counts and displacements are ints: one exchange stays under 2 GiB.
int as_count(std::uint64_t bytes, const char* what) {
  if (bytes > static_cast<std::uint64_t>(INT_MAX))
    throw Error(ExitCode::resource, fmt::format("MPI: {} of {} bytes exceeds one message's 2 GiB", what, bytes));
  return static_cast<int>(bytes);
}

}  // namespace

MpiCommunicator::MpiCommunicator() : MpiCommunicator(world_rank(), world_size()) {}

MpiCommunicator::MpiCommunicator(int rank, int size) : Communicator(size), rank_(rank), size_(size) {}

bool MpiCommunicator::any(bool flag) {
  int mine = flag ? 1 : 0, result = 0;
  check(MPI_Allreduce(&mine, &result, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD), "MPI_Allreduce");
  return result != 0;
}

void MpiCommunicator::allgather(std::span<const std::byte> local, std::vector<std::uint64_t>& counts,
                                std::vector<std::byte>& all) {
  const auto n = static_cast<std::size_t>(size_);
  counts.resize(n);
  const std::uint64_t mine = local.size();
  check(MPI_Allgather(&mine, 1, MPI_UINT64_T, counts.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD), "MPI_Allgather");
  counts_.resize(n);
  displacements_.resize(n);
  std::uint64_t total = 0;
  for (std::size_t r = 0; r < n; ++r) {
    displacements_[r] = as_count(total, "a spike exchange");
    counts_[r] = as_count(counts[r], "a spike exchange");
    total += counts[r];
  }
  all.resize(total);
  check(MPI_Allgatherv(local.data(), as_count(mine, "a spike exchange"), MPI_BYTE, all.data(), counts_.data(),
                       displacements_.data(), MPI_BYTE, MPI_COMM_WORLD),
        "MPI_Allgatherv");
}

void MpiCommunicator::allgather_in_place(std::span<std::byte> data, std::span<const std::uint64_t> offsets) {
  const auto n = static_cast<std::size_t>(size_);
  counts_.resize(n);
  displacements_.resize(n);
  for (std::size_t r = 0; r < n; ++r) {
    displacements_[r] = as_count(offsets[r], "an output exchange");
    counts_[r] = as_count(offsets[r + 1] - offsets[r], "an output exchange");
  }
  check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data.data(), counts_.data(), displacements_.data(),
                       MPI_BYTE, MPI_COMM_WORLD),
        "MPI_Allgatherv");
}

void MpiCommunicator::initialize(int& argc, char**& argv) {
  int provided = 0;
  check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as codes (and become spikesim errors) instead of
  // aborting inside MPI without a word of which rank or why.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

void MpiCommunicator::finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiCommunicator::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; if it did, still end this rank
}

}  // namespace spikesim
