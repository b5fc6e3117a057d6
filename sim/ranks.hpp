#pragma once
// The ranks this process runs among (docs/concepts/ranks.md). main() starts
// them before anything else and stops them last; the run asks world().
//
// Started by an MPI launcher (mpirun or srun: OMPI_COMM_WORLD_SIZE,
// PMI_SIZE or PMIX_RANK in the environment) in a build with
// -DSPIKESIM_WITH_MPI=ON, the ranks are MPI_COMM_WORLD's. Otherwise this
// process is the one rank and MPI is never initialised, so the MPI build
// behaves as the default one when started alone. A launcher that starts
// several copies of a build without MPI is refused: each would run the
// whole model and write the same file.
#include "sim/communicator.hpp"

namespace spikesim {

void start_ranks(int& argc, char**& argv);
void stop_ranks();
Communicator& world();
// "rank 1 of 4: " when there are several ranks, "" for one: the prefix of
// every error message, so that a failure names its rank.
std::string rank_prefix();
// Ends every rank with `code` (MPI_Abort) after this rank's message: a rank
// that fails must not leave the others waiting in a collective.
[[noreturn]] void abort_ranks(int code);

}  // namespace spikesim
