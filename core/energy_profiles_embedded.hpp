#pragma once
// The shipped energy profiles' text (core/energy_profiles/*.toml), embedded
// into the binary by core/CMakeLists.txt so that spikesim finds them from
// any directory. Read them through core/energy_model.hpp.
#include <span>
#include <string_view>

namespace spikesim {

struct EmbeddedEnergyProfile {
  std::string_view name;  // the file's stem: the name energy.profile takes
  std::string_view text;  // the file's TOML
};

// In the order core/CMakeLists.txt lists them (generated file).
std::span<const EmbeddedEnergyProfile> embedded_energy_profiles();

}  // namespace spikesim
