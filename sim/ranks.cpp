#include "sim/ranks.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "core/error.hpp"
#ifdef SPIKESIM_WITH_MPI
#include "sim/mpi_communicator.hpp"
#endif

namespace spikesim {
namespace {

std::unique_ptr<Communicator> g_world;
bool g_mpi = false;

// The rank count a launcher announced, 0 when none did.
long launcher_size() {
  for (const char* key : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(key)) return std::strtol(v, nullptr, 10);
  if (std::getenv("PMIX_RANK") != nullptr) return -1;  // PMIx: the size is MPI's to tell
  return 0;
}

}  // namespace

void start_ranks(int& argc, char**& argv) {
  const long announced = launcher_size();
#ifdef SPIKESIM_WITH_MPI
  if (announced != 0) {
    MpiCommunicator::initialize(argc, argv);
    g_mpi = true;
    g_world = std::make_unique<MpiCommunicator>();
    return;
  }
#else
  (void)argc, (void)argv;
  if (announced > 1)
    throw Error(ExitCode::usage,
                fmt::format("this spikesim was built without MPI, but a launcher started {} copies of it; build with "
                            "-DSPIKESIM_WITH_MPI=ON (./scripts/install.sh --mpi) or start one process",
                            announced));
#endif
  g_world = std::make_unique<LocalCommunicator>();
}

void stop_ranks() {
#ifdef SPIKESIM_WITH_MPI
  if (g_mpi) MpiCommunicator::finalize();
#endif
  g_mpi = false;
}

Communicator& world() {
  if (!g_world) g_world = std::make_unique<LocalCommunicator>();  // tests and tools that never call start_ranks
  return *g_world;
}

std::string rank_prefix() {
  const Communicator& w = world();
  return w.size() > 1 ? fmt::format("rank {} of {}: ", w.rank(), w.size()) : std::string();
}

void abort_ranks(int code) {
#ifdef SPIKESIM_WITH_MPI
  if (g_mpi) MpiCommunicator::abort(code);
#endif
  std::exit(code);
}

}  // namespace spikesim
