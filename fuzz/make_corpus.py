#!/usr/bin/python3
"""Writes the seed corpora and dictionaries of the fuzz harnesses.

    /usr/bin/python3 fuzz/make_corpus.py      # from the repository root

Output (checked in; rerun after changing a format or the config schema):
    fuzz/corpus/fuzz_safetensors/   small .safetensors images, valid and not
    fuzz/corpus/fuzz_llama2c/       tiny llama2.c checkpoints, valid and not
    fuzz/corpus/fuzz_hf_config/     config.json files (transformers v4 and v5 styles)
    fuzz/corpus/fuzz_toml_config/   run configs; after a NUL byte, --set overrides
    fuzz/dict/json.dict             JSON tokens and the keys our readers look for
    fuzz/dict/toml.dict             TOML tokens, the sections, keys and choices of
                                    io/config/config_schema.cpp

Every seed is deterministic and at most a few KiB (libFuzzer's default
-max_len is 4096 or the largest seed). Standard library only.
"""
import json
import math
import pathlib
import re
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"


def write_corpus(harness, seeds):
    # Files this script did not write (regress_* inputs of fixed crashes,
    # docs/fuzzing.md) are left alone.
    folder = FUZZ / "corpus" / harness
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        (folder / name).write_bytes(data)
    print(f"{folder.relative_to(ROOT)}: {len(seeds)} seeds, largest {max(len(d) for d in seeds.values())} bytes")


# ---- safetensors --------------------------------------------------------------

def f32(values):
    return struct.pack(f"<{len(values)}f", *values)


def f16(values):
    return struct.pack(f"<{len(values)}e", *values)


def bf16(values):
    return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)


