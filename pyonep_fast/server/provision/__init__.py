"""Exosite Provisioning / Fleet Management (spec/provision.md) on the
embedded server: its state (state.py: vendors, models, serial numbers,
content, groups, shares), the endpoints (handlers.py, content.py) and the
form, CSV and range encodings of its wire format (forms.py).

Devices are One Platform clients: provisioning opens after One Platform
and uses its state (`store.onep`)."""
import weakref

from aiohttp import web

from .handlers import Provisioning
from .state import ProvisionState

NAME = "provision"

__all__ = ["NAME", "ProvisionState", "Provisioning", "open_state", "routes", "service_for"]

_services: weakref.WeakKeyDictionary[object, Provisioning] = weakref.WeakKeyDictionary()  # Store -> its Provisioning


def open_state(store):
    state = ProvisionState(store.storage, store.onep)
    store.onep.fountain_extras.append(state.fountain_fields)
    store.onep.on_drop.append(state.clients_dropped)
    return state


def routes(store):
    """Every path under /provision/ goes to one dispatcher (handlers.py)."""
    service = Provisioning(store.onep, store.provision)
    _services[store] = service
    return [web.route("*", "/provision/{tail:.*}", service.dispatch)]


def service_for(store):
    """The Provisioning serving `store` (tests move its clock)."""
    return _services[store]
