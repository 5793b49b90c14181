"""The engine contract, pure Python and below the runtime (``docs/architecture.md`` §6): TensorRT version
facts (:mod:`.versions`), build options (:mod:`.options`) and plans (:mod:`.plan`), the trtexec line
(:mod:`.trtexec`), and the engine sidecar with its load-time check (:mod:`.meta`).

The runtime checks an engine against its sidecar with these modules alone; building one is
:mod:`ran_edge.engine`, a higher layer (it runs export and quantize first).
"""
