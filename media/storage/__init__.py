"""Object storage behind one small interface: a local folder (embedded default) or S3 / MinIO.

- ``interface``: the ``Storage`` base class, keys and their rules, upload parts, object info, errors;
- ``local``: the local-folder backend (objects as files, presigned URLs pointing at the app);
- ``signing``: the HMAC-signed URLs of the local backend;
- ``s3``: the S3 / MinIO backend (``minio`` SDK);
- ``config``: ``storage_from_config``, the backend the ``LMS_*`` settings name.
"""

from media.storage.config import storage_from_config
from media.storage.interface import (
    DEFAULT_CONTENT_TYPE,
    InvalidKeyError,
    ObjectInfo,
    ObjectNotFoundError,
    SignatureError,
    Storage,
    StorageError,
    UploadedPart,
    UploadError,
    validate_key,
    validate_prefix,
)
from media.storage.local import LocalStorage
from media.storage.s3 import S3Storage
from media.storage.signing import sign_local_url, verify_local_url

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "InvalidKeyError",
    "LocalStorage",
    "ObjectInfo",
    "ObjectNotFoundError",
    "S3Storage",
    "SignatureError",
    "Storage",
    "StorageError",
    "UploadError",
    "UploadedPart",
    "sign_local_url",
    "storage_from_config",
    "validate_key",
    "validate_prefix",
    "verify_local_url",
]
