"""The one private name of Prefect this package uses, pinned: if Prefect renames or changes it,
this fails loudly (and ``prefect/cache.py`` must change with it)."""

import inspect

from prefect import cache_policies


def test_register_stable_transforms_still_exists_and_registers_transforms():
    register = cache_policies._register_stable_transforms
    assert inspect.signature(register).parameters == {}  # called with no arguments
    assert isinstance(cache_policies.STABLE_TRANSFORMS, dict)
    register()
    assert cache_policies.STABLE_TRANSFORMS  # it fills Prefect's table of stable transforms
