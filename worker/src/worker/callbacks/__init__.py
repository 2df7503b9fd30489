"""Webhook delivery: the callbacks queue's Lambda (`worker.callbacks.main.handler`).

Same package and zip as the worker, its own function, queue, DLQ and role, so a slow or dead
receiver never holds up job processing. See worker/README.md, "Webhooks".
"""
