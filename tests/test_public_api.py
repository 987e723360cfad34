"""The public surface: every name ``flowpack`` exports resolves, and the seed examples' imports
work with only the import line changed (``from flowpack import Flow, task, Parameter``)."""

from __future__ import annotations

import flowpack


def test_every_exported_name_resolves() -> None:
    for name in flowpack.__all__:
        assert getattr(flowpack, name) is not None, name


def test_the_seed_example_imports() -> None:
    from flowpack import Flow, Parameter, task

    @task
    def double(x: int) -> int:
        return 2 * x

    with Flow("params") as flow:
        x = Parameter("x", default=4)
        doubled = double(x)
    result = flow.run(parameters={"x": 5})
    assert result[doubled] == 10
