#!/usr/bin/python3
"""Read the spikes of a spikesim run file and draw a raster plot.

    read_spikes.py OUT.h5 [--population NAME] [--tokens A:B] [--out raster.png]

Checks that the file is a SONATA spike file (root attributes magic = 0x0A7A,
version = [0, 1]), says loudly when the run did not complete
(spikesim_complete = 0 or a ".partial" file), lists every population under
/spikes with its event count, and draws the raster of one population:
x = global step, y = node id (neuron index in the population), colour =
spike amplitude. Without --population it draws the population with the
most events. --tokens A:B keeps the spikes of tokens A .. B-1 (also A:, :B
or a single A), found through /spikesim/token_steps (the first global step
of each token), as `spikesim plot raster --tokens` does.

Needs only h5py, numpy and matplotlib (Debian: python3-h5py python3-numpy
python3-matplotlib). The layout is documented in docs/reference/hdf5-layout.md.
"""
import argparse
import sys

import h5py
import matplotlib

matplotlib.use("Agg")  # write a file; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SONATA_MAGIC = 0x0A7A
EXIT_DATA = 5  # spikesim's exit code for bad input data


def fail(message):
    print(f"read_spikes.py: {message}", file=sys.stderr)
    sys.exit(EXIT_DATA)


def sorting_label(group):
    """The SONATA `sorting` attribute: an enum (spec, libsonata) or a string (bmtk)."""
    if "sorting" not in group.attrs:
        return "unspecified"
    value = group.attrs["sorting"]
    mapping = h5py.check_enum_dtype(group.attrs.get_id("sorting").dtype)
    if mapping:
        return {v: k for k, v in mapping.items()}.get(int(value), str(value))
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_tokens(text, n_tokens):
    """'A:B', 'A:', ':B' or 'A' -> (first, end), checked against the run's tokens."""
    try:
        if ":" in text:
            a, b = text.split(":", 1)
            first = int(a) if a else 0
            end = int(b) if b else n_tokens
        else:
            first = int(text)
            end = first + 1
    except ValueError:
        fail(f"--tokens: expected A:B, A:, :B or A (token indices), got '{text}'")
    if not 0 <= first < end <= n_tokens:
        fail(f"--tokens {text}: the run has tokens 0 .. {n_tokens - 1}")
    return first, end


def text_attr(obj, name, default):
    value = obj.attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else str(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="run file written by spikesim (OUT.h5 or OUT.h5.partial)")
    parser.add_argument("--population", help="population to draw (default: the one with most events)")
    parser.add_argument("--tokens", help="token range A:B (tokens A .. B-1; also A:, :B or A)")
    parser.add_argument("--out", default="raster.png", help="image to write (default: raster.png)")
    args = parser.parse_args()

    try:
        h5 = h5py.File(args.file, "r")
    except OSError as e:
        fail(f"cannot read '{args.file}': {e}")

    with h5:
        magic = h5.attrs.get("magic")
        version = h5.attrs.get("version")
        if magic is None or int(magic) != SONATA_MAGIC:
            fail(f"'{args.file}' is not a SONATA file: root attribute magic is {magic!r}, expected 0x0A7A")
        if version is None or list(np.atleast_1d(version)) != [0, 1]:
            print(f"warning: SONATA version is {version!r}, this script knows [0, 1]", file=sys.stderr)
        complete = int(h5.attrs.get("spikesim_complete", 1)) == 1 and not args.file.endswith(".partial")
        if not complete:
            print("INCOMPLETE RUN: the simulation did not finish; only the spikes written before it stopped "
                  "are in this file.", file=sys.stderr)
        if "spikes" not in h5:
            fail(f"'{args.file}' has no /spikes group")

        spikes = h5["spikes"]
        populations = {name: g for name, g in spikes.items() if isinstance(g, h5py.Group)}
        if not populations:
            fail(f"'{args.file}' has no spike populations under /spikes")
        print(f"{args.file}: spikesim {text_attr(h5, 'spikesim_version', '?')}, "
              f"{len(populations)} spike population(s)")
        width = max(len(n) for n in populations)
        for name, g in populations.items():
            n = g["timestamps"].shape[0]
            steps = (f"steps {g['timestamps'][0]:g} .. {g['timestamps'][-1]:g}" if n else "no events")
            print(f"  {name:<{width}}  {n:>10} events  {steps}  (sorting: {sorting_label(g)})")

        name = args.population or max(populations, key=lambda p: populations[p]["timestamps"].shape[0])
        if name not in populations:
            fail(f"'{args.file}' has no spike population '{name}' (it has: {', '.join(populations)})")
        g = populations[name]
        timestamps = g["timestamps"][()]
        node_ids = g["node_ids"][()]
        # Plain SONATA files have no amplitudes: their spikes are binary.
        amplitudes = g["amplitudes"][()] if "amplitudes" in g else np.ones_like(node_ids, dtype=np.int32)
        units = text_attr(g["timestamps"], "units", "steps")
        token_note = ""
        if args.tokens:
            if "spikesim/token_steps" not in h5:
                fail(f"'{args.file}' has no /spikesim/token_steps: --tokens needs it")
            steps_of = h5["spikesim/token_steps"][()]  # token t: steps [steps_of[t], steps_of[t + 1])
            first, end = parse_tokens(args.tokens, len(steps_of) - 1)
            keep = (timestamps >= steps_of[first]) & (timestamps < steps_of[end])
            timestamps, node_ids, amplitudes = timestamps[keep], node_ids[keep], amplitudes[keep]
            token_note = f", tokens {first}..{end - 1}"

    if timestamps.size == 0:
        fail(f"population '{name}' has no events to draw{token_note}")

    fig, ax = plt.subplots(figsize=(10, 6), constrained_layout=True)
    if amplitudes.min() < 0:
        # Signed neurons: a diverging map centred on zero.
        limit = float(np.abs(amplitudes).max())
        cmap, vmin, vmax = "coolwarm", -limit, limit
    else:
        cmap, vmin, vmax = "viridis", float(amplitudes.min()), float(amplitudes.max())
    points = ax.scatter(timestamps, node_ids, c=amplitudes, cmap=cmap, vmin=vmin, vmax=vmax,
                        marker="s", s=6, linewidths=0, rasterized=True)
    ax.set_xlabel(f"time ({units})")
    ax.set_ylabel("node id (neuron index in the population)")
    status = "" if complete else "  [INCOMPLETE RUN]"
    ax.set_title(f"{name}: {timestamps.size} spikes{token_note}{status}")
    colour = fig.colorbar(points, ax=ax)
    colour.set_label("spike amplitude s (multiples of the threshold θ)")
    fig.savefig(args.out, dpi=150)
    print(f"raster of '{name}' ({timestamps.size} spikes{token_note}) written to {args.out}")


if __name__ == "__main__":
    main()
