#include "neurons/encoding.hpp"

#include "core/error.hpp"

namespace spikesim {

ForwardMode parse_forward_mode(std::string_view name) {
  if (name == "dense") return ForwardMode::dense;
  if (name == "quantized") return ForwardMode::quantized;
  if (name == "spiking") return ForwardMode::spiking;
  throw Error(ExitCode::config, fmt::format("mode: unknown mode '{}' (expected dense, quantized or spiking)", name));
}

std::string_view forward_mode_name(ForwardMode m) {
  switch (m) {
    case ForwardMode::dense: return "dense";
    case ForwardMode::quantized: return "quantized";
    case ForwardMode::spiking: return "spiking";
  }
  return "?";
}

}  // namespace spikesim
