"""Serving models on the device (the ``serve`` extra: Starlette on uvicorn, prometheus-client): the Open
Inference Protocol (KServe v2, as Triton serves it) over HTTP for every served model, and task endpoints on
top (``/TASK/PATH``, a runtime class's ``serve_routes``). ``edgeward serve MODEL...`` runs it; ``build_app`` gives the ASGI app.

Imports core, devices and the runtime only, never TensorFlow; the base runtime install does not need it.
"""
