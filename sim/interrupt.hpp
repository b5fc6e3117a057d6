#pragma once
// SIGINT and SIGTERM during a run: stop cleanly, never half-write a file.
//
// install_interrupt_handlers() (called by `spikesim run` and `spikesim eval`
// when they start; the other subcommands keep the default action, so Ctrl-C
// ends them at once) makes the two signals set a flag and nothing else: the handler is async-signal-safe
// and the run keeps going until its next check point. The loops of
// sim/run_driver.cpp and sim/evaluation.cpp call throw_if_interrupted() once
// per token position; it throws Error(ExitCode::interrupted), which unwinds
// through the HDF5 recorder (io/runfile/recorder.hpp). The recorder, destroyed
// without finalize(), leaves only "<out>.partial" with the root attribute
// spikesim_complete = 0, and `spikesim info` reports it as INCOMPLETE. main
// prints one "spikesim: error: interrupted by SIGINT ..." line and exits 130.
//
// A second signal while the first is being handled (the run is stuck, or
// the user insists) restores the default action and re-raises it: the
// process then ends at once, still leaving only the ".partial" name behind.
#include <optional>
#include <string>

#include "core/error.hpp"

namespace spikesim {

// Installs the SIGINT/SIGTERM handlers (idempotent).
void install_interrupt_handlers();

// The signal that arrived (SIGINT or SIGTERM), 0 when none.
[[nodiscard]] int pending_interrupt();

// Throws Error(ExitCode::interrupted, "interrupted by SIGINT <where>") when a
// signal arrived. `where` says where the run stopped and what it left, e.g.
// "at token 5 of 200; the incomplete output is 'run.h5.partial'".
void throw_if_interrupted(const std::string& where = {});
// The same error, returned instead of thrown, for a loop that stops and
// still writes what it did (an interrupted run's partial summary).
[[nodiscard]] std::optional<Error> pending_interruption(const std::string& where = {});

// Forgets a pending signal (tests that drive the library in-process).
void clear_interrupt();

}  // namespace spikesim
