"""exp_sdk.exp (spec/exp.md 1.2-1.4): start() and stop() (the package
re-exports them, as upstream's does), the Exp instance start() returns, and
the internal Sdk it drives (options, authenticator, api, network)."""
import logging
import threading

from . import api, exceptions
from .authenticator import Authenticator
from .exceptions import RuntimeError
from .network import Network

logger = logging.getLogger("exp-sdk")

instances: list["Exp"] = []  # every started, not yet stopped Exp (exp_sdk.stop() stops them all)
_instances_lock = threading.Lock()


DEFAULT_HOST = "https://api.goexp.io"


def _authentication_type(options):
    """The credential kind the options name (spec 1.2), or RuntimeError."""
    kind = options.get("type")
    if kind == "user" or (kind is None and (options.get("username") or options.get("password")
                                            or options.get("organization"))):
        if not options.get("username"):
            raise RuntimeError("Please specify the username.")
        if not options.get("password"):
            raise RuntimeError("Please specify the password.")
        if not options.get("organization"):
            raise RuntimeError("Please specify the organization.")
        return "user"
    if kind == "device" or (kind is None and (options.get("secret") or options.get("allow_pairing"))):
        if not options.get("uuid") and not options.get("allow_pairing"):
            raise RuntimeError("Please specify the device uuid.")
        if not options.get("secret") and not options.get("allow_pairing"):
            raise RuntimeError("Please specify the device secret.")
        return "device"
    if kind == "consumer_app" or (kind is None and options.get("api_key")):
        if not options.get("uuid"):
            raise RuntimeError("Please specify the consumer app uuid.")
        if not options.get("api_key"):
            raise RuntimeError("Please specify the consumer app api key.")
        return "consumer_app"
    raise RuntimeError("Please specify authentication type.")


def start(enable_network=True, host=DEFAULT_HOST, **options):
    """A started, authenticated Exp instance (spec 1.2)."""
    options["host"] = host
    options["enable_network"] = enable_network
    options["type"] = _authentication_type(options)
    sdk = Sdk(**options)
    if enable_network:
        sdk.network.start()
    instance = Exp(sdk)
    with _instances_lock:
        instances.append(instance)
    instance.get_auth()
    return instance


def stop():
    """Stops every running instance."""
    with _instances_lock:
        running = list(instances)
    for instance in running:
        try:
            instance.stop()
        except RuntimeError:  # stopped meanwhile by another thread
            pass


class Sdk:
    """What an instance holds: the live `options` dict (re-read at every
    login), and its authenticator, api and network."""

    def __init__(self, **options):
        self.options = options
        self.logger = logger
        self.exceptions = exceptions
        self.api = api.Api(self, options.get("transport_options"))
        self.authenticator = Authenticator(self)
        self.network = Network(self)


class Exp:
    def __init__(self, sdk):
        self.__sdk = sdk
        self.__stop_lock = threading.Lock()

    @property
    def _sdk(self):
        sdk = self.__sdk
        if sdk is None:
            raise RuntimeError("This SDK instance is stopped.")
        return sdk

    def stop(self):
        """Closes the socket (done when this returns; the shared network
        thread ends with the last instance) and the connections; every later
        use raises RuntimeError."""
        with self.__stop_lock:
            sdk = self._sdk
            self.__sdk = None
        with _instances_lock:
            if self in instances:
                instances.remove(self)
        sdk.network.stop()
        sdk.api.close()

    def get_auth(self):
        """The live auth payload (logging in or refreshing first when due)."""
        return self._sdk.authenticator.get_auth()

    @property
    def is_connected(self):
        return self._sdk.network.is_connected

    def get_channel(self, name, system=False, consumer=False):
        return self._sdk.network.get_channel(name, system=system, consumer=consumer)

    # --- raw calls ---------------------------------------------------------------
    def get(self, path, params=None, timeout=10):
        return self._sdk.api.get(path, params=params, timeout=timeout)

    def post(self, path, payload=None, params=None, timeout=10):
        return self._sdk.api.post(path, payload, params=params, timeout=timeout)

    def patch(self, path, payload=None, params=None, timeout=10):
        return self._sdk.api.patch(path, payload, params=params, timeout=timeout)

    def put(self, path, payload=None, params=None, timeout=10):
        return self._sdk.api.put(path, payload, params=params, timeout=timeout)

    def delete(self, path, payload=None, params=None, timeout=10):
        return self._sdk.api.delete(path, payload, params=params, timeout=timeout)

    # --- devices ---------------------------------------------------------------------
    def get_device(self, uuid=None):
        return api.Device.get(uuid, self._sdk)

    def find_devices(self, params=None):
        return api.Device.find(params, self._sdk)

    def create_device(self, document=None):
        return api.Device.create(document, self._sdk)

    def delete_device(self, uuid=None):
        return api.Device.delete_(uuid, self._sdk)

    def get_current_device(self):
        return api.Device.get_current(self._sdk)

    # --- things ------------------------------------------------------------------------
    def get_thing(self, uuid=None):
        return api.Thing.get(uuid, self._sdk)

    def find_things(self, params=None):
        return api.Thing.find(params, self._sdk)

    def create_thing(self, document=None):
        return api.Thing.create(document, self._sdk)

    def delete_thing(self, uuid=None):
        return api.Thing.delete_(uuid, self._sdk)

    # --- experiences -------------------------------------------------------------------
    def get_experience(self, uuid=None):
        return api.Experience.get(uuid, self._sdk)

    def find_experiences(self, params=None):
        return api.Experience.find(params, self._sdk)

    def create_experience(self, document=None):
        return api.Experience.create(document, self._sdk)

    def delete_experience(self, uuid=None):
        return api.Experience.delete_(uuid, self._sdk)

    def get_current_experience(self):
        return api.Experience.get_current(self._sdk)

    # --- locations and zones -------------------------------------------------------------
    def get_location(self, uuid=None):
        return api.Location.get(uuid, self._sdk)

    def find_locations(self, params=None):
        return api.Location.find(params, self._sdk)

    def create_location(self, document=None):
        return api.Location.create(document, self._sdk)

    def delete_location(self, uuid=None):
        return api.Location.delete_(uuid, self._sdk)

    def get_current_location(self):
        return api.Location.get_current(self._sdk)

    def get_current_zones(self):
        return api.Zone.get_current(self._sdk)

    # --- feeds ---------------------------------------------------------------------------
    def get_feed(self, uuid=None):
        return api.Feed.get(uuid, self._sdk)

    def find_feeds(self, params=None):
        return api.Feed.find(params, self._sdk)

    def create_feed(self, document=None):
        return api.Feed.create(document, self._sdk)

    def delete_feed(self, uuid=None):
        return api.Feed.delete_(uuid, self._sdk)

    # --- content -------------------------------------------------------------------------
    def get_content(self, uuid=None):
        return api.Content.get(uuid, self._sdk)

    def find_content(self, params=None):
        return api.Content.find(params, self._sdk)

    # --- data ----------------------------------------------------------------------------
    def get_data(self, group="default", key=None):
        return api.Data.get(group, key, self._sdk)

    def find_data(self, params=None):
        return api.Data.find(params, self._sdk)

    def create_data(self, group=None, key=None, value=None):
        return api.Data.create(group, key, value, self._sdk)

    def delete_data(self, group=None, key=None):
        api.Data.delete_(group, key, self._sdk)
