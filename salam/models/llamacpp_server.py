"""``python -m salam.models.llamacpp_server ARGS``: llama-cpp-python's OpenAI-compatible server (the same ARGS as
``python -m llama_cpp.server``) with :mod:`salam.models.llamacpp_amx`'s workaround, so a quantised GGUF serves on
AMX CPUs too."""

from __future__ import annotations


def main() -> None:
    from llama_cpp.server.__main__ import main as serve

    from salam.models.llamacpp_amx import plain_cpu_buffers

    with plain_cpu_buffers():  # the server loads its model inside, before it starts listening
        serve()


if __name__ == "__main__":
    main()
