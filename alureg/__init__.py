"""alureg: the public registry and claims verifier of an aluminium stewardship scheme.

The public API, for the build, the command line and tests alike. Modules are split by
concept: ``loading`` (strict YAML), ``schema``, ``signing`` (eddsa-jcs-2022),
``trust`` (who may sign what), ``rules`` (cross-record), ``status`` (at a date),
``check`` (one pass over everything), ``publish``, ``cli``.
"""

# ruff: noqa: E402 (the compiled modules' folder goes on the path before they are imported)
from . import native

native.use(__path__)  # compiled modules, if made from the sources as they are (alureg/native.py)

from .check import CheckResult, check
from .config import Config, load_config
from .errors import AluregError
from .findings import CODES, Finding, Severity
from .loading import Loaded, load_bytes, load_file, load_text
from .records import Kind, Record, Registry, load_registry
from .signing import KeyPair, create_proof, sign_record, verify_proof
from .status import Status, StatusIndex, certificate_status, claim_status, member_status
from .trust import TrustList, VerificationResult, verify_record

__all__ = [
    "CODES",
    "AluregError",
    "CheckResult",
    "Config",
    "Finding",
    "KeyPair",
    "Kind",
    "Loaded",
    "Record",
    "Registry",
    "Severity",
    "Status",
    "StatusIndex",
    "TrustList",
    "VerificationResult",
    "certificate_status",
    "check",
    "claim_status",
    "create_proof",
    "load_bytes",
    "load_config",
    "load_file",
    "load_registry",
    "load_text",
    "member_status",
    "sign_record",
    "verify_proof",
    "verify_record",
]
