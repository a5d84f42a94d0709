"""Demo data the apps add to portal's demo people (``manage.py demo_data``, development only).

Portal imports no app: each app registers, when it is ready, a loader that receives the demo
people by username and returns a line to print (or an empty string when it added nothing).
Loaders run in the order they were registered, which is the order of INSTALLED_APPS, so an
app's demo data can build on that of the apps listed before it.
"""

from collections.abc import Callable
from typing import Any

DemoLoader = Callable[[dict[str, Any]], str]

_LOADERS: list[DemoLoader] = []


def register_demo(loader: DemoLoader) -> None:
    if loader not in _LOADERS:
        _LOADERS.append(loader)


def demo_loaders() -> list[DemoLoader]:
    return list(_LOADERS)
