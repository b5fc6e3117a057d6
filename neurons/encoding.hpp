#pragma once
// How activations are encoded (not at all, on the GIF grid, or as GIF spike
// trains) and the encoding settings the quantized and spiking modes share.
#include <string_view>

#include "neurons/saliency.hpp"

namespace spikesim {

enum class ForwardMode {
  dense,      // fp32 Eigen
  quantized,  // fp32 Eigen on activations quantized on the GIF grid (the reference the spiking run must equal)
  spiking,    // event-driven GIF simulation
};

ForwardMode parse_forward_mode(std::string_view name);  // Error(config) on an unknown name
std::string_view forward_mode_name(ForwardMode m);

struct EncodingSpec {
  unsigned bits = 4;          // A = 2^bits - 1
  bool is_signed = false;
  unsigned addbit = 1;        // salient channels: T = 2^addbit
  double low_p = 0.9;         // fraction of non-salient channels
  SaliencyMethod saliency = SaliencyMethod::hessian;
  bool kv_spiking = true;     // GIF-encode K and V (per position and KV head)
  bool spike_lm_head = false; // SpikeLLM keeps the lm_head dense
  bool group_ranges = false;  // each θ group takes its range from its own channels (GridRange)
  bool operator==(const EncodingSpec&) const = default;
};

}  // namespace spikesim
