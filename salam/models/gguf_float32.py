"""A float32 copy of a GGUF: the same weights, for llama.cpp runs whose letters must equal transformers'.

llama.cpp multiplies quantised weights by activations it rounds to 8 bits, so near-tied letters can flip
against the transformers engine, which dequantises the same GGUF to float32 on load (84% of the embedded
model's letters agree on the main job's 160 BBQ questions). On a float32 copy its products are float32 and
160/160 agree (``benchmarks/results/engines_agreement.md``), at about a third of the quantised speed.

Written with the ``gguf`` package (its reader, ``quants.dequantize`` and writer, as its own
``gguf_new_metadata`` script copies a file), because llama.cpp's ``llama-quantize`` is a binary of its source
tree that llama-cpp-python does not install.
"""

from __future__ import annotations

from pathlib import Path


def write_float32(source: Path, target: Path) -> None:
    """``source`` with every tensor stored as float32 and the metadata copied (file type: all F32)."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(source))
    writer = gguf.GGUFWriter(str(target), reader.get_field(gguf.Keys.General.ARCHITECTURE).contents())
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # the writer adds these itself
        if field.name == gguf.Keys.General.FILE_TYPE:
            writer.add_file_type(gguf.LlamaFileType.ALL_F32)
            continue
        kind = field.types[0]
        writer.add_key_value(field.name, field.contents(), kind,
                             sub_type=field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None)
    for tensor in reader.tensors:
        array = np.asarray(tensor.data)
        if tensor.tensor_type != gguf.GGMLQuantizationType.F32:
            array = gguf.quants.dequantize(array, tensor.tensor_type)
        writer.add_tensor(tensor.name, array.astype(np.float32, copy=False))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