def safetensors(tensors, metadata=None, entries=None, data_extra=b""):
    """tensors: (name, dtype, shape, raw bytes), laid out back to back.
    `entries` overrides header entries by name (to write broken tables)."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    for name, entry in (entries or {}).items():
        header[name] = entry
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # writers pad the header to 8 bytes with spaces
    return struct.pack("<Q", len(text)) + text + data + data_extra


def safetensors_seeds():
    ramp = [0.25 * i - 1.0 for i in range(6)]
    dim, vocab, hidden = 4, 6, 8
    llama = [("model.embed_tokens.weight", "BF16", [vocab, dim], bf16([0.01 * i for i in range(vocab * dim)])),
             ("model.layers.0.input_layernorm.weight", "BF16", [dim], bf16([1.0] * dim)),
             ("model.layers.0.self_attn.q_proj.weight", "F16", [dim, dim], f16([0.1] * dim * dim)),
             ("model.layers.0.mlp.up_proj.weight", "F32", [hidden, dim], f32([0.5] * hidden * dim)),
             ("model.norm.weight", "F32", [dim], f32([1.0] * dim))]
    two = [("a", "F32", [2, 3], f32(ramp)), ("b", "F32", [3], f32(ramp[:3]))]
    return {
        "f32_two_tensors.safetensors": safetensors(two, metadata={"format": "pt"}),
        "float_dtypes.safetensors": safetensors([
            ("half", "F16", [4], f16([0.0, -1.5, 65504.0, 6.0e-8])),
            ("brain", "BF16", [2, 2], bf16([1.0, -2.0, 3.0e38, 1.0e-38])),
            ("double", "F64", [1], struct.pack("<d", math.pi))]),
        "int_dtypes.safetensors": safetensors([
            ("i8", "I8", [3], bytes([1, 0x80, 0x7f])), ("u8", "U8", [2], bytes([0, 255])),
            ("flag", "BOOL", [1], bytes([1])), ("i64", "I64", [1], struct.pack("<q", -1)),
            ("fp8", "F8_E4M3", [2], bytes([0x38, 0xb8])), ("u16", "U16", [1], struct.pack("<H", 7))]),
        "scalar_and_empty.safetensors": safetensors([
            ("scalar", "F32", [], f32([42.0])), ("empty", "F32", [0, 4], b""), ("after", "F16", [1], f16([1.0]))]),
        "llama_names.safetensors": safetensors(llama, metadata={"format": "pt", "note": "spikesim seed"}),
        "metadata_only.safetensors": safetensors([], metadata={"format": "pt"}),
        "bad_overlap.safetensors": safetensors(two, entries={
            "b": {"dtype": "F32", "shape": [3], "data_offsets": [12, 24]}}),
        "bad_truncated.safetensors": safetensors(two)[:-4],
        "bad_shape_mismatch.safetensors": safetensors(two, entries={
            "b": {"dtype": "F32", "shape": [4], "data_offsets": [24, 36]}}),
        "bad_dtype.safetensors": safetensors(two, entries={
            "b": {"dtype": "Q4_K", "shape": [3], "data_offsets": [24, 36]}}),
        "bad_header_length.safetensors": struct.pack("<Q", 1 << 40) + b"{}",
        "bad_json.safetensors": struct.pack("<Q", 16) + b'{"a":{"dtype":"F' + f32([1.0]),
    }


# ---- llama2.c ------------------------------------------------------------------

def llama2c(dim, hidden, layers, heads, kv_heads, vocab, seq_len, scale=0.01, poison=None):
    """A run.c v0 checkpoint; vocab < 0 writes a separate classifier.
    `poison` = (index, value) overwrites one float of the arrays."""
    head_dim = dim // heads
    kv_dim = kv_heads * head_dim
    v = abs(vocab)
    counts = [v * dim, layers * dim, layers * dim * dim, layers * kv_dim * dim, layers * kv_dim * dim,
              layers * dim * dim, layers * dim, layers * hidden * dim, layers * dim * hidden,
              layers * hidden * dim, dim, seq_len * head_dim // 2, seq_len * head_dim // 2]
    if vocab < 0:
        counts.append(v * dim)
    values = [scale * ((i * 7) % 23 - 11) for i in range(sum(counts))]
    if poison is not None:
        values[poison[0]] = poison[1]
    return struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq_len) + f32(values)


def llama2c_seeds():
    tiny = llama2c(4, 8, 1, 2, 2, 8, 4)
    return {
        "tiny_shared.bin": tiny,
        "tiny_gqa_classifier.bin": llama2c(8, 8, 1, 4, 2, -4, 2),
        "two_layers_mqa.bin": llama2c(4, 4, 2, 2, 1, 3, 2),
        "nan_weight.bin": llama2c(4, 8, 1, 2, 2, 8, 4, poison=(5, float("nan"))),
        "inf_weight.bin": llama2c(4, 8, 1, 2, 2, 8, 4, poison=(40, float("inf"))),
        "header_only.bin": tiny[:28],
        "short_header.bin": tiny[:20],
        "one_float_long.bin": tiny + f32([0.0]),
        "wrong_vocab_sign.bin": llama2c(4, 8, 1, 2, 2, -8, 4)[:-4 * 8 * 4],
        "odd_head_dim.bin": struct.pack("<7i", 6, 8, 1, 2, 2, 8, 4),
        "huge_dims.bin": struct.pack("<7i", 1 << 20, 1 << 20, 1 << 20, 1, 1, -(1 << 20), 1 << 20),
        "int_min_vocab.bin": struct.pack("<7i", 4, 8, 1, 2, 2, -(1 << 31), 4),
    }


# ---- config.json ----------------------------------------------------------------

def hf_config_seeds():
    v5 = {"architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
          "bos_token_id": 1, "dtype": "float32", "eos_token_id": 2, "head_dim": 32, "hidden_act": "silu",
          "hidden_size": 128, "initializer_range": 0.02, "intermediate_size": 384,
          "max_position_embeddings": 512, "mlp_bias": False, "model_type": "llama",
          "num_attention_heads": 4, "num_hidden_layers": 4, "num_key_value_heads": 2, "pad_token_id": None,
          "pretraining_tp": 1, "rms_norm_eps": 1e-05,
          "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"},
          "tie_word_embeddings": False, "transformers_version": "5.17.0", "use_cache": True,
          "vocab_size": 512}
    v4 = {"architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": [2, 32000],
          "hidden_act": "silu", "hidden_size": 2048, "intermediate_size": 5632,
          "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": 32,
          "num_hidden_layers": 22, "num_key_value_heads": 4, "rms_norm_eps": 1e-05, "rope_scaling": None,
          "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
          "transformers_version": "4.35.0", "use_cache": True, "vocab_size": 32000}
    minimal = {"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
               "num_attention_heads": 2, "vocab_size": 10}
    def edit(base, **changes):
        out = dict(base)
        out.update(changes)
        return json.dumps(out, indent=2) + "\n"
    return {
        "v5_rope_parameters.json": json.dumps(v5, indent=2) + "\n",
        "v4_rope_theta.json": json.dumps(v4, indent=2) + "\n",
        "minimal.json": json.dumps(minimal, separators=(",", ":")),
        "tied_default_rope.json": edit(minimal, tie_word_embeddings=True,
                                       rope_scaling={"rope_type": "default"}, num_key_value_heads=1),
        "bad_rope_scaling.json": edit(v4, rope_scaling={"type": "dynamic", "factor": 2.0}),
        "llama3_rope_scaling.json": edit(v4, rope_theta=500000.0, tie_word_embeddings=True,
                                         rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                                       "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                       "original_max_position_embeddings": 8192}),
        "linear_rope_parameters.json": edit(v5, rope_parameters={"rope_type": "linear", "factor": 2.0,
                                                                 "rope_theta": 10000.0}),
        "qwen2_window.json": edit(v4, model_type="qwen2", architectures=["Qwen2ForCausalLM"], rope_theta=1e6,
                                  use_sliding_window=True, sliding_window=4096, max_window_layers=21),
        "mistral_window.json": edit(v4, model_type="mistral", architectures=["MistralForCausalLM"],
                                    sliding_window=4096, head_dim=64),
        "bad_rope_disagree.json": edit(v5, rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                         "original_max_position_embeddings": 8192}),
        "bad_act.json": edit(minimal, hidden_act="gelu"),
        "bad_gqa.json": edit(minimal, num_key_value_heads=3),
        "bad_types.json": edit(minimal, hidden_size="8", rms_norm_eps=-1, bos_token_id=-1),
        "not_object.json": "[1, 2, 3]",
    }


# ---- TOML run config -------------------------------------------------------------

def toml_config_seeds():
    seeds = {f"example_{p.stem}.toml": p.read_bytes() for p in sorted((ROOT / "examples").glob("*.toml"))}
    seeds.update({
        "empty.toml": "",
        "bits.toml": "[encoding]\nbits = 3\nsigned = true\nsaliency = \"magnitude\"\n",
        "linear_stack.toml": "[run]\nworkload = \"linear_stack\"\nmode = \"quantized\"\ntokens = 4\n\n"
                             "[linear_stack]\nsizes = [8, 16, 8]\n",
        "record_lists.toml": "[record]\npopulations = [\"layer0.*\", \"lm_head\"]\n"
                             "trace_populations = ['layer1.attn.q']\ntrace_neurons = 2\ncompression = 0\n",
        "inline_tables.toml": "run = { tokens = 2, seed = 7 }\nenergy.preset = \"loihi\"\n"
                              "energy.memory = \"sram\"\n",
        "overrides.toml": "[run]\ntokens = 4\n\0encoding.bits=3\nrun.mode=dense\n"
                          "record.populations=layer0.*,lm_head\nlinear_stack.sizes=[4, 4]\n",
        "bad_overrides.toml": "\0encoding=3\nencoding.bitz=2\nrun.tokens=\"x\"\n=1\nrun.threads=999\n",
        "bad_key.toml": "[encoding]\nbitz = 4\n[nosuch]\nx = 1\n",
        "bad_range.toml": "[encoding]\nbits = 40\nlow_p = 1.5\n[generated]\nheads = 3\n",
        "bad_syntax.toml": "[run\ntokens = = 4\n",
        "unicode.toml": "[input]\nprompt = \"Ünïcödé \\u00e9 \\U0001F600 tab\\tend\"\n"
                        "token_file = '''multi\nline'''\n",
    })
    return seeds


# ---- dictionaries ----------------------------------------------------------------

def write_dict(name, tokens):
    folder = FUZZ / "dict"
    folder.mkdir(exist_ok=True)
    lines = [f"# Generated by fuzz/make_corpus.py: {name}"]
    for t in sorted(set(tokens)):
        escaped = "".join(c if 0x20 <= ord(c) < 0x7f and c not in '"\\' else f"\\x{ord(c):02x}" for c in t)
        lines.append(f'"{escaped}"')
    (folder / name).write_text("\n".join(lines) + "\n")
    print(f"fuzz/dict/{name}: {len(lines) - 1} tokens")


def json_tokens():
    keys = ["__metadata__", "dtype", "shape", "data_offsets", "format", "pt",
            "architectures", "LlamaForCausalLM", "model_type", "llama", "hidden_size", "intermediate_size",
            "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "vocab_size", "head_dim",
            "rope_theta", "rope_parameters", "rope_type", "rope_scaling", "type", "default", "linear",
            "rms_norm_eps", "max_position_embeddings", "bos_token_id", "eos_token_id",
            "tie_word_embeddings", "hidden_act", "silu", "attention_bias", "mlp_bias",
            "llama3", "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings",
            "mistral", "qwen2", "MistralForCausalLM", "Qwen2ForCausalLM", "sliding_window",
            "use_sliding_window", "max_window_layers", "layer_types", "full_attention", "sliding_attention",
            "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "U16", "U32", "U64",
            "F8_E4M3", "F8_E5M2"]
    syntax = ["{", "}", "[", "]", ":", ",", "true", "false", "null", "-0", "1e-05", "1e400",
              "18446744073709551615", "18446744073709551616", "-9223372036854775808", "9223372036854775807",
              "2147483648", "1048576", "\\u0000", "\\ud800", "\"\"", "0.0"]
    return [f'"{k}"' for k in keys] + syntax


def toml_tokens():
    schema = (ROOT / "io" / "config" / "config_schema.cpp").read_text()
    keys = re.findall(r'\(\s*"([a-z_]+\.[a-z_]+)"', schema)
    choices = re.findall(r'"([a-z0-9_]+)"', " ".join(re.findall(r"\{(\"[^{}]*\")\}", schema)))
    if len(keys) < 20:
        raise SystemExit(f"found only {len(keys)} keys in io/config/config_schema.cpp: update the pattern")
    tokens = []
    for key in keys:
        section, leaf = key.split(".")
        tokens += [f"[{section}]", f"{leaf} = ", key, f"{key}="]
    tokens += [f'"{c}"' for c in choices] + choices
    tokens += ["[[", "]]", "=", "\"\"\"", "'''", "true", "false", "inf", "nan", "-inf", "1e400", "0x7f",
               "0o17", "0b1", "1_000", "1979-05-27T07:32:00Z", "9223372036854775807",
               "-9223372036854775808", "9223372036854775808", "\\u00e9", "\\U0001F600", "#", "{", "}", ",",
               "\x00"]
    return tokens


def main():
    write_corpus("fuzz_safetensors", safetensors_seeds())
    write_corpus("fuzz_llama2c", llama2c_seeds())
    write_corpus("fuzz_hf_config", hf_config_seeds())
    write_corpus("fuzz_toml_config", toml_config_seeds())
    write_dict("json.dict", json_tokens())
    write_dict("toml.dict", toml_tokens())


if __name__ == "__main__":
    main()
