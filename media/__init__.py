"""Media for 이음: object storage adapters, ffmpeg helpers, probing, the worker and recordings.

Submodules are imported explicitly (``from media.storage import storage_from_config``) so that
importing the package never pulls in an SDK or opens a connection.
"""
