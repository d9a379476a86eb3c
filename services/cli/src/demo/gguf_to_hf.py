"""GGUF checkpoint -> Hugging Face directory, once, for `make demo MODEL=...`.

transformers reads GGUF (with the `gguf` package) and de-quantises it to
float32, but refuses to save a model it loaded that way; copying the weights
into a plain model of the same config makes it an ordinary checkpoint the
worker trains like any other. Offline: nothing is fetched.

usage: python gguf_to_hf.py GGUF_FILE OUT_DIR
"""

import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


def main(gguf_path, out_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    folder, name = os.path.split(os.path.abspath(gguf_path))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    if config.model_type != "llama":
        raise SystemExit(f"{name}: a {config.model_type} model, not LLaMA")
    model = LlamaForCausalLM(config)
    model.load_state_dict(loaded.state_dict())
    tmp = out_dir + ".part"
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, out_dir)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"type": "result", "kind": "gguf-to-hf", "path": out_dir, "params": params}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
