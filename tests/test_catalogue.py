"""The Keras catalogue (docs/keras_catalogue.md) is current, and a Keras name lstmkit lacks
raises an error that says so and points there."""

import importlib.util
import os
import re

import keras
import pytest

import lstmkit
from lstmkit.catalogue import UNSUPPORTED, NotSupportedError, NotSupportedImportError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location(
    "keras_catalogue", os.path.join(ROOT, "tools", "keras_catalogue.py")
)
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def page_entries():
    """namespace -> {name: 'supported' | 'not supported'} as the page says."""
    entries, ns = {}, None
    for line in open(os.path.join(ROOT, "docs", "keras_catalogue.md"), encoding="utf-8"):
        if m := re.match(r"## `keras\.?(\w*)`", line):
            ns = m.group(1)
            entries[ns] = {}
        elif ns is not None and (m := re.match(r"\| `(\w+)` \| (supported|not supported) \|",
                                               line)):  # fmt: skip
            entries[ns][m.group(1)] = m.group(2)
    return entries


def test_page_lists_every_keras_name_and_what_lstmkit_has():
    """If this fails after adding a name: `PYTHONPATH=. python tools/keras_catalogue.py`."""
    entries = page_entries()
    assert set(entries) == set(tool.NAMESPACES)
    for ns in tool.NAMESPACES:
        keras_module = getattr(keras, ns) if ns else keras
        ours = getattr(lstmkit, ns) if ns else lstmkit
        public = {n for n in dir(keras_module) if not n.startswith("_")} - tool.SKIP.get(ns, set())
        assert set(entries[ns]) == public, f"keras.{ns}: the page is out of date"
        for name, status in entries[ns].items():
            assert (status == "supported") == hasattr(ours, name), f"keras.{ns}.{name}: {status}"
            assert (status == "not supported") == (name in UNSUPPORTED[ns])
    version, cat = tool.catalogue()  # and the generator's files are exactly what it would write
    assert open(tool.DATA, encoding="utf-8").read() == tool.render_data(version, cat)
    assert open(tool.PAGE, encoding="utf-8").read() == tool.render_page(version, cat)


@pytest.mark.parametrize("ns", ["layers", "utils", "callbacks", "", "losses", "metrics"])
def test_unsupported_keras_name_says_so_and_points_to_the_page(ns):
    if not UNSUPPORTED[ns]:
        pytest.skip(f"keras.{ns} is fully supported")
    module = getattr(lstmkit, ns) if ns else lstmkit
    name = sorted(UNSUPPORTED[ns])[0]
    with pytest.raises(NotSupportedError, match=r"is not supported by lstmkit.*keras_catalogue.md"):
        getattr(module, name)
    assert not hasattr(module, name) and getattr(module, name, None) is None
    with pytest.raises(AttributeError) as info:
        module.NotAKerasName  # noqa: B018
    assert type(info.value) is AttributeError and "has no attribute 'NotAKerasName'" in str(
        info.value
    )


def test_from_import_of_an_unsupported_name_says_so():
    name = sorted(UNSUPPORTED["layers"])[0]
    with pytest.raises(NotSupportedImportError, match=f"keras.layers.{name} is not supported"):
        exec(f"from lstmkit.layers import {name}")
    with pytest.raises(ImportError, match="cannot import name 'NotAKerasName'"):
        exec("from lstmkit.layers import NotAKerasName")
    from lstmkit.layers import LSTM, core  # names and submodules still import

    assert LSTM.__name__ == "LSTM" and core.__name__ == "lstmkit.layers.core"
