"""Scenario settings of a run, kept in the Environment's parsed_options:
a Locust master sends the ones that are not Locust's own to its workers
with every spawn message, so every process runs with the master's."""
import argparse

PREFIX = "pyonep_fast_"


def get(environment, name, default=None):
    parsed = environment.parsed_options
    value = getattr(parsed, PREFIX + name, None) if parsed is not None else None
    return default if value is None else value


def parsed_options(settings, **locust_options):
    """Locust's default options (what its runners read), with `locust_options`
    set, plus `settings` (JSON-able values) under our prefix."""
    from locust import argument_parser

    parser = argument_parser.get_empty_argument_parser()
    argument_parser.setup_parser_arguments(parser)
    namespace = parser.parse_args(args=[])
    if not isinstance(namespace, argparse.Namespace):  # configargparse returns one too
        namespace = argparse.Namespace(**vars(namespace))
    for name, value in locust_options.items():
        setattr(namespace, name, value)
    for name, value in settings.items():
        setattr(namespace, PREFIX + name, value)
    return namespace
