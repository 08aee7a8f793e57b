"""Exosite Provisioning / Fleet Management (spec/provision.md) on the
embedded server: its state (state.py: vendors, models, serial numbers,
content, groups, shares), the endpoints (handlers.py, content.py) and the
form, CSV and range encodings of its wire format (forms.py)."""
import weakref

from .handlers import Provisioning
from .state import ProvisionState

__all__ = ["ProvisionState", "Provisioning", "service_for", "setup"]

_services = weakref.WeakKeyDictionary()  # One Platform state -> its Provisioning


def setup(app, store):
    """Adds the provisioning routes and state to the embedded server's app."""
    state = ProvisionState(store.storage, store)
    store.fountain_extras.append(state.fountain_fields)
    store.on_drop.append(state.clients_dropped)
    service = Provisioning(store, state)
    _services[store] = service
    app.router.add_route("*", "/provision/{tail:.*}", service.dispatch)
    return service


def service_for(store):
    """The Provisioning serving `store` (tests move its clock)."""
    return _services[store]
