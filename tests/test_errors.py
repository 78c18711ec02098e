"""One root for speechxl's errors, so that the command reports each as one line."""

import importlib
import inspect
import pkgutil

import speechxl
from speechxl.errors import SpeechxlError


def test_every_speechxl_error_derives_from_one_root():
    classes = set()
    for info in pkgutil.walk_packages(speechxl.__path__, "speechxl."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        classes |= {c for _, c in inspect.getmembers(module, inspect.isclass)
                    if issubclass(c, BaseException) and c.__module__.startswith("speechxl")}
    assert len(classes) >= 5
    assert [c.__name__ for c in classes if not issubclass(c, SpeechxlError)] == []
