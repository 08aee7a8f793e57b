"""The upstream clients pyonep_fast stands in for, one row each: the table that
`compat` (import names) and `transport` (hosted hosts to redirect) read.
"""
from typing import NamedTuple


class Upstream(NamedTuple):
    """What pyonep_fast stands in for, of one upstream client package."""

    #: Upstream module name -> ours, imported when first asked for.
    modules: dict
    #: Attributes of the upstream package: name -> (our module, attribute),
    #: looked up when first asked for.
    attributes: dict
    #: Plain values set on the upstream package (its version).
    constants: dict
    #: The hosted service's hosts (subdomains included) that a URL redirects.
    hosts: tuple


#: One row per upstream client, keyed by its package name.
UPSTREAMS = {
    "pyonep": Upstream(
        modules={
            "pyonep.onep": "pyonep_fast.onep",
            "pyonep.exceptions": "pyonep_fast.exceptions",
            "pyonep.provision": "pyonep_fast.provision",
            "pyonep.datastore": "pyonep_fast.datastore",
        },
        attributes={
            "OnepV1": ("pyonep_fast.onep", "OnepV1"),
            "DeferredRequests": ("pyonep_fast.onep", "DeferredRequests"),
            "Provision": ("pyonep_fast.provision", "Provision"),
        },
        constants={"__version__": "0.13.8"},
        hosts=("m2.exosite.com",),
    ),
    "m2x": Upstream(
        # the package holds only `version`; every module path maps one to one
        modules={f"m2x.{name}": f"pyonep_fast.m2x.{name}" for name in (
            "client", "api", "utils", "errors", "v2", "v2.api", "v2.resource", "v2.devices", "v2.streams",
            "v2.distributions", "v2.collections", "v2.keys", "v2.jobs", "v2.commands", "v2.metadata",
            "tests", "tests.common")},
        attributes={},
        constants={"version": "5.5.0"},
        hosts=("api-m2x.att.com",),
    ),
    "exp_sdk": Upstream(
        modules={f"exp_sdk.{name}": f"pyonep_fast.exp.{name}"
                 for name in ("api", "exp", "authenticator", "network", "exceptions")},
        attributes={name: ("pyonep_fast.exp", name)
                    for name in ("start", "stop", "ExpError", "AuthenticationError", "UnexpectedError",
                                 "RuntimeError", "ApiError", "NetworkError")},
        constants={},
        hosts=("api.goexp.io",),
    ),
}


def hosted_hosts():
    """Every upstream's hosted hosts."""
    return [host for upstream in UPSTREAMS.values() for host in upstream.hosts]
