"""pyonep_fast: fast drop-in clients for Exosite One Platform, Provisioning,
Scala EXP and AT&T M2X, with an embedded emulator of all four."""
import logging

from .exceptions import OneException, PyonepFastError  # noqa: F401

__version__ = "0.1.0"

# Like urllib3: loggers live under the package name with only a NullHandler;
# applications decide where records go.
logging.getLogger(__name__).addHandler(logging.NullHandler())
